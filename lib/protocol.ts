// The hub⇄agent protocol: small versioned JSON messages over a WebSocket (or HTTP polling),
// defined once here and validated on both sides with the same JSON schemas.
import Ajv, { type JSONSchemaType, type ValidateFunction } from 'ajv';
import type { Reason, Surveillance } from './policy';

export const PROTOCOL_VERSION = 1;
/** Larger frames close the connection (a health report is well under 2 KiB). */
export const MAX_MESSAGE_BYTES = 64 * 1024;
export const AGENT_PATH = '/agent';

export type MotionStatus = 'running' | 'paused' | 'stopped' | 'failed' | 'unknown';

export interface Health {
  hostname: string;
  platform: string; // os.platform(), e.g. "linux"
  osRelease: string; // PRETTY_NAME of /etc/os-release, e.g. "Raspbian GNU/Linux 12 (bookworm)"
  arch: string; // os.arch(), e.g. "arm64"
  kernel: string; // os.release(), e.g. "6.6.31+rpt-rpi-v8"
  uptime: number; // system uptime, seconds
  agentVersion: string;
  motion: MotionStatus;
  events: number; // media files Motion has written (or events the hook posted)
  applied: Surveillance | null; // the state the agent last applied successfully
  reportInterval: number; // seconds between health reports, so the hub can judge lateness
}

export interface StateMessage {
  v: 1;
  type: 'state';
  seq: number; // increases with each decision; "applied" echoes it
  state: Surveillance;
  reason: Reason;
  since: string; // ISO 8601
}

export type ServerMessage = StateMessage;

export interface HelloMessage {
  v: 1;
  type: 'hello';
  name: string;
  health: Health;
}
export interface HealthMessage {
  v: 1;
  type: 'health';
  health: Health;
}
export interface AppliedMessage {
  v: 1;
  type: 'applied';
  seq: number;
  state: Surveillance;
  ok: boolean;
  motion: MotionStatus;
  error?: string;
}
/** Something the agent did on its own (e.g. its server-lost action), reported when it can. */
export interface NoticeMessage {
  v: 1;
  type: 'notice';
  event: 'server-lost' | 'motion-failed' | 'motion-restarted';
  at: string; // ISO 8601
  text: string;
}
export type AgentMessage = HelloMessage | HealthMessage | AppliedMessage | NoticeMessage;

const surveillance = { type: 'string', enum: ['start', 'stop'] } as const;
const motion = { type: 'string', enum: ['running', 'paused', 'stopped', 'failed', 'unknown'] } as const;
const shortText = { type: 'string', maxLength: 256 } as const;
const count = { type: 'number', minimum: 0 } as const;

const healthSchema: JSONSchemaType<Health> = {
  type: 'object',
  additionalProperties: false,
  required: ['hostname', 'platform', 'osRelease', 'arch', 'kernel', 'uptime', 'agentVersion', 'motion', 'events', 'applied', 'reportInterval'],
  properties: {
    hostname: shortText,
    platform: shortText,
    osRelease: shortText,
    arch: shortText,
    kernel: shortText,
    uptime: count,
    agentVersion: shortText,
    motion,
    events: count,
    applied: { type: 'string', enum: ['start', 'stop', null], nullable: true } as unknown as JSONSchemaType<Health>['properties']['applied'],
    reportInterval: count,
  },
};

const agentSchema = {
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['v', 'type', 'name', 'health'],
      properties: { v: { const: 1 }, type: { const: 'hello' }, name: { type: 'string', minLength: 1, maxLength: 64 }, health: healthSchema },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['v', 'type', 'health'],
      properties: { v: { const: 1 }, type: { const: 'health' }, health: healthSchema },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['v', 'type', 'seq', 'state', 'ok', 'motion'],
      properties: { v: { const: 1 }, type: { const: 'applied' }, seq: { type: 'integer', minimum: 0 }, state: surveillance, ok: { type: 'boolean' }, motion, error: { type: 'string', maxLength: 1024 } },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['v', 'type', 'event', 'at', 'text'],
      properties: { v: { const: 1 }, type: { const: 'notice' }, event: { type: 'string', enum: ['server-lost', 'motion-failed', 'motion-restarted'] }, at: shortText, text: { type: 'string', maxLength: 1024 } },
    },
  ],
};

const serverSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['v', 'type', 'seq', 'state', 'reason', 'since'],
  properties: {
    v: { const: 1 },
    type: { const: 'state' },
    seq: { type: 'integer', minimum: 0 },
    state: surveillance,
    reason: { type: 'string', enum: ['override', 'always-on', 'nobody-home', 'someone-home', 'startup'] },
    since: shortText,
  },
};

const ajv = new Ajv({ allErrors: false, strict: false });
const validateAgent = ajv.compile(agentSchema) as ValidateFunction<AgentMessage>;
const validateServer = ajv.compile(serverSchema) as ValidateFunction<ServerMessage>;

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

function parse<T>(raw: string | Buffer, validate: ValidateFunction<T>, what: string): T {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > MAX_MESSAGE_BYTES) throw new ProtocolError(`${what} too large: ${size} bytes (limit ${MAX_MESSAGE_BYTES})`);
  let data: unknown;
  try {
    data = JSON.parse(raw.toString());
  } catch {
    throw new ProtocolError(`${what} is not JSON`);
  }
  if (data && typeof data === 'object' && 'v' in data && (data as { v: unknown }).v !== PROTOCOL_VERSION) {
    throw new ProtocolError(`${what} has protocol version ${JSON.stringify((data as { v: unknown }).v)}; this side speaks ${PROTOCOL_VERSION}`);
  }
  if (!validate(data)) {
    const e = validate.errors?.[0];
    throw new ProtocolError(`${what} is malformed${e ? `: ${e.instancePath || '/'} ${e.message}` : ''}`);
  }
  return data;
}

export function parseAgentMessage(raw: string | Buffer): AgentMessage {
  return parse(raw, validateAgent, 'agent message');
}

export function parseServerMessage(raw: string | Buffer): ServerMessage {
  return parse(raw, validateServer, 'server message');
}
