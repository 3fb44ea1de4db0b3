// The real hub for end-to-end tests and benchmarks: a `node-red` child process (test/support/node-red-process.ts)
// with this package in its userDir and a flow of dms3-server ← dms3-state ← http-in (to feed presence and
// overrides), dms3-agents → a file of JSON lines (survives Node-RED restarts) and → a WebSocket (for timing).
// Agents are real `dms3-agent run` processes with configs pointing at 127.0.0.1 only.
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StatePayload } from '../../lib/policy';
import type { AgentChange, AgentEntry } from '../../lib/registry';
import { startAgent, tempDir, until, writeConfig, type AgentRun } from './agent-process';
import { NodeRed } from './node-red-process';

const packageRoot = join(__dirname, '..', '..', '..');
export const FAKE_MOTION = join(__dirname, '..', 'fixtures', 'agent', 'fake-motion.js');
/** Where the flow's http-in takes `{ topic, payload }` for dms3-state. */
export const FEED_PATH = '/dms3-test/in';
/** Where the flow's websocket-out publishes every dms3-agents message. */
export const EVENTS_WS_PATH = '/dms3-test/events';

export type ApiAgent = AgentEntry & { late: boolean };
export interface ApiState extends StatePayload {
  seq: number;
}

export interface HubRigOptions {
  /** The hub token, given to Node-RED as DMS3_TOKEN. */
  token: string;
  /** Per-agent tokens, set as the hub's agentTokens credential. */
  agentTokens?: Record<string, string>;
  /** More nodes for the flow (tab `tab1`, hub `hub1`), e.g. dms3-event → dms3-mail. */
  extraNodes?: unknown[];
}

function flow(dir: string, opts: HubRigOptions): unknown[] {
  const agentTokens = Object.entries(opts.agentTokens ?? {})
    .map(([name, token]) => `${name}=${token}`)
    .join('\n');
  return [
    { id: 'tab1', type: 'tab', label: 'DMS3 integration' },
    { id: 'hub1', type: 'dms3-server', name: '', base: '/dms3', heartbeat: 10, credentials: { agentTokens } },
    { id: 'wsl1', type: 'websocket-listener', path: EVENTS_WS_PATH, wholemsg: 'false' },
    { id: 'in1', type: 'http in', z: 'tab1', name: '', url: FEED_PATH, method: 'post', upload: false, swaggerDoc: '', wires: [['unwrap1']] },
    // The feed is answered once dms3-state is done with the input (applied and kept), or failed.
    { id: 'done1', type: 'complete', z: 'tab1', name: '', scope: ['state1'], uncaught: false, wires: [['resp1']] },
    { id: 'catch1', type: 'catch', z: 'tab1', name: '', scope: ['state1'], uncaught: false, wires: [['failed1']] },
    {
      id: 'failed1',
      type: 'change',
      z: 'tab1',
      name: '',
      rules: [
        { t: 'set', p: 'statusCode', pt: 'msg', to: '400', tot: 'num' },
        { t: 'set', p: 'payload', pt: 'msg', to: 'error.message', tot: 'msg' },
      ],
      wires: [['resp1']],
    },
    { id: 'resp1', type: 'http response', z: 'tab1', name: '', statusCode: '', headers: {}, wires: [] },
    {
      id: 'unwrap1',
      type: 'change',
      z: 'tab1',
      name: '',
      rules: [
        { t: 'set', p: 'topic', pt: 'msg', to: 'payload.topic', tot: 'msg' },
        { t: 'set', p: 'payload', pt: 'msg', to: 'payload.payload', tot: 'msg' },
      ],
      wires: [['state1']],
    },
    { id: 'state1', type: 'dms3-state', z: 'tab1', name: '', startup: 'start', server: 'hub1', wires: [['stateFile']] },
    { id: 'agents1', type: 'dms3-agents', z: 'tab1', name: '', server: 'hub1', reports: false, wires: [['eventsFile', 'eventsWs']] },
    ...['events', 'state'].map((what) => ({
      id: `${what}File`,
      type: 'file',
      z: 'tab1',
      name: '',
      filename: join(dir, `${what}.jsonl`),
      filenameType: 'str',
      appendNewline: true,
      createDir: true,
      overwriteFile: 'false',
      encoding: 'none',
      wires: [[]],
    })),
    { id: 'eventsWs', type: 'websocket out', z: 'tab1', name: '', server: 'wsl1', client: '', wires: [] },
    ...(opts.extraNodes ?? []),
  ];
}

