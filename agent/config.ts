// The agent's YAML configuration: one schema, errors that name the key and its line, defaults,
// and the token from DMS3_TOKEN (which overrides `token` and `token_file`).
import Ajv, { type ErrorObject } from 'ajv';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { ServerLostAction } from '../lib/server-lost';
import { splitArgs } from './argv';
import { DEFAULT_SPOOL_DIR, DEFAULT_SPOOL_MAX_FILES, DEFAULT_SPOOL_MAX_MB, type SpoolOptions } from './hook-config';
import type { Level } from './log';
import { defaultName } from './name';
import { KeyProblem, MAX_ALIAS_COUNT, MAX_CONFIG_BYTES, readSmallFile, resolveToken } from './token';
/** Keys whose value is never printed in an error. */
const SECRET_KEYS = new Set(['token', 'motion.password']);

export type MotionConfig =
  | { mode: 'process'; command: string[]; stopTimeout: number }
  | { mode: 'webcontrol'; url: string; cameras: number[]; user?: string; password?: string; timeout: number }
  | { mode: 'command'; start: string; stop: string; status?: string; timeout: number };

export interface AgentConfig {
  server: string;
  transport: 'websocket' | 'polling';
  token: string | null; // null: none configured (run refuses to start)
  name: string;
  motion: MotionConfig;
  audio: { player: string; start?: string; stop?: string };
  log: { level: Level; file?: string };
  mediaDir?: string;
  reportInterval: number; // seconds
  pollInterval: number; // seconds
  reconnectMaxBackoff: number; // seconds
  serverLost: { after: number; action: ServerLostAction };
  spool: SpoolOptions; // where `dms3-agent hook` keeps events while the hub is away
}

const seconds = (min: number, max: number) => ({ type: 'number', minimum: min, maximum: max, description: `a number of seconds from ${min} to ${max}` });
const text = { type: 'string', minLength: 1 };
const nonEmpty = (what: string) => ({ ...text, description: what });

/** The one schema of agent.yaml (keys are snake_case as written in the file). */
export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['server', 'motion'],
  properties: {
    server: { type: 'string', pattern: '^(wss?|https?)://[^\\s/]+', description: 'a ws://, wss://, http:// or https:// URL' },
    token: nonEmpty('the hub token'),
    token_file: nonEmpty('a file path'),
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'a name of 1-64 letters, digits, ".", "_" or "-"' },
    motion: {
      type: 'object',
      required: ['mode'],
      discriminator: { propertyName: 'mode' },
      oneOf: [
        {
          additionalProperties: false,
          properties: {
            mode: { const: 'process' },
            command: { type: ['string', 'array'], minLength: 1, minItems: 1, items: text, description: 'a command line or a list of arguments' },
            stop_timeout: seconds(1, 300),
          },
        },
        {
          additionalProperties: false,
          properties: {
            mode: { const: 'webcontrol' },
            url: { type: 'string', pattern: '^https?://[^\\s/]+', description: 'an http:// URL of Motion\'s webcontrol' },
            cameras: {
              type: ['integer', 'array'],
              minimum: 0,
              minItems: 1,
              items: { type: 'integer', minimum: 1 },
              description: 'a camera id (0 = all cameras) or a list of camera ids',
            },
            user: text,
            password: text,
            timeout: seconds(1, 120),
          },
        },
        {
          additionalProperties: false,
          required: ['start', 'stop'],
          properties: {
            mode: { const: 'command' },
            start: nonEmpty('a shell command'),
            stop: nonEmpty('a shell command'),
            status: nonEmpty('a shell command'),
            timeout: seconds(1, 600),
          },
        },
      ],
    },
    audio: {
      type: 'object',
      additionalProperties: false,
      properties: { player: text, start: nonEmpty('a sound file path'), stop: nonEmpty('a sound file path') },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      properties: {
        level: { type: 'string', enum: ['error', 'warn', 'info', 'debug'] },
        file: nonEmpty('a file path'),
      },
    },
    media_dir: nonEmpty('a directory path'),
    report_interval: seconds(1, 3600),
    poll_interval: seconds(1, 3600),
    reconnect_max_backoff: seconds(1, 3600),
    server_lost: {
      type: 'object',
      additionalProperties: false,
      properties: {
        after: seconds(1, 86400),
        action: { type: 'string', enum: ['keep', 'start', 'stop'] },
      },
    },
    spool: {
      type: 'object',
      additionalProperties: false,
      properties: {
        dir: nonEmpty('a directory path'),
        max_mb: { type: 'number', exclusiveMinimum: 0, description: 'a size in megabytes above 0' },
        max_files: { type: 'integer', minimum: 1, description: 'a whole number of events, at least 1' },
      },
    },
  },
};

