// A MailJob (from the aggregator) → the message to send: subject, HTML with the best picture inline
// (cid:), plain text, and attachments. Pure: templates are compiled by the caller.
import { createHash } from 'node:crypto';
import { eventPercent, type MotionEvent } from '../event';
import type { MailJob } from './aggregate';
import type { Recipient } from './options';
import type { Filler, View } from './template';

/** Every placeholder a template may use (see the README for their meaning). */
export const FIELDS = [
  'subject', 'hostname', 'camera', 'agent', 'eventId', 'time', 'localTime', 'utcOffset',
  'pixels', 'percent', 'width', 'height', 'resolution', 'pictures', 'suppressed', 'capped',
  'image', 'imageSrc', 'imageName', 'attachedPictures',
  'followUp', 'clip', 'clipAttached', 'clipOmitted', 'clipName', 'clipSize', 'maxClipSize',
] as const;
export const FIELD_SET: ReadonlySet<string> = new Set(FIELDS);

export interface Attachment {
  filename: string;
  contentType: string;
  content: Buffer;
  cid?: string; // set for the inline picture
}

export interface OutgoingMail {
  to: Recipient[];
  subject: string;
  html: string;
  text: string;
  attachments: Attachment[];
  // key and events let a restart tell which events are already in a mail.
  meta: { agent: string; camera: string; eventId: string; kind: MailJob['kind']; key?: string; events?: string[] };
}

export interface Templates {
  subject: Filler; // filled without HTML escaping; line breaks are removed
  html: Filler;
  text: Filler;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** "2025-05-01 22:13:05" in the host's time zone. */
export function localTime(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "+02:00" for the host's offset from UTC at `d`. */
export function utcOffset(d: Date): string {
  const m = -d.getTimezoneOffset();
  return `${m < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(m) / 60))}:${pad(Math.abs(m) % 60)}`;
}

export function byteSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

/** A client-supplied file name made safe as an attachment name (never used as a path). */
export function safeName(name: string, fallback: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\x00-\x1f\x7f"<>|:*?]/g, '_').replace(/^\.+/, '').slice(-100);
  return clean || fallback;
}

function percentText(ev: MotionEvent | null): string {
  const p = ev ? eventPercent(ev) : null;
  if (p === null) return '';
  return p > 0 && p < 0.1 ? '<0.1' : p.toFixed(1);
}

export function viewOf(job: MailJob, maxClipBytes: number, imageCid: string): View {
  const shown = job.best ?? job.clip ?? job.first;
  const when = new Date(job.first.time);
  const clipAttached = job.clip !== null && job.clip.file.size <= maxClipBytes;
  return {
    subject: '',
    hostname: job.first.hostname,
    camera: job.first.camera,
    agent: job.first.agent,
    eventId: job.first.eventId,
    time: job.first.time,
    localTime: localTime(when),
    utcOffset: utcOffset(when),
    pixels: typeof shown.pixels === 'number' ? shown.pixels.toLocaleString('en-US') : '',
    percent: percentText(shown),
    width: shown.width ?? null,
    height: shown.height ?? null,
    resolution: shown.width && shown.height ? `${shown.width} × ${shown.height}` : '',
    pictures: job.pictures,
    suppressed: job.suppressed,
    capped: job.capped,
    image: job.best !== null,
    imageSrc: job.best ? `cid:${imageCid}` : '',
    imageName: job.best ? safeName(job.best.file.name, 'picture.jpg') : '',
    attachedPictures: job.extras.length,
    followUp: job.kind === 'clip',
    clip: job.clip !== null,
    clipAttached,
    clipOmitted: job.clip !== null && !clipAttached,
    clipName: job.clip ? safeName(job.clip.file.name, 'clip') : '',
    clipSize: job.clip ? byteSize(job.clip.file.size) : '',
    maxClipSize: byteSize(maxClipBytes),
  };
}

export function composeMail(job: MailJob, templates: Templates, opts: { to: Recipient[]; maxClipBytes: number }): OutgoingMail {
  const cid = `${createHash('sha256').update(job.key).digest('hex').slice(0, 16)}.picture@dms3`;
  const view = viewOf(job, opts.maxClipBytes, cid);
  view.subject = templates.subject.fill(view).replace(/[\r\n]+/g, ' ').trim();
  const attachments: Attachment[] = [];
  if (job.best) attachments.push({ filename: view.imageName as string, contentType: job.best.file.mime, content: job.best.file.data, cid });
  job.extras.forEach((ev, i) => attachments.push({ filename: safeName(ev.file.name, `picture-${i + 2}.jpg`), contentType: ev.file.mime, content: ev.file.data }));
  if (job.clip && view.clipAttached) attachments.push({ filename: view.clipName as string, contentType: job.clip.file.mime, content: job.clip.file.data });
  return {
    to: opts.to,
    subject: view.subject,
    html: templates.html.fill(view),
    text: templates.text.fill(view),
    attachments,
    meta: { agent: job.first.agent, camera: job.first.camera, eventId: job.first.eventId, kind: job.kind, key: job.key, events: job.ids },
  };
}