/** dms3-event → dms3-mail (node `mail1`, outbox `dms3-outbox/mail1`) → an SMTP server on 127.0.0.1, for `extraNodes`. */
export function mailNodes(smtpPort: number, mail: Record<string, unknown>): unknown[] {
  return [
    { id: 'smtp1', type: 'dms3-smtp', name: '', host: '127.0.0.1', port: smtpPort, security: 'none', from: 'dms3@example.com' },
    { id: 'ev1', type: 'dms3-event', z: 'tab1', name: '', server: 'hub1', wires: [['mail1']] },
    { id: 'mail1', type: 'dms3-mail', z: 'tab1', name: '', smtp: 'smtp1', to: 'family@example.com', cooldown: 0, ...mail, wires: [] },
  ];
}

function readLines<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

export class HubRig {
  readonly red: NodeRed;
  readonly dir: string;
  private readonly tmp: { dir: string; remove(): void };
  private readonly agents = new Set<AgentRun>();

  constructor(readonly opts: HubRigOptions) {
    this.tmp = tempDir('dms3-integ-');
    this.dir = this.tmp.dir;
    const userDir = join(this.dir, 'node-red');
    // The package installed the way npm would, so Node-RED loads dist/nodes/* from package.json.
    mkdirSync(join(userDir, 'node_modules'), { recursive: true });
    symlinkSync(packageRoot, join(userDir, 'node_modules', 'node-red-contrib-dms3'), 'dir');
    writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'dms3-integ-userdir', private: true, dependencies: { 'node-red-contrib-dms3': '*' } }));
    this.red = new NodeRed({
      userDir,
      env: { DMS3_TOKEN: opts.token },
      settings: { logging: { console: { level: 'info', metrics: false, audit: false } }, editorTheme: { tours: false }, telemetry: { enabled: false } },
    });
  }

  get userDir(): string {
    return join(this.dir, 'node-red');
  }
  get wsUrl(): string {
    return `${this.red.url.replace(/^http/, 'ws')}/dms3/agent`;
  }
  get httpUrl(): string {
    return `${this.red.url}/dms3`;
  }
  get eventsUrl(): string {
    return `${this.red.url.replace(/^http/, 'ws')}${EVENTS_WS_PATH}`;
  }

  /** Starts Node-RED and deploys the flow (with credentials, through the admin API as the editor does). */
  async start(): Promise<void> {
    await this.red.start();
    await this.red.deploy(flow(this.dir, this.opts));
  }

  /** Kills Node-RED (SIGKILL: no flush, no goodbye to the agents) or stops it (SIGTERM). */
  async stopNodeRed(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    await this.red.stop(signal);
  }

  /** Starts Node-RED again on the same port with the flows, credentials and context it saved. */
  async restartNodeRed(): Promise<void> {
    await this.red.start();
  }

  async api<T = unknown>(method: string, path: string, body?: unknown, token = this.opts.token): Promise<{ status: number; json: T; text: string }> {
    const r = await this.red.request(method, `/dms3${path}`, body, { authorization: `Bearer ${token}` });
    let json: T = undefined as T;
    try {
      json = JSON.parse(r.text) as T;
    } catch {
      // not JSON (e.g. 204)
    }
    return { status: r.status, json, text: r.text };
  }

  async agentList(): Promise<ApiAgent[]> {
    const r = await this.api<ApiAgent[]>('GET', '/api/agents');
    if (r.status !== 200) throw new Error(`GET /api/agents answered ${r.status}: ${r.text}`);
    return r.json;
  }

  async state(): Promise<ApiState> {
    const r = await this.api<ApiState>('GET', '/api/state');
    if (r.status !== 200) throw new Error(`GET /api/state answered ${r.status}: ${r.text}`);
    return r.json;
  }

  /** Sends `{ topic, payload }` into dms3-state through the flow's http-in. */
  async feed(topic: string, payload: unknown): Promise<void> {
    const r = await this.red.request('POST', FEED_PATH, { topic, payload });
    if (r.status !== 200) throw new Error(`POST ${FEED_PATH} answered ${r.status}: ${r.text}`);
  }

  /** Every message dms3-agents sent so far (all Node-RED runs), from the flow's file node. */
  events(): AgentChange[] {
    return readLines<AgentChange>(join(this.dir, 'events.jsonl'));
  }

  /** Every decision dms3-state emitted so far (all Node-RED runs). */
  decisions(): StatePayload[] {
    return readLines<StatePayload>(join(this.dir, 'state.jsonl'));
  }

  /** Where dms3-state keeps its override and decision (written before it answers). */
  get keptFile(): string {
    return join(this.userDir, 'dms3', 'state-state1.json');
  }

  /** The decision dms3-state keeps on disk. */
  storedDecision(): StatePayload | null {
    if (!existsSync(this.keptFile)) return null;
    return (JSON.parse(readFileSync(this.keptFile, 'utf8')) as { last: StatePayload | null }).last;
  }

  /**
   * Waits until the hub's state is `state` and every named agent is connected and has applied it
   * (its appliedSeq is the hub's seq); returns the state and the agents.
   */
  async converged(names: string[], state: 'start' | 'stop', ms = 30_000): Promise<{ state: ApiState; agents: ApiAgent[] }> {
    let last = '';
    try {
      return await until(
        async () => {
          const s = await this.state().catch(() => null);
          const list = await this.agentList().catch(() => []);
          const agents = names.map((n) => list.find((a) => a.name === n));
          last = JSON.stringify({ state: s, agents: agents.map((a) => a && { name: a.name, connected: a.connected, applied: a.applied, appliedSeq: a.appliedSeq, motion: a.motion }) });
          if (!s || s.state !== state) return null;
          const ok = agents.every((a) => a && a.connected && a.applied === state && a.appliedSeq === s.seq);
          return ok ? { state: s, agents: agents as ApiAgent[] } : null;
        },
        ms,
        `agents ${names.join(', ')} to apply ${state}`,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\nlast seen: ${last}`, { cause: err });
    }
  }

  /** Starts a `dms3-agent run` process; stopped by close(). */
  agent(config: string, token: string = this.opts.token): AgentRun {
    const run = startAgent(['run', '--config', config, '--log-level', 'debug'], { DMS3_TOKEN: token });
    this.agents.add(run);
    return run;
  }

  async stopAgent(run: AgentRun, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await run.stop(signal);
    this.agents.delete(run);
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents].map((a) => a.stop('SIGTERM', 15_000)));
    this.agents.clear();
    await this.red.stop();
    this.tmp.remove();
  }
}

/** An agent's own directory and config, for agents of the rig. */
export interface AgentSetup {
  name: string;
  dir: string;
  config: string;
  /** Start/stop commands run so far (command mode). */
  commands(): string[];
  /** The fake Motion's pid file (process mode). */
  pidFile: string;
}

export interface AgentSpec {
  name: string;
  server: string;
  mode: 'process' | 'command' | 'noop';
  /** Lines under `motion:` instead of those of `mode`. */
  motion?: string[];
  reportInterval?: number; // seconds, default 2
  serverLost?: { after: number; action: 'start' | 'stop' | 'keep' };
  /** Seconds; default 2 (quick tests); null leaves the product's default. */
  reconnectMaxBackoff?: number | null;
  extra?: string;
}

/** Writes an agent config (and its directory) under `root`: every address is the rig's 127.0.0.1 URL. */
export function agentSetup(root: string, spec: AgentSpec): AgentSetup {
  const dir = join(root, `agent-${spec.name}`);
  mkdirSync(dir, { recursive: true });
  const pidFile = join(dir, 'motion.pid');
  const log = join(dir, 'commands.log');
  const running = join(dir, 'running');
  const motion = spec.motion
    ? spec.motion
    : spec.mode === 'process'
      ? ['  mode: process', `  command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(FAKE_MOTION)}, ${JSON.stringify(pidFile)}]`, '  stop_timeout: 5']
      : spec.mode === 'command'
        ? ['  mode: command', `  start: echo start >> ${log} && touch ${running}`, `  stop: echo stop >> ${log} && rm -f ${running}`, `  status: test -f ${running}`]
        : ['  mode: command', '  start: "true"', '  stop: "true"'];
  const lines = [
    `server: ${spec.server}`,
    `name: ${spec.name}`,
    'motion:',
    ...motion,
    ...(spec.reconnectMaxBackoff === null ? [] : [`reconnect_max_backoff: ${spec.reconnectMaxBackoff ?? 2}`]),
    'poll_interval: 1',
    `report_interval: ${spec.reportInterval ?? 2}`,
    ...(spec.serverLost ? ['server_lost:', `  after: ${spec.serverLost.after}`, `  action: ${spec.serverLost.action}`] : []),
    spec.extra ?? '',
  ];
  if (!/^(ws|http):\/\/127\.0\.0\.1:\d+\//.test(spec.server)) throw new Error(`test agents talk to 127.0.0.1 only, not ${spec.server}`);
  const config = writeConfig(dir, `${lines.join('\n')}\n`);
  return {
    name: spec.name,
    dir,
    config,
    pidFile,
    commands: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []),
  };
}
