// The hub's durable event store: an upload is on disk before the agent hears 201, and stays there until
// the flow has finished with it, so a crash in between delivers it again after the restart.
// One file per event, `<received at, base 36>-<id>.event`: a JSON header line, then the raw file. It is
// written to a temporary name, synced, renamed and the directory synced: a crash leaves all or nothing.
// Bounded by size (a full store refuses new uploads with 503, so the agents keep them in their spools)
// and by age (an event older than that is dropped with a warning naming it).
import { closeSync, mkdirSync, openSync, readdirSync, readSync, statSync, unlinkSync } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventMeta } from '../../lib/event-upload';
import type { Media } from '../../lib/media';
import { syncDirectory } from '../shared/sync-dir';

export const DEFAULT_STORE_MB = 1024;
export const DEFAULT_STORE_DAYS = 7;

/** What is kept of an upload besides its bytes. */
export interface StoredEvent {
  v: 1;
  id: string;
  key: string | null; // the upload's Idempotency-Key
  receivedAt: number; // ms
  meta: EventMeta;
  media: Media;
  size: number;
}

interface Entry extends StoredEvent {
  file: string;
}

const NAME = /^[0-9a-z]{9}-[0-9a-f-]{36}\.event$/;
const HEADER_MAX = 64 * 1024;

export class EventStore {
  private readonly entries = new Map<string, Entry>(); // by id, oldest first
  private bytes = 0;

  /** `dir` null keeps nothing on disk: events are finished as soon as they were delivered. */
  constructor(
    readonly dir: string | null,
    private readonly limits = { maxBytes: DEFAULT_STORE_MB * 1024 * 1024, maxAgeMs: DEFAULT_STORE_DAYS * 24 * 3600 * 1000 },
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get durable(): boolean {
    return this.dir !== null;
  }

  /** Loads what an earlier run left; returns the names of files that could not be read (left in place). */
  open(): string[] {
    if (!this.dir) return [];
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const bad: string[] = [];
    const found: Entry[] = [];
    for (const name of readdirSync(this.dir).sort()) {
      if (name.endsWith('.tmp')) {
        unlinkSync(join(this.dir, name)); // a write a crash cut short: never answered 201
        continue;
      }
      if (!NAME.test(name)) continue;
      const entry = this.readHeader(name);
      if (entry) found.push(entry);
      else bad.push(name);
    }
    for (const e of found) this.index(e);
    return bad;
  }

  private readHeader(name: string): Entry | null {
    const path = join(this.dir!, name);
    try {
      const fd = openSync(path, 'r');
      try {
        const buf = Buffer.alloc(HEADER_MAX);
        const n = readSync(fd, buf, 0, HEADER_MAX, 0);
        const nl = buf.subarray(0, n).indexOf(10);
        if (nl < 0) return null;
        const head = JSON.parse(buf.subarray(0, nl).toString('utf8')) as StoredEvent;
        if (head.v !== 1 || typeof head.id !== 'string' || statSync(path).size !== nl + 1 + head.size) return null;
        return { ...head, file: name };
      } finally {
        closeSync(fd);
      }
    } catch {
      return null;
    }
  }

  private index(e: Entry): void {
    this.entries.set(e.id, e);
    this.bytes += e.size;
  }

  /** Why an upload of `size` bytes cannot be kept now, or null. */
  refusal(size: number): string | null {
    if (!this.dir || this.bytes + size <= this.limits.maxBytes) return null;
    return `the hub's event store is full (${this.entries.size} events, ${Math.round(this.bytes / 1048576)} MB waiting for the flow)`;
  }

  /** Writes the event durably; resolves when it would survive a crash. */
  async put(head: StoredEvent, data: Buffer): Promise<void> {
    if (!this.dir) return;
    const file = `${head.receivedAt.toString(36).padStart(9, '0')}-${head.id}.event`;
    const path = join(this.dir, file);
    const tmp = `${path}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writev([Buffer.from(`${JSON.stringify(head)}\n`), data]);
      await fh.datasync();
    } catch (err) {
      await fh.close();
      await unlink(tmp).catch(() => {});
      throw err;
    }
    await fh.close();
    await rename(tmp, path);
    await syncDirectory(this.dir);
    this.index({ ...head, file });
  }

  /** The events not yet finished, oldest first. */
  pending(): StoredEvent[] {
    return [...this.entries.values()].map(({ file: _f, ...head }) => head);
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** The stored file of an event. */
  async data(id: string): Promise<Buffer> {
    const e = this.entries.get(id);
    if (!e) throw new Error(`no stored event ${id}`);
    const all = await readFile(join(this.dir!, e.file));
    return all.subarray(all.length - e.size);
  }

  /** The flow has finished with the event. */
  async remove(id: string): Promise<void> {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    this.bytes -= e.size;
    if (this.dir) await unlink(join(this.dir, e.file)).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
  }

  /** Drops the events older than the age limit; returns them, so the caller can say which. */
  async expire(now = Date.now()): Promise<StoredEvent[]> {
    const old = this.pending().filter((e) => now - e.receivedAt > this.limits.maxAgeMs);
    for (const e of old) await this.remove(e.id);
    return old;
  }
}
