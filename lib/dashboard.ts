// The dashboard's model: its options (validated), one card per device, the order of the cards and the
// presence list. Pure: the hub's dashboard routes feed it the registry and the clock.
import { FieldError } from './errors';
import { classify, parseThresholds, type HealthLevel, type Thresholds } from './health';
import type { Override, Reason, Surveillance } from './policy';
import type { MotionStatus } from './protocol';
import type { AgentEntry, Transport } from './registry';

/** Who may read the dashboard: anyone, whoever signed in, or whoever Node-RED's httpNodeAuth lets in. */
export type ViewAccess = 'open' | 'password' | 'node-red';
export type SortOrder = 'name' | 'arrival';
export type MissingAction = 'hide' | 'show';

export interface DashboardOptions {
  enabled: boolean;
  title: string;
  access: ViewAccess;
  serverFirst: boolean;
  sort: SortOrder;
  thresholds: Thresholds;
  onMissing: MissingAction;
  stylesheet: string | null; // a file path, relative to Node-RED's user directory
  template: string | null;
}

export const DEFAULT_TITLE = 'DMS3';
const MAX_TITLE = 80;

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new FieldError(field, value, `expected ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
}

function flag(field: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new FieldError(field, value, 'expected true or false');
}

function path(field: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new FieldError(field, value, 'expected a file path');
  const p = value.trim();
  if (p.includes('\0')) throw new FieldError(field, value, 'not a file path');
  return p === '' ? null : p;
}

/** Reads the dashboard fields of the hub's config; a missing field takes its default (older flows have none). */
export function parseDashboardOptions(raw: Record<string, unknown>): DashboardOptions {
  const title = raw.title === undefined || raw.title === null ? '' : raw.title;
  if (typeof title !== 'string' || title.length > MAX_TITLE) throw new FieldError('title', raw.title, `expected text of at most ${MAX_TITLE} characters`);
  return {
    enabled: flag('dashboard', raw.dashboard, true),
    title: title.trim() || DEFAULT_TITLE,
    access: oneOf('access', raw.access, ['open', 'password', 'node-red'] as const, 'password'),
    serverFirst: flag('serverFirst', raw.serverFirst, true),
    sort: oneOf('sort', raw.sort, ['name', 'arrival'] as const, 'name'),
    thresholds: parseThresholds(raw),
    onMissing: oneOf('onMissing', raw.onMissing, ['hide', 'show'] as const, 'hide'),
    stylesheet: path('stylesheet', raw.stylesheet),
    template: path('template', raw.template),
  };
}

/** What both kinds of card show about their machine. */
interface MachineFacts {
  id: string;
  name: string;
  hostname: string;
  platform: string;
  arch: string;
  osRelease: string;
  kernel: string;
  uptime: number; // seconds, as of uptimeAt
  uptimeAt: string; // ISO 8601
  health: HealthLevel;
}

export interface AgentCard extends MachineFacts {
  kind: 'agent';
  agentVersion: string;
  motion: MotionStatus;
  applied: Surveillance | null;
  events: number;
  lastReport: string;
  connected: boolean;
  transport: Transport;
  error: string | null;
}

export interface PresenceDevice {
  name: string;
  present: boolean | null;
}

export interface ServerCard extends MachineFacts {
  kind: 'server';
  version: string; // of this package
  nodeRed: string;
  agents: { total: number; connected: number };
  state: { state: Surveillance; reason: Reason; since: string; override: Override } | null;
  presence: PresenceDevice[];
}

export type Card = AgentCard | ServerCard;

export const SERVER_ID = 'server';

export function agentId(name: string): string {
  return `agent:${name}`;
}

export function agentCard(a: AgentEntry, now: number, t: Thresholds): AgentCard {
  return {
    id: agentId(a.name),
    kind: 'agent',
    name: a.name,
    hostname: a.hostname,
    platform: a.platform,
    arch: a.arch,
    osRelease: a.osRelease,
    kernel: a.kernel,
    uptime: a.uptime,
    uptimeAt: a.lastReport,
    health: classify(a.lastReport, now, t),
    agentVersion: a.agentVersion,
    motion: a.motion,
    applied: a.applied,
    events: a.events,
    lastReport: a.lastReport,
    connected: a.connected,
    transport: a.transport,
    error: a.error,
  };
}

export function isShown(health: HealthLevel, onMissing: MissingAction): boolean {
  return health !== 'missing' || onMissing === 'show';
}

const collator = new Intl.Collator('en', { sensitivity: 'base', numeric: true });

/**
 * The ids of the cards in display order. `cards` come in arrival order (the registry's). By name,
 * the server card sorts among the agents unless it goes first; in arrival order it goes first or last.
 */
export function cardOrder(cards: readonly Pick<Card, 'id' | 'kind' | 'name'>[], opts: Pick<DashboardOptions, 'serverFirst' | 'sort'>): string[] {
  const server = cards.filter((c) => c.kind === 'server');
  const agents = cards.filter((c) => c.kind !== 'server');
  const byName = (list: typeof cards) => [...list].sort((a, b) => collator.compare(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  let ordered: (typeof cards)[number][];
  if (opts.serverFirst) ordered = [...server, ...(opts.sort === 'name' ? byName(agents) : agents)];
  else ordered = opts.sort === 'name' ? byName(cards) : [...agents, ...server];
  return ordered.map((c) => c.id);
}

/** One entry per device name across presence sources (LAN scan, Home Assistant): home if any source says so. */
export function mergePresence(devices: readonly PresenceDevice[]): PresenceDevice[] {
  const byName = new Map<string, PresenceDevice>();
  for (const d of devices) {
    const seen = byName.get(d.name);
    if (!seen) byName.set(d.name, { name: d.name, present: d.present });
    else if (d.present === true || (d.present === false && seen.present === null)) seen.present = d.present;
  }
  return [...byName.values()];
}
