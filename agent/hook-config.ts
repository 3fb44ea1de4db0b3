// The part of the agent's YAML config that the hook and the spool need. Kept minimal and in one place:
// the hook runs for every saved picture, so it reads the few keys it needs without the daemon's
// schema validator (`dms3-agent check-config` validates the whole file, these keys included).
import { parse } from 'yaml';
import { FieldError } from '../lib/errors';
import { defaultName } from './name';
import { KeyProblem, MAX_ALIAS_COUNT, MAX_CONFIG_BYTES, readSmallFile, resolveToken } from './token';

export const DEFAULT_CONFIG = '/etc/dms3/agent.yaml';
export const DEFAULT_SPOOL_DIR = '/var/lib/dms3/spool';
export const DEFAULT_SPOOL_MAX_MB = 200;
export const DEFAULT_SPOOL_MAX_FILES = 1000;

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  maxFiles: number; // events (each is a metadata file and a copy of the media file)
}

export interface HookConfig {
  base: string; // the hub's HTTP base, e.g. http://host:1880/dms3
  name: string;
  token: string;
  spool: SpoolOptions;
}

const SCHEMES: Record<string, string> = { 'ws:': 'http:', 'wss:': 'https:', 'http:': 'http:', 'https:': 'https:' };

/** The hub's HTTP base from the agent's `server` URL: ws://host:1880/dms3/agent → http://host:1880/dms3. */
export function hubBase(server: string): string {
  let url: URL | null = null;
  try {
    url = new URL(server);
  } catch {
    // reported below
  }
  const scheme = url && SCHEMES[url.protocol];
  if (!url || !scheme) throw new FieldError('server', server, 'expected the hub URL, e.g. ws://host:1880/dms3/agent');
  return `${scheme}//${url.host}${url.pathname.replace(/\/+$/, '').replace(/\/agent$/, '')}`;
}

/** Reads the config file; DMS3_TOKEN in the environment wins over `token_file`, which wins over `token`. */
export function loadHookConfig(path: string, env: NodeJS.ProcessEnv): HookConfig {
  let doc: unknown;
  try {
    doc = parse(readSmallFile(path, MAX_CONFIG_BYTES), { maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    throw new Error(`config ${path}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  const c = (doc ?? {}) as Record<string, unknown>;
  const spool = (c.spool ?? {}) as Record<string, unknown>;
  const text = (field: string, v: unknown): string => {
    if (typeof v !== 'string' || v.trim() === '') throw new FieldError(field, v ?? null, `expected a text in ${path}`);
    return v.trim();
  };
  const positive = (field: string, v: unknown, fallback: number): number => {
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !(v > 0)) throw new FieldError(field, v, `expected a positive number in ${path}`);
    return v;
  };
  let token: string | null;
  try {
    token = resolveToken(c, env);
  } catch (err) {
    throw err instanceof KeyProblem ? new Error(`${err.key}: ${err.message} in ${path}`) : err;
  }
  if (!token) throw new FieldError('token', null, `missing: set token or token_file in ${path}, or DMS3_TOKEN`);
  return {
    base: hubBase(text('server', c.server)),
    name: c.name === undefined ? defaultName() : text('name', c.name),
    token,
    spool: {
      dir: spool.dir === undefined ? DEFAULT_SPOOL_DIR : text('spool.dir', spool.dir),
      maxBytes: Math.round(positive('spool.max_mb', spool.max_mb, DEFAULT_SPOOL_MAX_MB) * 1024 * 1024),
      maxFiles: Math.floor(positive('spool.max_files', spool.max_files, DEFAULT_SPOOL_MAX_FILES)),
    },
  };
}
