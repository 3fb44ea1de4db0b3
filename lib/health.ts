// How healthy an agent looks from the time since its last report: ok while it reports, "warning"
// when late, "danger" when much later, "missing" after the last threshold. Thresholds are seconds
// and independent of each other (each must exceed the one before).
import { FieldError } from './errors';

export type HealthLevel = 'ok' | 'warning' | 'danger' | 'missing';

export interface Thresholds {
  warning: number; // seconds without a report before "warning"
  danger: number;
  missing: number;
}

/** Suited to agents that report every 15 s: 2 intervals, 8 intervals, a day. */
export const DEFAULT_THRESHOLDS: Thresholds = { warning: 30, danger: 120, missing: 24 * 3600 };

/** Thirty days: beyond that a threshold is almost certainly a typo. */
const MAX_SECONDS = 30 * 24 * 3600;

function seconds(field: string, value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'string' ? Number(value.trim()) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0 || n > MAX_SECONDS) {
    throw new FieldError(field, value, `expected seconds between 0 and ${MAX_SECONDS}`);
  }
  return n;
}

/** Reads thresholds from editor fields (numbers or numeric strings; empty means the default). */
export function parseThresholds(raw: { warning?: unknown; danger?: unknown; missing?: unknown }): Thresholds {
  const t: Thresholds = {
    warning: seconds('warning', raw.warning, DEFAULT_THRESHOLDS.warning),
    danger: seconds('danger', raw.danger, DEFAULT_THRESHOLDS.danger),
    missing: seconds('missing', raw.missing, DEFAULT_THRESHOLDS.missing),
  };
  if (t.danger <= t.warning) throw new FieldError('danger', raw.danger ?? t.danger, `must be more than warning (${t.warning} s)`);
  if (t.missing <= t.danger) throw new FieldError('missing', raw.missing ?? t.missing, `must be more than danger (${t.danger} s)`);
  return t;
}

function ageMs(lastReport: string, now: number): number {
  const at = Date.parse(lastReport);
  return Number.isNaN(at) ? Infinity : Math.max(0, now - at);
}

export function classify(lastReport: string, now: number, t: Thresholds): HealthLevel {
  const age = ageMs(lastReport, now);
  if (age >= t.missing * 1000) return 'missing';
  if (age >= t.danger * 1000) return 'danger';
  if (age >= t.warning * 1000) return 'warning';
  return 'ok';
}

/** Milliseconds until classify() would answer differently without a new report, or null when it never will. */
export function msUntilChange(lastReport: string, now: number, t: Thresholds): number | null {
  const age = ageMs(lastReport, now);
  for (const limit of [t.warning, t.danger, t.missing]) if (age < limit * 1000) return limit * 1000 - age;
  return null;
}
