// Always On windows: local time-of-day ranges that force surveillance on.
// All arithmetic uses the host's local calendar (Date's local getters and constructor), so a
// window edge stays at the same wall-clock time across DST changes.
import { FieldError } from './errors';

export interface WindowSpec {
  start: string; // "HH:MM"
  end: string; // "HH:MM", exclusive; earlier than start means the window crosses midnight
  days?: number[]; // 0 = Sunday … 6 = Saturday: the days on which the window *starts*; empty or absent = every day
}

export interface Window {
  start: number; // minutes after midnight
  end: number;
  days: ReadonlySet<number>;
  label: string; // "23:30–05:00" (plus days when limited)
}

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const TIME = /^([01]?\d|2[0-3]):([0-5]\d)$/;

export function parseTime(field: string, text: unknown): number {
  if (typeof text !== 'string' || !TIME.test(text.trim())) {
    throw new FieldError(field, text, 'not a time of day (HH:MM, 00:00–23:59)');
  }
  const [, h, m] = TIME.exec(text.trim())!;
  return Number(h) * 60 + Number(m);
}

function formatTime(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

export function parseWindow(spec: WindowSpec, index = 0): Window {
  const at = `windows[${index}]`;
  if (spec === null || typeof spec !== 'object') throw new FieldError(at, spec, 'expected { start, end, days }');
  const start = parseTime(`${at}.start`, spec.start);
  const end = parseTime(`${at}.end`, spec.end);
  if (start === end) throw new FieldError(`${at}.end`, spec.end, 'equals the start; a window needs a length');
  const days = spec.days ?? [];
  if (!Array.isArray(days) || days.some((d) => !Number.isInteger(d) || d < 0 || d > 6)) {
    throw new FieldError(`${at}.days`, spec.days, 'expected weekday numbers 0 (Sunday) to 6 (Saturday)');
  }
  const daySet = new Set(days.length === 0 || days.length === 7 ? [0, 1, 2, 3, 4, 5, 6] : days);
  const dayText = daySet.size === 7 ? '' : ` ${[...daySet].sort().map((d) => DAY_NAMES[d]).join(',')}`;
  return { start, end, days: daySet, label: `${formatTime(start)}–${formatTime(end)}${dayText}` };
}

export function parseWindows(specs: unknown): Window[] {
  if (!Array.isArray(specs)) throw new FieldError('windows', specs, 'expected a list of windows');
  return specs.map((s, i) => parseWindow(s as WindowSpec, i));
}

/** Parse the compact text form "23:30-05:00" or "22:00-06:00 Mon,Tue" used in messages and docs. */
export function parseWindowText(text: string, index = 0): Window {
  const m = /^\s*(\S+?)\s*[-–]\s*(\S+)(?:\s+([A-Za-z,]+))?\s*$/.exec(text);
  if (!m) throw new FieldError(`windows[${index}]`, text, 'expected "HH:MM-HH:MM" optionally followed by days, e.g. "Mon,Tue"');
  let days: number[] | undefined;
  if (m[3]) {
    days = m[3].split(',').map((d) => {
      const i = DAY_NAMES.findIndex((n) => n.toLowerCase() === d.slice(0, 3).toLowerCase());
      if (i < 0) throw new FieldError(`windows[${index}].days`, d, 'not a weekday name');
      return i;
    });
  }
  return parseWindow({ start: m[1], end: m[2], days }, index);
}

function minuteOfDay(t: Date): number {
  return t.getHours() * 60 + t.getMinutes();
}

/** The window that holds `now`, or null. */
export function activeWindow(windows: readonly Window[], now: Date): Window | null {
  const minute = minuteOfDay(now);
  const today = now.getDay();
  const yesterday = (today + 6) % 7;
  for (const w of windows) {
    if (w.start < w.end) {
      if (w.days.has(today) && minute >= w.start && minute < w.end) return w;
    } else if ((w.days.has(today) && minute >= w.start) || (w.days.has(yesterday) && minute < w.end)) {
      return w;
    }
  }
  return null;
}

/**
 * The next moment after `now` at which the active/inactive answer changes, or null when it never
 * changes (no windows). Candidates are the window edges on the local calendar; an edge where
 * overlapping windows keep the answer unchanged is skipped.
 */
export function nextChange(windows: readonly Window[], now: Date): Date | null {
  if (windows.length === 0) return null;
  const activeNow = activeWindow(windows, now) !== null;
  const candidates: number[] = [];
  for (let offset = -1; offset <= 8; offset++) {
    for (const w of windows) {
      for (const minute of [w.start, w.end]) {
        const t = new Date(now.getFullYear(), now.getMonth(), now.getDate() + offset, Math.floor(minute / 60), minute % 60);
        if (t.getTime() > now.getTime()) candidates.push(t.getTime());
      }
    }
  }
  candidates.sort((a, b) => a - b);
  for (const c of candidates) {
    if ((activeWindow(windows, new Date(c)) !== null) !== activeNow) return new Date(c);
  }
  return null;
}
