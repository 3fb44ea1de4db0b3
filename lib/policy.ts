// The DMS3 policy: surveillance runs when an Always On window is active or nobody is home,
// and stops when someone is home. A manual override beats both; until presence is known the
// configured start-up state holds (default "start": fail-secure).

export type Surveillance = 'start' | 'stop';
export type Override = Surveillance | 'auto';
export type Reason = 'override' | 'always-on' | 'nobody-home' | 'someone-home' | 'startup';

export interface PolicyInput {
  home: boolean | null; // null: not yet known
  alwaysOn: boolean;
  override: Override;
  startup: Surveillance;
}

export interface Decision {
  state: Surveillance;
  reason: Reason;
}

/** What dms3-state emits, the hub serves at /api/state and agents receive. */
export interface StatePayload extends Decision {
  since: string; // ISO 8601: when this state began
  override: Override;
}

export function decide(input: PolicyInput): Decision {
  if (input.override !== 'auto') return { state: input.override, reason: 'override' };
  if (input.alwaysOn) return { state: 'start', reason: 'always-on' };
  if (input.home === false) return { state: 'start', reason: 'nobody-home' };
  if (input.home === true) return { state: 'stop', reason: 'someone-home' };
  return { state: input.startup, reason: 'startup' };
}

/** Several presence sources (LAN scan, Home Assistant): home while any says home. */
export function combineHome(sources: Iterable<boolean | null>): boolean | null {
  let anyFalse = false;
  let anyUnknown = false;
  for (const home of sources) {
    if (home === true) return true;
    if (home === false) anyFalse = true;
    else anyUnknown = true;
  }
  return anyFalse && !anyUnknown ? false : null;
}

export const REASON_TEXT: Record<Reason, string> = {
  override: 'manual override',
  'always-on': 'Always On window',
  'nobody-home': 'nobody home',
  'someone-home': 'someone home',
  startup: 'waiting for presence (start-up state)',
};

export function isOverride(value: unknown): value is Override {
  return value === 'start' || value === 'stop' || value === 'auto';
}

/** What dms3-state keeps across restarts: the override in force and the last decision (for its `since`). */
export interface KeptState {
  override: Override;
  last: StatePayload | null;
}

const REASONS: readonly Reason[] = ['override', 'always-on', 'nobody-home', 'someone-home', 'startup'];

/** A kept state read back from disk (or an old context store), or null when it is not one. */
export function parseKept(value: unknown): KeptState | null {
  if (typeof value !== 'object' || value === null) return null;
  const { override, last } = value as Record<string, unknown>;
  if (!isOverride(override)) return null;
  if (last === null || last === undefined) return { override, last: null };
  const l = last as Record<string, unknown>;
  const ok = (l.state === 'start' || l.state === 'stop') && REASONS.includes(l.reason as Reason) && typeof l.since === 'string' && !Number.isNaN(Date.parse(l.since)) && isOverride(l.override);
  return { override, last: ok ? { state: l.state as Surveillance, reason: l.reason as Reason, since: l.since as string, override: l.override as Override } : null };
}

/**
 * The state node's memory: presence per source, the Always On window, the override, and the decision
 * in force. After a restart only the override is carried over as an input: presence and windows are
 * unknown until their nodes speak again, so the decision is the one `decide` gives for that (the
 * configured start-up state, unless overridden). The kept decision only keeps `since` when the state
 * is the same as before.
 */
export class PolicyState {
  private readonly homeBySource = new Map<string, boolean | null>();
  private alwaysOn = false;
  private mode: Override;
  private current: StatePayload | null;

  constructor(
    readonly startup: Surveillance,
    kept: KeptState | null = null,
  ) {
    this.mode = kept?.override ?? 'auto';
    this.current = kept?.last ?? null;
  }

  get override(): Override {
    return this.mode;
  }

  /** The combined presence, null while unknown (no source yet, or one that does not know). */
  get home(): boolean | null {
    return this.homeBySource.size > 0 ? combineHome(this.homeBySource.values()) : null;
  }

  get input(): PolicyInput {
    return { home: this.home, alwaysOn: this.alwaysOn, override: this.mode, startup: this.startup };
  }

  get kept(): KeptState {
    return { override: this.mode, last: this.current && { ...this.current } };
  }

  setPresence(source: string, home: boolean | null): void {
    this.homeBySource.set(source, home);
  }

  setAlwaysOn(active: boolean): void {
    this.alwaysOn = active;
  }

  setOverride(mode: Override): void {
    this.mode = mode;
  }

  /** The decision for the inputs now, and whether it differs from the one in force (then it is in force). */
  evaluate(now: Date = new Date()): { payload: StatePayload; changed: boolean } {
    const d = decide(this.input);
    const cur = this.current;
    const changed = !cur || d.state !== cur.state || d.reason !== cur.reason || this.mode !== cur.override;
    if (changed) this.current = { state: d.state, reason: d.reason, since: cur && cur.state === d.state ? cur.since : now.toISOString(), override: this.mode };
    return { payload: { ...this.current! }, changed };
  }
}
