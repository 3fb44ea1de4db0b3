// The agent's on-disk spool of events the hub could not take (down, too slow, 5xx). Each event is a
// copy of its file (<stem>.data) and its metadata (<stem>.json, written last: it makes the event
// visible), each written to a temporary name and renamed. Stems start with the time, so names sort
// oldest first. Bounded by bytes and events: the oldest are dropped, with a log line.
// Before it uploads, the hook notes its intent: the metadata with `source`, the path of Motion's file,
// and no copy. It removes the note once the hub has answered; a hook killed mid-upload leaves it, and
// the agent uploads from Motion's file when the note is older than INTENT_GRACE_MS.
// The running agent calls deliverSpool() to upload them once the hub is back.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventMeta } from '../lib/event-upload';
import type { HookConfig, SpoolOptions } from './hook-config';
import { uploadEvent, type UploadResult } from './upload';

export interface SpoolEntry {
  v: 1;
  meta: EventMeta;
  key: string; // the Idempotency-Key: a delivery after a lost answer is not counted twice
  mime: string;
  size: number;
  spooledAt: string;
  source?: string; // an intent: the file is still Motion's, at this path
}

/** How long an intent belongs to its hook (longer than the upload deadline of the largest event). */
export const INTENT_GRACE_MS = 2 * 60 * 1000;

export type Log = (line: string) => void;

const JSON_EXT = '.json';
const DATA_EXT = '.data';
const TMP_PREFIX = '.tmp-';
/** Leftovers (a crash mid-write) older than this are removed by deliverSpool; younger ones may still be written. */
const LEFTOVER_MS = 10 * 60 * 1000;

