// The idempotency keys of accepted event uploads, so that a retried upload is answered "duplicate"
// instead of being counted twice, also after Node-RED restarts: each key is kept 24 h (at most
// `max` keys, oldest dropped first), in memory and in an append-only file that is compacted on load
// and when it has grown to twice the keys it holds.
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { KEY_PATTERN } from '../../lib/event-upload';

export const KEY_TTL_MS = 24 * 3600 * 1000;
export const MAX_KEYS = 100_000;

export class SeenKeys {
  private readonly keys = new Map<string, number>(); // key → expiry (ms); insertion order is expiry order
  private fd: number | null = null;
  private lines = 0;

  /** Throws when the file cannot be read or written; without a file the keys live in memory only. */
  constructor(
    private readonly file: string | null,
    private readonly onWriteError: (err: Error) => void = () => {},
    private readonly opts = { ttlMs: KEY_TTL_MS, max: MAX_KEYS },
    now = Date.now(),
  ) {
    if (!file) return;
    mkdirSync(dirname(file), { recursive: true });
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const line of text.split('\n')) {
      const [key, expiry] = line.split(' ');
      const at = Number(expiry);
      // A torn last line (a crash mid-write) is simply not a key.
      if (KEY_PATTERN.test(key) && at > now) {
        this.keys.delete(key);
        this.keys.set(key, at);
      }
    }
    this.prune(now);
    this.compact();
  }

  get size(): number {
    return this.keys.size;
  }

  has(key: string, now = Date.now()): boolean {
    return (this.keys.get(key) ?? 0) > now;
  }

  /** Records a key; false when it is already known (the upload is a duplicate). */
  add(key: string, now = Date.now()): boolean {
    if (this.has(key, now)) return false;
    const expiry = now + this.opts.ttlMs;
    this.keys.delete(key);
    this.keys.set(key, expiry);
    this.prune(now);
    if (this.fd !== null) {
      try {
        writeSync(this.fd, `${key} ${expiry}\n`);
        if (++this.lines > 2 * this.opts.max) this.compact();
      } catch (err) {
        // Keep serving from memory: a full disk must not stop the events.
        this.close();
        this.onWriteError(err as Error);
      }
    }
    return true;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private prune(now: number): void {
    for (const [key, expiry] of this.keys) {
      if (expiry > now && this.keys.size <= this.opts.max) break;
      this.keys.delete(key);
    }
  }

  /** Rewrites the file with the live keys only (atomically), and reopens it for appending. */
  private compact(): void {
    const file = this.file!;
    this.close();
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, [...this.keys].map(([k, at]) => `${k} ${at}\n`).join(''), { mode: 0o600 });
    renameSync(tmp, file);
    this.fd = openSync(file, 'a');
    this.lines = this.keys.size;
  }
}
