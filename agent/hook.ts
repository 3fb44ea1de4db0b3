// `dms3-agent hook picture|movie ...`: run by Motion for each saved picture (on_picture_save) and each
// finished movie (on_movie_end). Uploads the file with its metadata to the hub; when the hub cannot
// take it now, puts it in the spool and still succeeds. Runs up to ten times a second: only light
// modules here, one upload attempt, no retries (the running agent delivers the spool).
import { open, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, resolve } from 'node:path';
import { FieldError } from '../lib/errors';
import type { EventKind } from '../lib/event';
import { checkEventMeta, idempotencyKey, mediaMismatch, type MetaField, type RawMeta } from '../lib/event-upload';
import { sniffMedia } from '../lib/media';
import { DEFAULT_CONFIG, loadHookConfig } from './hook-config';
import { dropIntent, noteIntent, spoolEvent, type Log } from './spool';
import { uploadEvent } from './upload';

export const USAGE = `usage: dms3-agent hook picture|movie --file %f [--pixels %D] --camera %t --event %v
         [--camera-name %$] [--noise %N] [--event-id %{eventid}] [--time ISO-8601] [--config ${DEFAULT_CONFIG}]`;

/** Exit codes: 0 uploaded (or spooled), 1 refused by the hub or not spooled, 2 bad arguments, config or file. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

type Target = MetaField | 'file' | 'config';
const FLAGS: Record<string, Target> = {
  '--file': 'file',
  '--config': 'config',
  '--pixels': 'pixels',
  '--camera': 'camera',
  '--camera-name': 'cameraName',
  '--event': 'event',
  '--event-id': 'eventId',
  '--noise': 'noise',
  '--time': 'time',
};
const FLAG_OF = Object.fromEntries(Object.entries(FLAGS).map(([flag, target]) => [target, flag])) as Record<Target, string>;

export interface HookArgs {
  kind: EventKind;
  file: string;
  config: string;
  raw: RawMeta; // from the command line: camera, cameraName, event, eventId, pixels, noise, time
}

function isFlag(token: string | undefined): boolean {
  return token !== undefined && token.split('=')[0] in FLAGS;
}

/**
 * Parses the hook's arguments. Motion puts an empty string for a specifier it has no value for, and
 * an unquoted empty specifier vanishes altogether: a flag followed by another flag has no value.
 */
export function parseHookArgs(argv: string[]): HookArgs {
  const [kind, ...rest] = argv;
  if (kind !== 'picture' && kind !== 'movie') throw new FieldError('kind', kind ?? '', 'expected "picture" or "movie" as the first argument');
  const values: Partial<Record<Target, string>> = {};
  for (let i = 0; i < rest.length; i++) {
    const token = rest[i];
    const eq = token.indexOf('=');
    const flag = eq > 0 ? token.slice(0, eq) : token;
    const target = FLAGS[flag];
    if (!target) throw new FieldError('argument', token, `unknown; expected one of ${Object.keys(FLAGS).join(', ')}`);
    if (target in values) throw new FieldError(flag, token, 'given twice');
    if (eq > 0) values[target] = token.slice(eq + 1);
    else values[target] = isFlag(rest[i + 1]) || i + 1 >= rest.length ? '' : rest[++i];
  }
  if (!values.file) throw new FieldError('--file', values.file ?? '', 'missing: the path of the saved file (%f)');
  const { file, config, ...raw } = values;
  return { kind, file, config: config || DEFAULT_CONFIG, raw };
}

/** Names a metadata field in errors as the hook's user knows it. */
function label(field: MetaField): string {
  if (field === 'agent') return 'name (in the config)';
  return FLAG_OF[field] ?? field;
}

/** Reads enough of the file to tell what it is (all of a picture up to 1 MiB; the head of a movie). */
async function readHead(path: string, size: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(size, 1024 * 1024));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export async function runHook(argv: string[], env: NodeJS.ProcessEnv, log: Log = (l) => process.stderr.write(`dms3-agent hook: ${l}\n`)): Promise<number> {
  let prepared;
  try {
    prepared = await prepare(argv, env);
  } catch (err) {
    log((err as Error).message);
    if (!(err instanceof FieldError) || err.field === 'kind' || err.field === 'argument') log(USAGE);
    return EXIT.usage;
  }
  const { config, upload, path } = prepared;
  // A hostile hub could echo the token back in its answer, which the lines below quote.
  const say: Log = (line) => log(line.split(config.token).join('***'));
  const event = { meta: upload.meta, key: upload.key, mime: upload.mime, size: upload.file.size };
  // Noted first, so that a hook killed mid-upload does not lose the event (the agent sends it later).
  const intent = await noteIntent(config.spool, event, path).catch((err: Error) => {
    say(`spool ${config.spool.dir} not writable (${err.message}): uploading without a safety net`);
    return null;
  });
  const settle = async () => {
    if (intent) await dropIntent(config.spool, intent).catch(() => {});
  };
  const r = await uploadEvent(upload);
  if (r.outcome === 'accepted' || r.outcome === 'duplicate') {
    await settle();
    return EXIT.ok;
  }
  if (r.outcome === 'refused') {
    await settle();
    say(`the hub refused the event (${r.reason}): ${path} not sent`);
    return EXIT.failed;
  }
  try {
    const stem = await spoolEvent(config.spool, event, path, say);
    await settle();
    say(`hub unavailable (${r.reason}): event spooled as ${stem}`);
    return EXIT.ok;
  } catch (err) {
    say(`hub unavailable (${r.reason}) and the event could not be spooled (${(err as Error).message}): ${path} ${intent ? 'left to the agent, to send from where Motion saved it' : 'lost'}`);
    return intent ? EXIT.ok : EXIT.failed;
  }
}

async function prepare(argv: string[], env: NodeJS.ProcessEnv) {
  const args = parseHookArgs(argv);
  const config = loadHookConfig(args.config, env);
  const path = resolve(args.file);
  const st = await stat(path).catch((err: Error) => {
    throw new FieldError('--file', args.file, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : err.message);
  });
  if (!st.isFile() || st.size === 0) throw new FieldError('--file', args.file, 'not a file with content');
  const meta = checkEventMeta({ ...args.raw, agent: config.name, hostname: hostname(), kind: args.kind, name: basename(path), time: args.raw.time || st.mtime.toISOString() }, label);
  const media = sniffMedia(await readHead(path, st.size));
  const mismatch = media && mediaMismatch(meta, media.mime, media);
  if (!media || mismatch) throw new FieldError('--file', args.file, mismatch ?? `not a ${args.kind === 'picture' ? 'picture' : 'movie'} (by its bytes)`);
  const key = idempotencyKey({ agent: meta.agent, camera: meta.camera, event: meta.event, path, size: st.size, mtimeMs: st.mtimeMs });
  return { config, path, upload: { base: config.base, token: config.token, meta, key, mime: media.mime, file: { path, size: st.size } } };
}
