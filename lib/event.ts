// One Motion event as it travels through the flow (hook → hub /dms3/event → event node → mail).
// Defined once here; the event node builds it, dms3-mail consumes it.
import { FieldError } from './errors';
import { changedPercent } from './media';

export interface MotionFile {
  name: string; // base name only (never used as a path)
  mime: string; // e.g. "image/jpeg", "video/mp4"
  size: number; // bytes, equals data.length
  data: Buffer;
}

export type EventKind = 'picture' | 'movie';

export interface MotionEvent {
  agent: string; // the agent's id
  hostname: string;
  camera: string; // Motion camera name or id
  eventId: string; // Motion's event id; agent + camera + eventId identify one event
  kind: EventKind;
  file: MotionFile;
  pixels?: number | null; // changed pixels (Motion %D)
  width?: number | null; // from the image header
  height?: number | null;
  percent?: number | null; // changed pixels as a percentage (0–100) of width × height
  time: string; // ISO 8601
}

const MIME = /^[\w.+-]+\/[\w.+-]+$/;
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?$/;

// Keep error messages short: a stray Buffer or long text would otherwise be serialised whole.
function brief(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return `<Buffer ${v.length} bytes>`;
  if (typeof v === 'string' && v.length > 80) return `${v.slice(0, 77)}...`;
  if (v !== null && typeof v === 'object') return Array.isArray(v) ? '<array>' : '<object>';
  return v;
}

function text(obj: Record<string, unknown>, key: string, at: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || v.trim() === '') throw new FieldError(`${at}.${key}`, brief(v), 'expected a non-empty string');
  return v;
}

function optionalNumber(obj: Record<string, unknown>, key: string, at: string, check: (n: number) => boolean, reason: string): number | null {
  const v = obj[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) throw new FieldError(`${at}.${key}`, brief(v), reason);
  return v;
}

/** Check a message payload and return it as a MotionEvent; throws a FieldError naming the first bad field. */
export function validateMotionEvent(value: unknown, at = 'msg.payload'): MotionEvent {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Buffer.isBuffer(value)) throw new FieldError(at, brief(value), 'expected a Motion event object');
  const p = value as Record<string, unknown>;
  const agent = text(p, 'agent', at);
  const hostname = text(p, 'hostname', at);
  const camera = text(p, 'camera', at);
  const eventId = text(p, 'eventId', at);
  if (p.kind !== 'picture' && p.kind !== 'movie') throw new FieldError(`${at}.kind`, brief(p.kind), 'expected "picture" or "movie"');
  const f = p.file;
  if (f === null || typeof f !== 'object' || Array.isArray(f)) throw new FieldError(`${at}.file`, brief(f), 'expected { name, mime, size, data }');
  const file = f as Record<string, unknown>;
  const name = text(file, 'name', `${at}.file`);
  const mime = text(file, 'mime', `${at}.file`);
  if (!MIME.test(mime)) throw new FieldError(`${at}.file.mime`, brief(mime), 'not a MIME type like "image/jpeg"');
  if (!Buffer.isBuffer(file.data)) throw new FieldError(`${at}.file.data`, brief(file.data), 'expected a Buffer');
  if (file.size !== file.data.length) throw new FieldError(`${at}.file.size`, brief(file.size), `does not match the data length ${file.data.length}`);
  const pixels = optionalNumber(p, 'pixels', at, (n) => Number.isInteger(n) && n >= 0, 'expected a whole number of pixels ≥ 0');
  const width = optionalNumber(p, 'width', at, (n) => Number.isInteger(n) && n > 0, 'expected a width in pixels > 0');
  const height = optionalNumber(p, 'height', at, (n) => Number.isInteger(n) && n > 0, 'expected a height in pixels > 0');
  const percent = optionalNumber(p, 'percent', at, (n) => n >= 0 && n <= 100, 'expected a percentage from 0 to 100');
  if (typeof p.time !== 'string' || !ISO_TIME.test(p.time) || Number.isNaN(Date.parse(p.time))) throw new FieldError(`${at}.time`, brief(p.time), 'expected an ISO 8601 date-time');
  return {
    agent,
    hostname,
    camera,
    eventId,
    kind: p.kind,
    file: { name, mime, size: file.data.length, data: file.data },
    pixels,
    width,
    height,
    percent,
    time: p.time,
  };
}

/** The share of the frame that changed, in percent, from what the event carries (null when unknown). */
export function eventPercent(ev: Pick<MotionEvent, 'pixels' | 'width' | 'height' | 'percent'>): number | null {
  if (typeof ev.percent === 'number') return ev.percent;
  return changedPercent(ev.pixels ?? null, ev.width ?? null, ev.height ?? null);
}
