// The upload of one event from an agent's hook to the hub (`POST <base>/event`): the file is the raw
// body, the metadata is the query string. One definition for both sides, so that the hook refuses
// what the hub would refuse. Pure: no I/O.
import { createHash } from 'node:crypto';
import { FieldError } from './errors';
import type { EventKind, MotionEvent } from './event';
import { changedPercent, type Media } from './media';

export const EVENT_PATH = '/event';
export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const KEY_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

/** The content types the hub takes: what sniffMedia recognises, and Motion can write. */
export const EVENT_MIMES: readonly string[] = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/bmp', 'video/mp4', 'video/3gpp', 'video/x-matroska', 'video/webm', 'video/x-msvideo', 'video/x-flv'];

export interface EventMeta {
  agent: string;
  hostname: string;
  camera: string;
  cameraName: string | null;
  event: number; // Motion's event number (%v)
  eventId: string | null; // Motion's %{eventid}
  kind: EventKind;
  pixels: number | null;
  noise: number | null;
  time: string | null; // ISO 8601; the hub uses its own clock when absent
  name: string; // a display name (base name only)
}

export const META_FIELDS = ['agent', 'hostname', 'camera', 'cameraName', 'event', 'eventId', 'kind', 'pixels', 'noise', 'time', 'name'] as const;
export type MetaField = (typeof META_FIELDS)[number];
/** Metadata as text (query parameters, command-line values). An empty value counts as absent. */
export type RawMeta = Partial<Record<MetaField, string>>;

const AGENT_NAME = /^[^\s=]{1,64}$/; // as agent tokens name agents
const CONTROL = /\p{Cc}/u;

/**
 * Checks and converts event metadata. `label` names a field in errors the way the caller's user
 * knows it (`pixels` in the query, `--pixels` on the command line).
 */
export function checkEventMeta(raw: RawMeta, label: (field: MetaField) => string = (f) => f): EventMeta {
  const value = (f: MetaField) => (raw[f] === undefined || raw[f] === '' ? null : raw[f]);
  const fail = (f: MetaField, reason: string): never => {
    throw new FieldError(label(f), value(f) ?? '', reason);
  };
  const text = (f: MetaField, max: number): string | null => {
    const v = value(f);
    if (v !== null && (v.length > max || CONTROL.test(v))) fail(f, `expected up to ${max} characters, no control characters`);
    return v;
  };
  const required = (f: MetaField, max: number): string => text(f, max) ?? fail(f, 'missing');
  const whole = (f: MetaField): number | null => {
    const v = value(f);
    if (v === null) return null;
    if (!/^\d{1,12}$/.test(v)) fail(f, 'expected a whole number (0 or more)');
    return Number(v);
  };

  const agent = required('agent', 64);
  if (!AGENT_NAME.test(agent)) fail('agent', 'expected an agent name (up to 64 characters, no spaces or "=")');
  const kind = required('kind', 16);
  if (kind !== 'picture' && kind !== 'movie') fail('kind', 'expected "picture" or "movie"');
  const event = whole('event') ?? fail('event', 'missing');
  let time = text('time', 64);
  if (time !== null) {
    const ms = Date.parse(time);
    if (Number.isNaN(ms)) fail('time', 'expected an ISO 8601 date and time');
    time = new Date(ms).toISOString();
  }
  return {
    agent,
    hostname: text('hostname', 253) ?? agent,
    camera: required('camera', 64),
    cameraName: text('cameraName', 128),
    event,
    eventId: text('eventId', 64),
    kind: kind as EventKind,
    pixels: whole('pixels'),
    noise: whole('noise'),
    time,
    name: displayName(value('name')),
  };
}

/** The metadata as the query string of the upload. */
export function eventQuery(meta: EventMeta): string {
  const q = new URLSearchParams();
  for (const f of META_FIELDS) if (meta[f] !== null) q.set(f, String(meta[f]));
  return q.toString();
}

/** Parses the upload's query string; a repeated parameter is refused rather than guessed at. */
export function parseEventQuery(search: URLSearchParams): EventMeta {
  const raw: RawMeta = {};
  for (const f of META_FIELDS) {
    const all = search.getAll(f);
    if (all.length > 1) throw new FieldError(f, all, 'given more than once');
    if (all.length === 1) raw[f] = all[0];
  }
  return checkEventMeta(raw);
}

/** A file name fit for display only: the last path segment, no control characters, at most 200 characters. */
export function displayName(raw: string | null | undefined): string {
  const base = (raw ?? '').split(/[/\\]/).pop()!.replace(/\p{Cc}/gu, '').trim().slice(-200);
  return base === '' || base === '.' || base === '..' ? 'event' : base;
}

/** The same file of the same event always gets the same key, so that a retried upload is not counted twice. */
export function idempotencyKey(f: { agent: string; camera: string; event: number; path: string; size: number; mtimeMs: number }): string {
  return createHash('sha256').update([f.agent, f.camera, f.event, f.path, f.size, Math.floor(f.mtimeMs)].join('|')).digest('hex');
}

/** Why the bytes do not fit the upload's claims, or null when they do. */
export function mediaMismatch(meta: EventMeta, claimed: string, media: Media | null): string | null {
  if (!media) return `the file is not a picture or movie (claimed ${claimed})`;
  if (media.mime !== claimed) return `the file is ${media.mime}, not the ${claimed} it claims to be`;
  if (media.kind !== meta.kind) return `kind ${JSON.stringify(meta.kind)} does not fit a ${media.mime} file`;
  return null;
}

/** The event for the flow, from checked metadata and the file's bytes. `now` stands in for a missing time. */
export function toMotionEvent(meta: EventMeta, media: Media, data: Buffer, now: Date): MotionEvent {
  const picture = media.kind === 'picture';
  const width = picture ? media.width : null;
  const height = picture ? media.height : null;
  return {
    agent: meta.agent,
    hostname: meta.hostname,
    camera: meta.camera,
    eventId: meta.eventId ?? String(meta.event),
    kind: meta.kind,
    file: { name: meta.name, mime: media.mime, size: data.length, data },
    pixels: meta.pixels,
    width,
    height,
    percent: picture ? changedPercent(meta.pixels, width, height) : null,
    time: meta.time ?? now.toISOString(),
  };
}