export interface ConfigProblem {
  key: string; // dotted path, e.g. "motion.mode"
  line: number | null;
  message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(problems.map((p) => `${file}${p.line ? `:${p.line}` : ''}: ${p.key ? `${p.key}: ` : ''}${p.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

const ajv = new Ajv({ allErrors: true, strict: false, discriminator: true, verbose: true });
const validate = ajv.compile(CONFIG_SCHEMA);

type Raw = Record<string, unknown> & {
  server: string;
  motion: Record<string, unknown> & { mode: MotionConfig['mode'] };
};

/** Reads and validates a config file. Throws ConfigError (every problem with its line). */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let source: string;
  try {
    source = readSmallFile(file, MAX_CONFIG_BYTES);
  } catch (err) {
    throw new ConfigError(file, [{ key: '', line: null, message: `cannot read: ${(err as Error).message}` }]);
  }
  return parseConfig(source, file, env);
}

export function parseConfig(source: string, file: string, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  if (Buffer.byteLength(source) > MAX_CONFIG_BYTES) throw new ConfigError(file, [{ key: '', line: null, message: `cannot read: larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MB` }]);
  try {
    return parseChecked(source, file, env);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // Whatever the parser or validator throws on a hostile file (deep nesting, ...) is a config error too.
    throw new ConfigError(file, [{ key: '', line: null, message: `cannot parse: ${(err as Error).message.split('\n')[0]}` }]);
  }
}

function parseChecked(source: string, file: string, env: NodeJS.ProcessEnv): AgentConfig {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines });
  const where = new Locator(doc, lines);
  if (doc.errors.length) {
    // The first few distinct ones: a hostile file can hold a million.
    const problems = tidy(doc.errors.map((e) => ({ key: '', line: e.linePos?.[0].line ?? null, message: `YAML syntax: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}` })));
    throw new ConfigError(file, problems.slice(0, 10));
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err;
    throw new ConfigError(file, [{ key: '', line: firstAliasLine(doc, lines), message: `YAML aliases (*name) expand too often (more than ${MAX_ALIAS_COUNT} times); write the values out` }]);
  }
  if (data === null || data === undefined) throw new ConfigError(file, [{ key: '', line: null, message: 'the file is empty; "server" and "motion" are required' }]);
  if (!validate(data)) throw new ConfigError(file, tidy((validate.errors ?? []).map((e) => describe(e, where))));
  return resolve(data as Raw, file, env, where);
}

function resolve(raw: Raw, file: string, env: NodeJS.ProcessEnv, where: Locator): AgentConfig {
  const problems: ConfigProblem[] = [];
  const problem = (path: string[], message: string) => problems.push({ key: path.join('.'), line: where.line(path), message });

  try {
    new URL(raw.server);
  } catch {
    problem(['server'], `${JSON.stringify(raw.server)}: not a valid URL`);
  }
  if (raw.token !== undefined && raw.token_file !== undefined) problem(['token_file'], 'give either token or token_file, not both');
  let token: string | null = null;
  try {
    token = resolveToken({ token: raw.token, token_file: raw.token_file }, env);
  } catch (err) {
    if (!(err instanceof KeyProblem)) throw err;
    problem([err.key], err.message);
  }

  const m = raw.motion;
  let motion: MotionConfig;
  if (m.mode === 'process') {
    let command = ['motion', '-n'];
    if (Array.isArray(m.command)) command = m.command as string[];
    else if (typeof m.command === 'string') {
      try {
        command = splitArgs(m.command);
      } catch (err) {
        problem(['motion', 'command'], `${JSON.stringify(m.command)}: ${(err as Error).message}`);
      }
      if (command.length === 0) problem(['motion', 'command'], 'is empty');
    }
    motion = { mode: 'process', command, stopTimeout: num(m.stop_timeout, 10) };
  } else if (m.mode === 'webcontrol') {
    const url = (m.url as string | undefined) ?? 'http://127.0.0.1:8080';
    try {
      new URL(url);
    } catch {
      problem(['motion', 'url'], `${JSON.stringify(url)}: not a valid URL`);
    }
    const cameras = Array.isArray(m.cameras) ? (m.cameras as number[]) : [(m.cameras as number | undefined) ?? 0];
    motion = { mode: 'webcontrol', url: url.replace(/\/+$/, ''), cameras, user: m.user as string | undefined, password: m.password as string | undefined, timeout: num(m.timeout, 5) };
    if ((motion.user === undefined) !== (motion.password === undefined)) problem(['motion', motion.user === undefined ? 'password' : 'user'], 'give both user and password, or neither');
  } else {
    motion = { mode: 'command', start: m.start as string, stop: m.stop as string, status: m.status as string | undefined, timeout: num(m.timeout, 30) };
  }

  if (problems.length) throw new ConfigError(file, tidy(problems));
  const audio = (raw.audio ?? {}) as Record<string, string | undefined>;
  const log = (raw.log ?? {}) as { level?: Level; file?: string };
  const lost = (raw.server_lost ?? {}) as { after?: number; action?: ServerLostAction };
  const spool = (raw.spool ?? {}) as { dir?: string; max_mb?: number; max_files?: number };
  return {
    server: raw.server,
    transport: /^wss?:/i.test(raw.server) ? 'websocket' : 'polling',
    token,
    name: (raw.name as string | undefined) ?? defaultName(),
    motion,
    audio: { player: audio.player ?? 'aplay', start: audio.start, stop: audio.stop },
    log: { level: log.level ?? 'info', file: log.file },
    mediaDir: raw.media_dir as string | undefined,
    reportInterval: num(raw.report_interval, 15),
    pollInterval: num(raw.poll_interval, 5),
    reconnectMaxBackoff: num(raw.reconnect_max_backoff, 30),
    serverLost: { after: lost.after ?? 60, action: lost.action ?? 'keep' },
    spool: { dir: spool.dir ?? DEFAULT_SPOOL_DIR, maxBytes: Math.round((spool.max_mb ?? DEFAULT_SPOOL_MAX_MB) * 1024 * 1024), maxFiles: spool.max_files ?? DEFAULT_SPOOL_MAX_FILES },
  };
}

function firstAliasLine(doc: Document, lines: LineCounter): number | null {
  let offset: number | null = null;
  visit(doc, {
    Alias(_key, node) {
      offset = node.range?.[0] ?? null;
      return visit.BREAK;
    },
  });
  return offset === null ? null : lines.linePos(offset).line;
}

function num(value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}

/** Finds line numbers of keys and values in the parsed document. */
class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** The line of the key (or sequence item) at `path`, else of its nearest existing ancestor. */
  line(path: (string | number)[]): number | null {
    for (let n = path.length; n >= 0; n--) {
      const offset = this.offset(path.slice(0, n));
      if (offset !== null) return this.lines.linePos(offset).line;
    }
    return null;
  }

  private offset(path: (string | number)[]): number | null {
    if (path.length === 0) return isMap(this.doc.contents) || isSeq(this.doc.contents) ? (this.doc.contents.range?.[0] ?? null) : null;
    const parent = path.length === 1 ? this.doc.contents : this.doc.getIn(path.slice(0, -1), true);
    const last = path[path.length - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === last);
      return pair && isScalar(pair.key) ? (pair.key.range?.[0] ?? null) : null;
    }
    if (isSeq(parent)) {
      const item = parent.items[Number(last)];
      return item && typeof item === 'object' && 'range' in item ? ((item.range as [number, number] | undefined)?.[0] ?? null) : null;
    }
    return null;
  }
}

function pathOf(instancePath: string): string[] {
  return instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function keyName(path: string[]): string {
  return path.reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

function describe(e: ErrorObject, where: Locator): ConfigProblem | null {
  const path = pathOf(e.instancePath);
  const schema = (e.parentSchema ?? {}) as { description?: string; properties?: Record<string, unknown>; enum?: unknown[] };
  const value = SECRET_KEYS.has(keyName(path)) ? '(value not shown: a secret)' : JSON.stringify(e.data);
  const at = (p: string[], message: string): ConfigProblem => ({ key: keyName(p), line: where.line(p), message });
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      return at([...path, key], `unknown key (allowed here: ${Object.keys(schema.properties ?? {}).join(', ')})`);
    }
    case 'required':
      return at([...path, (e.params as { missingProperty: string }).missingProperty], 'is required but missing');
    case 'discriminator': {
      const p = e.params as { tag: string; tagValue: unknown };
      if (p.tagValue === undefined) return null; // "required" already reports the missing mode
      return at([...path, p.tag], `${JSON.stringify(p.tagValue)}: must be one of process, webcontrol, command`);
    }
    case 'enum':
      return at(path, `${value}: must be one of ${(schema.enum ?? []).join(', ')}`);
    case 'const':
      return at(path, `${value}: ${e.message}`);
    default:
      return at(path, `${value}: must be ${schema.description ?? (e.message ?? 'valid').replace(/^must be /, '')}`);
  }
}

/** One line per distinct problem, in file order. */
function tidy(problems: (ConfigProblem | null)[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems
    .filter((p): p is ConfigProblem => {
      if (!p) return false;
      const k = `${p.key}\n${p.message}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}
