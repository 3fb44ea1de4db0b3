// The hub's event endpoint, `POST <base>/event`: an agent's hook uploads one picture or movie (the raw
// body) with its metadata (the query string). Checked, de-duplicated by its Idempotency-Key, counted
// per agent, stored durably (event-store.ts) and only then answered 201, then handed to the dms3-event
// nodes bound to the hub; an event leaves the store when the flow has finished with it (delivery.ts).
// At start the events an earlier run did not finish are delivered again, oldest first.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MotionEvent } from '../../lib/event';
import { EVENT_MIMES, EVENT_PATH, IDEMPOTENCY_HEADER, KEY_PATTERN, mediaMismatch, parseEventQuery, toMotionEvent, type EventMeta } from '../../lib/event-upload';
import { FieldError } from '../../lib/errors';
import { sniffMedia } from '../../lib/media';
import type { Registry } from '../../lib/registry';
import type { DeliveryTracker } from './delivery';
import type { SeenKeys } from './event-keys';
import type { EventStore, StoredEvent } from './event-store';
import { GateClosed, UploadGate, type UploadBounds } from './upload-gate';
import { HttpError, sendJson } from './http';
import type { Hub, RouteContext } from './hub';

export const DEFAULT_EVENT_LIMIT_MB = 25;
export const DEFAULT_PIXEL_LIMIT_MP = 50;


/** What the flow gets besides the MotionEvent: the upload's id and Motion's facts the payload leaves out. */
export interface EventExtras {
  id: string;
  event: number; // Motion's event number (%v)
  cameraName: string | null;
  noise: number | null;
  receivedAt: string; // when the hub accepted it (ISO)
  replay: boolean; // delivered again after a restart: the flow may have seen it before
}
/** `msgid` is the same for every listener: the message's _msgid, by which its delivery is followed. */
export type EventListener = (event: MotionEvent, extras: EventExtras, msgid: string) => void;

/** The dms3-server node as a dms3-event node gets it: `events` is null when the hub did not start. */
export interface EventsNode {
  events: EventIntake | null;
}

export interface IntakeOptions {
  limitBytes: number;
  keys: SeenKeys;
  registry: Registry;
  store: EventStore;
  tracker: DeliveryTracker;
  /** Where the per-agent counts are kept across restarts (null: not kept). */
  countsFile: string | null;
  log: { warn(m: string): void; error(m: string): void };
  /** Pictures larger than this (width × height) are refused. */
  maxPixels?: number;
  bounds?: UploadBounds;
}

const REPLAY_IN_FLIGHT = 64 * 1024 * 1024;
const EXPIRE_EVERY_MS = 3600_000;
const MAX_COUNTED_AGENTS = 1000;

/**
 * Reads the body while counting its bytes; over the limit it stops reading (the socket is closed after
 * the 413). A pause of `idleMs`, or a rate under `minBytesPerSec` once `idleMs` has passed, ends it with 408.
 * `onChunk` may refuse a chunk (the bytes in flight) by throwing.
 */
function readLimited(req: IncomingMessage & { body?: unknown }, limit: number, bounds: UploadBounds, onChunk: (n: number) => void): Promise<Buffer> {
  // A body parser in settings.js (httpNodeMiddleware) may have read it already.
  if (req.readableEnded) return Buffer.isBuffer(req.body) && req.body.length <= limit ? Promise.resolve(req.body) : Promise.reject(new HttpError(415, 'the body was parsed before the hub saw it (httpNodeMiddleware?)'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const started = Date.now();
    let size = 0;
    const finish = (err: Error | null) => {
      clearTimeout(idle);
      clearInterval(rate);
      req.off('data', onData).off('end', onEnd).off('error', onClose).off('close', onClose);
      if (err) {
        req.pause();
        reject(err);
      } else resolve(Buffer.concat(chunks, size));
    };
    const idle = setTimeout(() => finish(new HttpError(408, `upload stalled: no data for ${bounds.idleMs / 1000} s`)), bounds.idleMs);
    // Checked once a second: a body trickled just fast enough to dodge the pause still ends.
    const rate = setInterval(() => {
      const secs = (Date.now() - started) / 1000;
      if (secs * 1000 > bounds.idleMs && size / secs < bounds.minBytesPerSec) finish(new HttpError(408, `upload too slow: ${Math.round(size / secs)} bytes/s (at least ${bounds.minBytesPerSec})`));
    }, 1000);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return finish(new HttpError(413, `file too large: over ${limit} bytes`));
      try {
        onChunk(chunk.length);
      } catch (err) {
        return finish(err as Error);
      }
      chunks.push(chunk);
      idle.refresh();
    };
    const onEnd = () => finish(null);
    // Node reports a client that went away as an error ("aborted"): the client's doing, not the hub's.
    const onClose = () => finish(new HttpError(400, 'upload aborted by the client'));
    req.on('data', onData).once('end', onEnd).once('error', onClose).once('close', onClose);
  });
}