function newStem(now = Date.now()): string {
  return `${String(now).padStart(15, '0')}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

async function unlinkQuiet(path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** The stems of the events in the spool, oldest first. */
export async function spooled(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .filter((n) => n.endsWith(JSON_EXT) && !n.startsWith(TMP_PREFIX))
    .map((n) => n.slice(0, -JSON_EXT.length))
    .sort();
}

async function drop(dir: string, stem: string): Promise<void> {
  await unlinkQuiet(join(dir, stem + JSON_EXT)); // first: the event is gone even if the copy stays behind
  await unlinkQuiet(join(dir, stem + DATA_EXT));
}

async function entrySize(dir: string, stem: string): Promise<number> {
  const sizes = await Promise.all([stem + JSON_EXT, stem + DATA_EXT].map((n) => stat(join(dir, n)).then((s) => s.size, () => 0)));
  return sizes[0] + sizes[1];
}

/** Drops the oldest events until the spool is within its bounds. Returns how many were dropped. */
async function trim(opts: SpoolOptions, log: Log): Promise<number> {
  const stems = await spooled(opts.dir);
  const sizes = await Promise.all(stems.map((s) => entrySize(opts.dir, s)));
  let total = sizes.reduce((a, b) => a + b, 0);
  let count = stems.length;
  let dropped = 0;
  for (let i = 0; i < stems.length && (count > opts.maxFiles || total > opts.maxBytes); i++) {
    await drop(opts.dir, stems[i]);
    log(`spool full (${count} events, ${(total / 1048576).toFixed(1)} MB; bounds ${opts.maxFiles} events, ${(opts.maxBytes / 1048576).toFixed(1)} MB): dropped the oldest event ${stems[i]}`);
    total -= sizes[i];
    count--;
    dropped++;
  }
  return dropped;
}

/** Copies the event's file into the spool with its metadata; returns the stem. */
export async function spoolEvent(opts: SpoolOptions, event: Omit<SpoolEntry, 'v' | 'spooledAt'>, source: string, log: Log): Promise<string> {
  const record = JSON.stringify({ v: 1, ...event, spooledAt: new Date().toISOString() } satisfies SpoolEntry);
  if (event.size + record.length > opts.maxBytes) throw new Error(`the file (${event.size} bytes) is larger than the whole spool (spool.max_mb)`);
  await mkdir(opts.dir, { recursive: true, mode: 0o770 });
  const stem = newStem();
  const data = join(opts.dir, stem + DATA_EXT);
  const meta = join(opts.dir, stem + JSON_EXT);
  try {
    await copyFile(source, join(opts.dir, TMP_PREFIX + stem + DATA_EXT));
    await rename(join(opts.dir, TMP_PREFIX + stem + DATA_EXT), data);
    await writeFile(join(opts.dir, TMP_PREFIX + stem + JSON_EXT), record, { mode: 0o660 });
    await rename(join(opts.dir, TMP_PREFIX + stem + JSON_EXT), meta);
  } catch (err) {
    await Promise.all([data, join(opts.dir, TMP_PREFIX + stem + DATA_EXT), join(opts.dir, TMP_PREFIX + stem + JSON_EXT)].map((p) => unlinkQuiet(p).catch(() => {})));
    throw err;
  }
  await trim(opts, log);
  return stem;
}

/** Notes a hook's upload before it starts; returns the stem to remove once the hub has answered. */
export async function noteIntent(opts: SpoolOptions, event: Omit<SpoolEntry, 'v' | 'spooledAt' | 'source'>, source: string): Promise<string> {
  await mkdir(opts.dir, { recursive: true, mode: 0o770 });
  const stem = newStem();
  const tmp = join(opts.dir, TMP_PREFIX + stem + JSON_EXT);
  await writeFile(tmp, JSON.stringify({ v: 1, ...event, spooledAt: new Date().toISOString(), source } satisfies SpoolEntry), { mode: 0o660 });
  await rename(tmp, join(opts.dir, stem + JSON_EXT));
  return stem;
}

export async function dropIntent(opts: SpoolOptions, stem: string): Promise<void> {
  await unlinkQuiet(join(opts.dir, stem + JSON_EXT));
}

/** Removes temporary files and copies without metadata left by a crash (only old ones: a hook may be writing). */
async function removeLeftovers(dir: string, now: number): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const events = new Set(names.filter((n) => n.endsWith(JSON_EXT) && !n.startsWith(TMP_PREFIX)).map((n) => n.slice(0, -JSON_EXT.length)));
  for (const n of names) {
    const orphan = n.startsWith(TMP_PREFIX) || (n.endsWith(DATA_EXT) && !events.has(n.slice(0, -DATA_EXT.length)));
    if (!orphan) continue;
    const s = await stat(join(dir, n)).catch(() => null);
    if (s && now - s.mtimeMs > LEFTOVER_MS) await unlinkQuiet(join(dir, n));
  }
}

export interface Delivery {
  delivered: number; // accepted, or already known to the hub
  dropped: number; // refused for good (bad event) or unreadable
  remaining: number;
  error: string | null; // why delivery stopped early
}

/** The hub refuses the event itself (not the agent or the URL): it never will take it, so it leaves the spool. */
const BAD_EVENT = new Set([400, 413, 415]);
const running = new Map<string, Promise<Delivery>>();

/**
 * Uploads the spooled events oldest first. Stops at the first failure (the hub is away again, or the
 * token or URL is wrong); deletes each event only after the hub took it. Concurrent calls share one run.
 */
export function deliverSpool(config: HookConfig, log: Log = (l) => console.log(l), opts: { timeoutMs?: number; intentGraceMs?: number } = {}): Promise<Delivery> {
  const dir = config.spool.dir;
  const current = running.get(dir);
  if (current) return current;
  const run = deliver(config, log, opts.timeoutMs, opts.intentGraceMs ?? INTENT_GRACE_MS).finally(() => running.delete(dir));
  running.set(dir, run);
  return run;
}

async function deliver(config: HookConfig, log: Log, timeoutMs: number | undefined, intentGraceMs: number): Promise<Delivery> {
  const dir = config.spool.dir;
  const result: Delivery = { delivered: 0, dropped: 0, remaining: 0, error: null };
  await removeLeftovers(dir, Date.now());
  for (const stem of await spooled(dir)) {
    let entry: SpoolEntry;
    let size: number;
    let file: string;
    try {
      const noted = await stat(join(dir, stem + JSON_EXT));
      entry = JSON.parse(await readFile(join(dir, stem + JSON_EXT), 'utf8')) as SpoolEntry;
      // A hook that is still uploading owns its intent.
      if (entry.source !== undefined && Date.now() - noted.mtimeMs < intentGraceMs) continue;
      file = entry.source ?? join(dir, stem + DATA_EXT);
      size = (await stat(file)).size;
      if (entry.v !== 1 || size !== entry.size) throw new Error(entry.source ? `${entry.source} has changed since Motion saved it` : 'metadata and copy do not match');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !(await stat(join(dir, stem + JSON_EXT)).catch(() => null))) continue; // trimmed meanwhile
      log(`spooled event ${stem} is unreadable (${(err as Error).message}): dropped`);
      await drop(dir, stem);
      result.dropped++;
      continue;
    }
    const r: UploadResult = await uploadEvent({ base: config.base, token: config.token, meta: entry.meta, key: entry.key, mime: entry.mime, file: { path: file, size }, timeoutMs });
    if (r.outcome === 'accepted' || r.outcome === 'duplicate') {
      await drop(dir, stem);
      result.delivered++;
    } else if (r.outcome === 'refused' && BAD_EVENT.has(r.status)) {
      log(`the hub refused spooled event ${stem} (${r.reason}): dropped`);
      await drop(dir, stem);
      result.dropped++;
    } else {
      result.error = r.reason;
      break;
    }
  }
  result.remaining = (await spooled(dir)).length;
  if (result.delivered || result.dropped || result.error) {
    log(`spool: ${result.delivered} delivered, ${result.dropped} dropped, ${result.remaining} left${result.error ? ` (stopped: ${result.error})` : ''}`);
  }
  return result;
}
