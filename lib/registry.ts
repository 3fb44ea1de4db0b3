// The hub's registry of agents: what each Pi last reported, whether it is connected, and what it
// last applied. Every change is an 'agent' event, for the flow (dms3-agents) and the dashboard.
import { EventEmitter } from 'node:events';
import type { Surveillance } from './policy';
import type { AppliedMessage, Health, MotionStatus, NoticeMessage } from './protocol';

export type Transport = 'ws' | 'http';

export interface AgentEntry {
  name: string;
  hostname: string;
  platform: string;
  osRelease: string;
  arch: string;
  kernel: string;
  agentVersion: string;
  uptime: number;
  motion: MotionStatus;
  events: number;
  eventsReceived: number; // motion events the hub accepted from this agent (kept across restarts)
  connected: boolean;
  lastReport: string; // ISO 8601: the last message of any kind from this agent
  applied: Surveillance | null;
  appliedSeq: number | null;
  reportInterval: number;
  transport: Transport;
  address: string;
  error: string | null; // the last apply or Motion failure, cleared by the next successful apply
}

export type AgentEvent =
  | 'connected'
  | 'disconnected'
  | 'health' // a routine report (changes nothing else): for live views, not for alerts
  | 'motion' // Motion's status changed (other than to "failed")
  | 'applied'
  | 'apply-failed'
  | NoticeMessage['event'] // 'server-lost' | 'motion-failed' | 'motion-restarted'
  | 'removed';

export interface AgentChange {
  event: AgentEvent;
  agent: AgentEntry; // a copy, safe to keep
  detail?: string;
}

/** An agent is late when it has not reported for three report intervals (and at least 30 s). */
export function lateAfterMs(entry: Pick<AgentEntry, 'reportInterval'>): number {
  return Math.max(3 * entry.reportInterval, 30) * 1000;
}

export function isLate(entry: Pick<AgentEntry, 'reportInterval' | 'lastReport'>, now = Date.now()): boolean {
  return now - Date.parse(entry.lastReport) > lateAfterMs(entry);
}

/** Agent names the shared hub token may add (agents with their own token are not counted). */
export const DEFAULT_MAX_SHARED_NAMES = 256;

export interface RegistryOptions {
  /** How many names known only through the shared hub token are kept; a new one beyond is refused. */
  maxShared: number;
  /** An agent that is disconnected and silent this long is forgotten (the dashboard's "missing" time). */
  forgetAfterMs: number;
}

/** A new agent name refused because the registry holds as many shared-token names as it may. */
export class RegistryFullError extends Error {
  constructor(readonly limit: number) {
    super(`too many agents on the shared hub token (limit ${limit}); give this agent its own token, or delete agents that are gone`);
    this.name = 'RegistryFullError';
  }
}

export class Registry extends EventEmitter<{ agent: [AgentChange] }> {
  private readonly agents = new Map<string, AgentEntry>();
  // Counts for names with no entry yet: an agent's hook can post events before the agent itself reports.
  // Bounded like the shared names: beyond, the oldest count goes first.
  private readonly received = new Map<string, number>();
  /** Names first seen through the shared hub token (and not since through their own token). */
  private readonly shared = new Set<string>();
  private connectedCount = 0;
  private readonly opts: RegistryOptions;

  constructor(opts: Partial<RegistryOptions> = {}) {
    super();
    this.opts = { maxShared: DEFAULT_MAX_SHARED_NAMES, forgetAfterMs: 24 * 3600_000, ...opts };
  }

  get limits(): RegistryOptions {
    return { ...this.opts };
  }

  get(name: string): AgentEntry | undefined {
    const e = this.agents.get(name);
    return e && { ...e };
  }

  list(): AgentEntry[] {
    return [...this.agents.values()].map((e) => ({ ...e }));
  }

  /** O(1): kept up to date by every change. */
  counts(): { total: number; connected: number } {
    return { total: this.agents.size, connected: this.connectedCount };
  }

  /**
   * A hello or health report. Creates the entry on first sight; `shared` says the agent used the shared
   * hub token, whose new names are capped (RegistryFullError beyond; known names always report).
   */
  report(name: string, health: Health, via: { transport: Transport; address: string; shared?: boolean }, now = new Date()): void {
    const before = this.agents.get(name);
    if (!before && via.shared && this.shared.size >= this.opts.maxShared) throw new RegistryFullError(this.opts.maxShared);
    if (via.shared === false) this.shared.delete(name);
    else if (!before && via.shared) this.shared.add(name);
    const entry: AgentEntry = {
      name,
      hostname: health.hostname,
      platform: health.platform,
      osRelease: health.osRelease,
      arch: health.arch,
      kernel: health.kernel,
      agentVersion: health.agentVersion,
      uptime: health.uptime,
      motion: health.motion,
      events: health.events,
      eventsReceived: before?.eventsReceived ?? this.received.get(name) ?? 0,
      connected: true,
      lastReport: now.toISOString(),
      applied: health.applied,
      // The seq comes only with an "applied" message; it stays while the report agrees with it.
      appliedSeq: before && before.applied === health.applied ? before.appliedSeq : null,
      reportInterval: health.reportInterval,
      transport: via.transport,
      address: via.address,
      error: before?.error ?? null,
    };
    this.agents.set(name, entry);
    this.received.delete(name);
    if (!before?.connected) this.connectedCount++;
    if (!before?.connected) this.emitChange('connected', entry, `via ${via.transport} from ${via.address}`);
    if (before && before.motion !== entry.motion) {
      if (entry.motion === 'failed') this.emitChange('motion-failed', entry, `Motion ${before.motion} → failed`);
      else this.emitChange('motion', entry, `Motion ${before.motion} → ${entry.motion}`);
    }
    this.emitChange('health', entry);
  }

