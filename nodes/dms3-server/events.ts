// The hub's event endpoint, `POST <base>/event`: an agent's hook uploads one picture or movie (the raw
// body) with its metadata (the query string). Checked, de-duplicated by its Idempotency-Key, counted
// per agent, and handed to the dms3-event nodes bound to the hub. Nothing is written to disk but the keys.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MotionEvent } from '../../lib/event';
import { EVENT_MIMES, EVENT_PATH, IDEMPOTENCY_HEADER, KEY_PATTERN, mediaMismatch, parseEventQuery, toMotionEvent, type EventMeta } from '../../lib/event-upload';
import { FieldError } from '../../lib/errors';
import { sniffMedia } from '../../lib/media';
import type { Registry } from '../../lib/registry';
import type { SeenKeys } from './event-keys';
import { HttpError, sendJson } from './http';
import type { Hub, RouteContext } from './hub';

export const DEFAULT_EVENT_LIMIT_MB = 25;

/** What the flow gets besides the MotionEvent: the upload's id and Motion's facts the payload leaves out. */
export interface EventExtras {
  id: string;
  event: number; // Motion's event number (%v)
  cameraName: string | null;
  noise: number | null;
}
export type EventListener = (event: MotionEvent, extras: EventExtras) => void;

/** The dms3-server node as a dms3-event node gets it: `events` is null when the hub did not start. */
export interface EventsNode {
  events: EventIntake | null;
}

export interface IntakeOptions {
  limitBytes: number;
  keys: SeenKeys;
  registry: Registry;
}

/** Reads the body while counting its bytes; over the limit it stops reading (the socket is closed after the 413). */
function readLimited(req: IncomingMessage & { body?: unknown }, limit: number): Promise<Buffer> {
  // A body parser in settings.js (httpNodeMiddleware) may have read it already.
  if (req.readableEnded) return Buffer.isBuffer(req.body) && req.body.length <= limit ? Promise.resolve(req.body) : Promise.reject(new HttpError(415, 'the body was parsed before the hub saw it (httpNodeMiddleware?)'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err: Error | null) => {
      req.off('data', onData).off('end', onEnd).off('error', onClose).off('close', onClose);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.pause();
      finish(new HttpError(413, `file too large: over ${limit} bytes`));
    };
    const onEnd = () => finish(null);
    // Node reports a client that went away as an error ("aborted"): the client's doing, not the hub's.
    const onClose = () => finish(new HttpError(400, 'upload aborted by the client'));
    req.on('data', onData).once('end', onEnd).once('error', onClose).once('close', onClose);
  });
}

export class EventIntake {
  private readonly listeners = new Set<EventListener>();

  constructor(private readonly opts: IntakeOptions) {}

  /** A dms3-event node takes the hub's events; returns the unbind function. */
  bind(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  readonly handle = async (req: IncomingMessage, res: ServerResponse, { identity }: RouteContext): Promise<void> => {
    let bodyRead = false;
    try {
      const { meta, mime } = this.checkHead(req, identity);
      const key = req.headers[IDEMPOTENCY_HEADER];
      if (key !== undefined && (typeof key !== 'string' || !KEY_PATTERN.test(key))) throw new HttpError(400, new FieldError('Idempotency-Key', key, 'expected 16 to 128 letters, digits, "-" or "_"').message);
      const declared = req.headers['content-length'];
      if (declared !== undefined && Number(declared) > this.opts.limitBytes) throw new HttpError(413, `file too large: ${declared} bytes (limit ${this.opts.limitBytes})`);
      // Before the body is read, so that an agent spools at once rather than uploading in vain.
      if (this.listeners.size === 0) throw new HttpError(503, 'no dms3-event node uses this hub');

      const data = await readLimited(req, this.opts.limitBytes);
      bodyRead = true;
      if (data.length === 0) throw new HttpError(400, 'the body is empty: send the file');
      const media = sniffMedia(data);
      const mismatch = mediaMismatch(meta, mime, media);
      if (mismatch || !media) throw new HttpError(400, mismatch ?? 'not a picture or movie');
      if (typeof key === 'string' && !this.opts.keys.add(key)) return sendJson(res, 200, { duplicate: true });

      const id = randomUUID();
      const event = toMotionEvent(meta, media, data, new Date());
      this.opts.registry.eventReceived(meta.agent);
      const extras: EventExtras = { id, event: meta.event, cameraName: meta.cameraName, noise: meta.noise };
      for (const listener of this.listeners) listener(event, extras);
      sendJson(res, 201, { id, duplicate: false });
    } catch (err) {
      // A refused upload is not read to its end: close the connection rather than drain megabytes.
      if (!bodyRead || (err instanceof HttpError && err.status === 413)) res.setHeader('Connection', 'close');
      throw err;
    }
  };

  /** Everything that can be checked before reading the body: metadata, the token's agent, the content type. */
  private checkHead(req: IncomingMessage, identity: RouteContext['identity']): { meta: EventMeta; mime: string } {
    let meta: EventMeta;
    try {
      meta = parseEventQuery(new URL(req.url ?? '/', 'http://hub').searchParams);
    } catch (err) {
      if (err instanceof FieldError) throw new HttpError(400, err.message);
      throw err;
    }
    if (identity?.kind === 'agent' && identity.name !== meta.agent) throw new HttpError(403, `this token belongs to agent ${JSON.stringify(identity.name)}, not ${JSON.stringify(meta.agent)}`);
    const type = req.headers['content-type'];
    const mime = (type ?? '').split(';')[0].trim().toLowerCase();
    if (!EVENT_MIMES.includes(mime)) throw new HttpError(415, `unsupported Content-Type ${JSON.stringify(type ?? '')}: send the file's own type (${EVENT_MIMES.join(', ')})`);
    return { meta, mime };
  }
}

/** Mounts the endpoint on the hub (agents and the hub token may post); returns the remove function. */
export function addEventRoute(hub: Hub, intake: EventIntake): () => void {
  return hub.route('POST', EVENT_PATH, intake.handle, { access: 'agent' });
}