/** A refusal that the agent should retry after `seconds` (its spool keeps the event meanwhile). */
function busy(res: ServerResponse, status: number, message: string, seconds: number): HttpError {
  res.setHeader('Retry-After', String(seconds));
  return new HttpError(status, message);
}

export class EventIntake {
  private readonly listeners = new Set<EventListener>();
  private readonly uploading = new Set<string>(); // keys of uploads being read or stored
  private readonly gate: UploadGate;
  private expiry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: IntakeOptions) {
    this.gate = new UploadGate(opts.bounds);
    // An event stored but not yet finished is still a known upload, whatever the keys file says.
    for (const e of opts.store.pending()) if (e.key) opts.keys.add(e.key);
  }

  /** Uploads being read now, and their bytes so far. */
  get receiving(): { uploads: number; bytes: number } {
    return this.gate.receiving;
  }

  /** A dms3-event node takes the hub's events; returns the unbind function. */
  bind(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Once the flows have started: restore the counts, drop what is too old, deliver what was left. */
  start(): void {
    if (this.closed) return;
    for (const [name, n] of Object.entries(this.readCounts())) this.opts.registry.seedEventCount(name, n);
    const expire = () =>
      this.opts.store.expire().then(
        (old) => old.forEach((e) => this.opts.log.warn(`event ${e.id} (${e.meta.agent}/${e.meta.camera}, ${new Date(e.receivedAt).toISOString()}) dropped: older than the store's age limit and still not finished by the flow`)),
        (err: Error) => this.opts.log.error(`event store: ${err.message}`),
      );
    this.expiry = setInterval(() => void expire(), EXPIRE_EVERY_MS);
    this.expiry.unref();
    // What is too old goes first: it is not delivered again.
    void expire().then(() => this.replay());
  }

  close(): void {
    this.closed = true;
    clearInterval(this.expiry);
  }

  /** Delivers the stored events oldest first, with a bounded amount of their files in memory at once. */
  private async replay(): Promise<void> {
    const waiting = this.opts.store.pending();
    let inFlight = 0;
    const wake: (() => void)[] = [];
    for (const head of waiting) {
      while (inFlight > 0 && inFlight + head.size > REPLAY_IN_FLIGHT) await new Promise<void>((r) => wake.push(r));
      if (this.closed) return;
      if (!this.opts.store.has(head.id)) continue;
      let data: Buffer;
      try {
        data = await this.opts.store.data(head.id);
      } catch (err) {
        this.opts.log.error(`stored event ${head.id} not delivered again: ${(err as Error).message}`);
        continue;
      }
      inFlight += head.size;
      this.deliver(head, data, true, () => {
        inFlight -= head.size;
        wake.shift()?.();
      });
    }
  }

  private deliver(head: StoredEvent, data: Buffer, replay: boolean, finished = () => {}): void {
    const { meta, media } = head;
    const event = toMotionEvent(meta, media, data, new Date(head.receivedAt));
    const extras: EventExtras = { id: head.id, event: meta.event, cameraName: meta.cameraName, noise: meta.noise, receivedAt: new Date(head.receivedAt).toISOString(), replay };
    const msgid = randomBytes(8).toString('hex');
    const following = this.opts.tracker.follow(msgid, () => {
      finished();
      this.opts.store.remove(head.id).catch((err: Error) => this.opts.log.error(`event ${head.id} finished but not removed from the store: ${err.message}`));
    });
    let failed = false;
    for (const listener of this.listeners) {
      try {
        listener(event, extras, msgid);
      } catch (err) {
        failed = true;
        this.opts.log.error(`event ${head.id} not handed to a dms3-event node: ${(err as Error).message}`);
      }
    }
    // A failed hand-over is never finished: the event stays stored and comes again at the next start.
    if (!failed) following.sent();
  }

  readonly handle = async (req: IncomingMessage, res: ServerResponse, { identity }: RouteContext): Promise<void> => {
    let bodyRead = false;
    let claimed: string | null = null;
    try {
      const { meta, mime } = this.checkHead(req, identity);
      const key = req.headers[IDEMPOTENCY_HEADER];
      if (key !== undefined && (typeof key !== 'string' || !KEY_PATTERN.test(key))) throw new HttpError(400, new FieldError('Idempotency-Key', key, 'expected 16 to 128 letters, digits, "-" or "_"').message);
      const declared = req.headers['content-length'];
      // Node's parser checks it already; the byte accounting below must never see NaN.
      if (declared !== undefined && !/^\d{1,15}$/.test(declared)) throw new HttpError(400, new FieldError('Content-Length', declared, 'expected a number of bytes').message);
      if (declared !== undefined && Number(declared) > this.opts.limitBytes) throw new HttpError(413, `file too large: ${declared} bytes (limit ${this.opts.limitBytes})`);
      // Before the body is read, so that an agent spools at once rather than uploading in vain.
      if (this.listeners.size === 0) throw new HttpError(503, 'no dms3-event node uses this hub');
      const full = this.opts.store.refusal(Number(declared ?? 0));
      if (full) throw busy(res, 503, full, 60);
      if (typeof key === 'string') {
        if (this.opts.keys.has(key)) return sendJson(res, 200, { duplicate: true });
        // The same upload twice at once (a retry while the first is still being stored): the agent tries again.
        if (this.uploading.has(key)) throw busy(res, 409, 'this upload is already being received: try again', 5);
        this.uploading.add(key);
        claimed = key;
      }

      let data: Buffer;
      let pass: ReturnType<UploadGate['enter']> | null = null;
      try {
        pass = this.gate.enter(meta.agent, declared === undefined ? undefined : Number(declared));
        data = await readLimited(req, this.opts.limitBytes, this.gate.bounds, pass.count);
      } catch (err) {
        if (err instanceof GateClosed) throw busy(res, err.status, err.message, 5);
        throw err;
      } finally {
        pass?.release();
      }
      bodyRead = true;
      if (data.length === 0) throw new HttpError(400, 'the body is empty: send the file');
      const media = sniffMedia(data);
      const mismatch = mediaMismatch(meta, mime, media);
      if (mismatch || !media) throw new HttpError(400, mismatch ?? 'not a picture or movie');
      const maxPixels = this.opts.maxPixels ?? DEFAULT_PIXEL_LIMIT_MP * 1e6;
      if (media.width !== null && media.height !== null && media.width * media.height > maxPixels) {
        throw new HttpError(400, `picture of ${media.width}×${media.height} pixels: over the limit of ${maxPixels / 1e6} megapixels`);
      }
      const over = this.opts.store.refusal(data.length);
      if (over) throw busy(res, 503, over, 60);

      const head: StoredEvent = { v: 1, id: randomUUID(), key: claimed, receivedAt: Date.now(), meta, media, size: data.length };
      try {
        await this.opts.store.put(head, data);
      } catch (err) {
        this.opts.log.error(`event from ${meta.agent} not stored: ${(err as Error).message}`);
        throw busy(res, 503, 'the hub could not store the event: try again later', 60);
      }
      if (claimed) this.opts.keys.add(claimed);
      this.count(meta.agent);
      sendJson(res, 201, { id: head.id, duplicate: false });
      this.deliver(head, data, false);
    } catch (err) {
      // A refused upload is not read to its end: close the connection rather than drain megabytes.
      if (!bodyRead || (err instanceof HttpError && err.status === 413)) res.setHeader('Connection', 'close');
      throw err;
    } finally {
      if (claimed) this.uploading.delete(claimed);
    }
  };

  /** Counts the event; the counts file is rewritten before the 201, so a kill right after it keeps the count. */
  private count(agent: string): void {
    this.opts.registry.eventReceived(agent);
    if (this.opts.countsFile) this.writeCounts();
  }

  private readCounts(): Record<string, number> {
    if (!this.opts.countsFile) return {};
    try {
      const parsed = JSON.parse(readFileSync(this.opts.countsFile, 'utf8')) as unknown;
      if (!parsed || typeof parsed !== 'object') return {};
      return Object.fromEntries(Object.entries(parsed).filter(([, n]) => Number.isSafeInteger(n) && (n as number) >= 0)) as Record<string, number>;
    } catch {
      return {};
    }
  }

  private writeCounts(): void {
    const file = this.opts.countsFile!;
    const counts = Object.entries(this.opts.registry.eventCounts()).slice(-MAX_COUNTED_AGENTS);
    try {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(`${file}.tmp`, JSON.stringify(Object.fromEntries(counts)), { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      this.opts.log.warn(`event counts not kept: ${(err as Error).message}`);
    }
  }

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
