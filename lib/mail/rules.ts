// Time filter: rules that let a camera (or a whole agent) mail only inside some time-of-day windows,
// e.g. the outdoor IR camera only between 22:00 and 06:00. Events that no rule matches always mail.
import { FieldError } from '../errors';
import { activeWindow, parseWindow, parseWindowText, type Window, type WindowSpec } from '../schedule';

export interface RuleSpec {
  match?: { agent?: string; camera?: string };
  windows: (string | WindowSpec)[]; // "22:00-06:00" (optionally " Mon,Tue") or { start, end, days }
}

export interface Rule {
  agent: string | null;
  camera: string | null;
  windows: Window[];
}

function prefixed<T>(at: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof FieldError) throw new FieldError(`${at}.${err.field}`, err.value, err.reason);
    throw err;
  }
}

function optionalName(value: unknown, field: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw new FieldError(field, value, 'expected a name (text) or nothing');
  return value.trim() || null;
}

export function parseRules(specs: unknown): Rule[] {
  if (specs === undefined || specs === null || specs === '') return [];
  if (!Array.isArray(specs)) throw new FieldError('rules', specs, 'expected a list of { match: { agent, camera }, windows }');
  return specs.map((spec: RuleSpec, i) => {
    const at = `rules[${i}]`;
    if (spec === null || typeof spec !== 'object') throw new FieldError(at, spec, 'expected { match: { agent, camera }, windows }');
    const match = spec.match ?? {};
    const agent = optionalName(match.agent, `${at}.match.agent`);
    const camera = optionalName(match.camera, `${at}.match.camera`);
    if (!Array.isArray(spec.windows) || spec.windows.length === 0) {
      throw new FieldError(`${at}.windows`, spec.windows, 'expected at least one window such as "22:00-06:00"');
    }
    const windows = spec.windows.map((w, j) => prefixed(at, () => (typeof w === 'string' ? parseWindowText(w, j) : parseWindow(w, j))));
    return { agent, camera, windows };
  });
}

/** The rule that governs an event: the most specific match (agent and camera > one of them > none), first in list order on a tie. */
export function ruleFor(rules: readonly Rule[], agent: string, camera: string): Rule | null {
  let best: Rule | null = null;
  let bestScore = -1;
  for (const r of rules) {
    if ((r.agent !== null && r.agent !== agent) || (r.camera !== null && r.camera !== camera)) continue;
    const score = (r.agent !== null ? 1 : 0) + (r.camera !== null ? 1 : 0);
    if (score > bestScore) {
      best = r;
      bestScore = score;
    }
  }
  return best;
}

/** Whether an event from agent/camera at local time `at` may be mailed. */
export function mailAllowed(rules: readonly Rule[], agent: string, camera: string, at: Date): boolean {
  const rule = ruleFor(rules, agent, camera);
  return rule === null || activeWindow(rule.windows, at) !== null;
}
