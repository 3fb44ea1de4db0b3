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