  /** Returns false when the agent is unknown (it must report first). */
  applied(name: string, msg: AppliedMessage, now = new Date()): boolean {
    const entry = this.agents.get(name);
    if (!entry) return false;
    entry.lastReport = now.toISOString();
    entry.motion = msg.motion;
    if (msg.ok) {
      entry.applied = msg.state;
      entry.appliedSeq = msg.seq;
      entry.error = null;
      this.emitChange('applied', entry, `${msg.state} (seq ${msg.seq})`);
    } else {
      entry.error = msg.error ?? `could not apply ${msg.state}`;
      this.emitChange('apply-failed', entry, entry.error);
    }
    return true;
  }

  /** Returns false when the agent is unknown (it must report first). */
  notice(name: string, msg: NoticeMessage, now = new Date()): boolean {
    const entry = this.agents.get(name);
    if (!entry) return false;
    entry.lastReport = now.toISOString();
    if (msg.event === 'motion-failed') {
      entry.motion = 'failed';
      entry.error = msg.text;
    }
    this.emitChange(msg.event, entry, `${msg.text} (at ${msg.at})`);
    return true;
  }

  /** The accepted events per agent, e.g. to keep them across a restart. */
  eventCounts(): Record<string, number> {
    const counts: Record<string, number> = Object.fromEntries(this.received);
    for (const [name, entry] of this.agents) counts[name] = entry.eventsReceived;
    return counts;
  }

  /** Starts an agent's count at an earlier run's figure. */
  seedEventCount(name: string, n: number): void {
    const entry = this.agents.get(name);
    if (entry) entry.eventsReceived = Math.max(entry.eventsReceived, n);
    else if (this.received.has(name) || this.received.size < this.opts.maxShared) this.received.set(name, Math.max(this.received.get(name) ?? 0, n));
  }

  /** Counts one accepted motion event. Emits nothing: events come up to ten a second. */
  eventReceived(name: string): void {
    const entry = this.agents.get(name);
    if (entry) {
      entry.eventsReceived++;
      return;
    }
    const n = (this.received.get(name) ?? 0) + 1;
    if (n === 1 && this.received.size >= this.opts.maxShared) this.received.delete(this.received.keys().next().value as string);
    this.received.set(name, n);
  }

  disconnected(name: string, why: string): void {
    const entry = this.agents.get(name);
    if (!entry?.connected) return;
    entry.connected = false;
    this.connectedCount--;
    this.emitChange('disconnected', entry, why);
  }

  remove(name: string, detail?: string): boolean {
    const entry = this.agents.get(name);
    if (!entry) return false;
    this.agents.delete(name);
    this.received.delete(name);
    this.shared.delete(name);
    if (entry.connected) this.connectedCount--;
    entry.connected = false;
    this.emitChange('removed', entry, detail);
    return true;
  }

  /** Forgets agents that are disconnected and silent past the forget time. O(agents): run it from a timer, not per report. */
  forget(now = Date.now()): string[] {
    const gone: string[] = [];
    for (const e of this.agents.values()) if (!e.connected && now - Date.parse(e.lastReport) >= this.opts.forgetAfterMs) gone.push(e.name);
    for (const name of gone) this.remove(name, `forgotten: no report for ${Math.round((now - Date.parse(this.agents.get(name)!.lastReport)) / 1000)} s`);
    return gone;
  }

  /** Marks connected agents that stopped reporting as disconnected (HTTP agents have no socket to lose). */
  sweep(transport: Transport, now = Date.now()): void {
    for (const e of this.agents.values()) {
      if (e.connected && e.transport === transport && isLate(e, now)) {
        this.disconnected(e.name, `no report for ${Math.round((now - Date.parse(e.lastReport)) / 1000)} s`);
      }
    }
  }

  private emitChange(event: AgentEvent, entry: AgentEntry, detail?: string): void {
    this.emit('agent', detail === undefined ? { event, agent: { ...entry } } : { event, agent: { ...entry }, detail });
  }
}
