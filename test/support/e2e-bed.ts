// The end-to-end test bed: the whole system on a LAN of network namespaces.
//   srv     a real node-red with the shipped server flow (filled in with test settings) on 10.231.0.1:1880
//   porch   dms3-agent, webcontrol mode, controlling a real Motion fed by the test's MJPEG camera
//   garden  dms3-agent, process mode: the agent runs a real Motion (its own camera) while armed
//   garage  dms3-agent, command mode (a flag file)
//   ann, bob, cat   phones with fixed MACs: bob ignores ping (asleep), cat has only an IPv6 link-local address
// The test process stays in the root namespace; it reaches Node-RED and Motion's webcontrol through
// Unix sockets (ns-proxy), and offers the cameras and the SMTP server to the LAN the same way.
// Time-dependent settings are shortened here (TIMING), never in the product's defaults.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { alive, makeToken, startAgent, type AgentRun } from './agent-process';
import { CHROMIUM_ARGS, localPage } from './browser';
import { e2eFlow, type FlowNode, type FlowSettings } from './e2e-flow';
import { startMjpegCamera, type MjpegCamera } from './mjpeg-camera';
import { Lan } from './netns';
import { NodeRed, unixRequest, type HttpAnswer } from './node-red-process';
import { TestSmtp } from './smtp';

export const PREFIX = 'd3e';
export const SUBNET = '10.231.0';
const SERVER = `${SUBNET}.1`;
const RED_PORT = 1880;
const ROOT = join(__dirname, '..', '..', '..');
const PROXY = join(__dirname, 'ns-proxy.js');
const AGENT_CLI = join(ROOT, 'dist', 'agent', 'cli.js');

/** The shortened timings of the test configuration (seconds). */
export const TIMING = {
  scanInterval: 2,
  grace: 4,
  heartbeat: 2,
  reportInterval: 2,
  reconnectMaxBackoff: 2,
  mailQuiet: 1,
  mailMaxWait: 5,
  mailCooldown: 0,
  mailRetryFirst: 1,
};

const MOTION_WARM_MS = 8000;

export type Mode = 'webcontrol' | 'process' | 'command';
export interface Pi {
  name: string; // agent name and namespace suffix
  hostname: string;
  octet: number;
  mac: string;
  mode: Mode;
  serverLost: { after: number; action: 'keep' | 'start' | 'stop' };
}
export const PIS: Pi[] = [
  { name: 'porch', hostname: 'porch-pi', octet: 11, mac: '00:00:5e:00:53:11', mode: 'webcontrol', serverLost: { after: 60, action: 'keep' } },
  { name: 'garden', hostname: 'garden-pi', octet: 12, mac: '00:00:5e:00:53:12', mode: 'process', serverLost: { after: 60, action: 'keep' } },
  // Disarms when it loses the hub for 3 s: the faults arm the house and watch it come back.
  { name: 'garage', hostname: 'garage-pi', octet: 13, mac: '00:00:5e:00:53:13', mode: 'command', serverLost: { after: 3, action: 'stop' } },
];
// Documentation MACs (RFC 7042), universally administered, so the scan gives no "random MAC" warning.
export const PHONES = [
  { name: 'ann', mac: '00:00:5e:00:53:a1', octet: 101 },
  { name: 'bob', mac: '00:00:5e:00:53:b2', octet: 102, ignorePing: true },
  { name: 'cat', mac: '00:00:5e:00:53:c3' }, // IPv6 link-local only
];

export interface TimedLine {
  at: number;
  source: string;
  text: string;
}

export interface ProbeEntry {
  at: number;
  topic: string;
  payload: any;
}

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

// One bed at a time on a machine: the namespaces have fixed names. A second run (another test file, the
// benchmark, a CI run from another checkout) waits for the lock; a lock whose process is gone is stale.
const LOCK = `/tmp/${PREFIX}-bed.lock`;

async function lock(ms = 20 * 60_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      writeFileSync(LOCK, String(process.pid), { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number(readFileSync(LOCK, 'utf8').trim());
    const unreadable = !owner && Date.now() - statSync(LOCK).mtimeMs > 5000; // its writer died at once
    if ((owner && !alive(owner)) || unreadable) rmSync(LOCK, { force: true });
    else if (Date.now() > end) throw new Error(`another end-to-end bed (pid ${owner}) has held ${LOCK} for ${ms / 60_000} minutes`);
    else await delay(1000);
  }
}

function unlock(): void {
  if (existsSync(LOCK) && readFileSync(LOCK, 'utf8').trim() === String(process.pid)) rmSync(LOCK, { force: true });
}

/** Kill what an interrupted earlier run left in our namespaces, then remove them and its work dirs. */
function cleanLeftovers(): void {
  for (const line of sh('ip', ['netns', 'list']).split('\n')) {
    const ns = line.split(' ')[0];
    if (!ns.startsWith(`${PREFIX}-`)) continue;
    for (const pid of sh('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  Lan.cleanup(PREFIX);
  for (const d of readdirSync('/tmp').filter((d) => d.startsWith(`${PREFIX}-bed-`))) rmSync(join('/tmp', d), { recursive: true, force: true });
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls every 100 ms (a check that throws counts as "not yet"); fails after `ms` with `what` and `detail()`. */
export async function until<T>(check: () => T | undefined | null | false | Promise<T | undefined | null | false>, ms: number, what: string, detail: () => string = () => ''): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    let v: T | undefined | null | false;
    try {
      v = await check();
    } catch {
      v = undefined;
    }
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${detail()}`.trimEnd());
    await delay(100);
  }
}

/** A process inside the LAN whose output is kept (Motion, proxies). */
class Proc {
  out = '';
  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.out += d.toString()));
  }
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill(signal);
    const force = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(force);
  }
}

export class Bed {
  readonly token = makeToken();
  readonly lan = new Lan(PREFIX, SUBNET);
  readonly dir: string;
  readonly red: NodeRed;
  readonly smtp: TestSmtp;
  readonly cameras = new Map<string, MjpegCamera>();
  /** Every run of each agent, oldest first (restarts add runs). */
  readonly runs = new Map<string, AgentRun[]>();
  readonly motion = new Map<string, Proc>(); // Motion daemons the bed runs itself (webcontrol mode)
  private readonly motionSince = new Map<string, number>();
  readonly notes: TimedLine[] = [];
  flow: FlowNode[] = [];
  readonly startedAt = Date.now();
  private readonly procs: Proc[] = [];
  private browser: Browser | null = null;
  private page: { page: Page; blocked: string[] } | null = null;

  private constructor() {
    this.dir = mkdtempSync(`/tmp/${PREFIX}-bed-`);
    this.smtp = new TestSmtp({ path: this.sock('smtp') });
    this.red = new NodeRed({
      userDir: join(this.dir, 'red'),
      port: RED_PORT,
      host: '0.0.0.0',
      prefix: ['ip', 'netns', 'exec', `${PREFIX}-srv`],
      socketPath: this.sock('red'),
      settings: { contextStorage: { default: { module: 'localfilesystem', config: { flushInterval: 1 } }, memory: { module: 'memory' } } },
    });
  }

  sock(name: string): string {
    return join(this.dir, `${name}.sock`);
  }

  /** Builds and starts everything; waits until every agent applied the decision of a full house. */
  static async start(): Promise<Bed> {
    await lock();
    cleanLeftovers();
    const bed = new Bed();
    try {
      await bed.build();
      return bed;
    } catch (err) {
      await bed.stop();
      throw err;
    }
  }

  private async build(): Promise<void> {
    this.createLan();
    await this.smtp.start();
    for (const pi of PIS.filter((p) => p.mode !== 'command')) {
      this.cameras.set(pi.name, await startMjpegCamera({ path: this.sock(`cam-${pi.name}`), fps: 5 }));
    }
    await Promise.all([
      this.proxy('srv', `unix:${this.sock('red')}`, `tcp:127.0.0.1:${RED_PORT}`),
      this.proxy('srv', 'tcp:127.0.0.1:2525', `unix:${this.sock('smtp')}`),
      ...[...this.cameras.keys()].flatMap((pi) => [
        this.proxy(pi, 'tcp:127.0.0.1:8081', `unix:${this.sock(`cam-${pi}`)}`),
        this.proxy(pi, `unix:${this.sock(`motion-${pi}`)}`, 'tcp:127.0.0.1:8080'),
      ]),
    ]);
    for (const pi of PIS.filter((p) => p.mode === 'webcontrol')) await this.startMotion(pi.name);

    this.prepareUserDir();
    await this.red.start();
    this.flow = e2eFlow(this.flowSettings());
    await this.red.deploy(this.flow);
    for (const pi of PIS) this.startAgent(pi.name);
    await this.settled('stop', 120_000);
  }

  private createLan(): void {
    this.lan.create();
    this.lan.addHost('srv', { mac: '00:00:5e:00:53:01', octet: 1 });
    for (const pi of PIS) this.lan.addHost(pi.name, { mac: pi.mac, octet: pi.octet });
    for (const p of PHONES) this.lan.addHost(p.name, { mac: p.mac, octet: p.octet, ignorePing: p.ignorePing });
    // The server notices an absent phone within seconds: short neighbour timers for IPv6 too.
    this.lan.exec('srv', ['sysctl', '-qw', 'net.ipv6.neigh.eth0.base_reachable_time_ms=5000', 'net.ipv6.neigh.eth0.delay_first_probe_time=1']);
  }

  private async proxy(host: string, listen: string, target: string): Promise<void> {
    const proc = this.track(this.lan.spawn(host, [process.execPath, PROXY, listen, target]));
    await until(() => proc.out.includes('ready'), 15_000, `ns-proxy ${listen} → ${target} in ${host}`, () => proc.out);
  }

  private track(child: ChildProcess): Proc {
    const p = new Proc(child);
    this.procs.push(p);
    return p;
  }

  /** Runs the command in the Pi's namespace under its own host name (a UTS namespace of its own). */
  private piPrefix(name: string): string[] {
    const pi = PIS.find((p) => p.name === name)!;
    return ['ip', 'netns', 'exec', this.lan.ns(name), 'unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', pi.hostname];
  }

  private motionConfPath(name: string): string {
    return join(this.dir, `motion-${name}.conf`);
  }

  /** Writes the Pi's motion.conf (and the agent.yaml its hook reads); returns its path. */
  private motionConf(name: string): string {
    const media = join(this.dir, `media-${name}`);
    mkdirSync(media, { recursive: true });
    const file = this.motionConfPath(name);
    writeFileSync(
      file,
      [
        'daemon off',
        'setup_mode off',
        'log_level 5',
        `target_dir ${media}`,
        'netcam_url http://127.0.0.1:8081/stream.mjpg',
        'width 320',
        'height 240',
        'framerate 5',
        'threshold 1500',
        'event_gap 2',
        'picture_output on',
        'movie_output off',
        // As the README wires it: `dms3-agent hook` with the agent's own config (hub, name, spool).
        `on_picture_save ${process.execPath} ${AGENT_CLI} hook picture --config ${this.agentConfig(name)} --file %f --pixels %D --camera %t --event %v --camera-name %$ --noise %N --event-id %{eventid}`,
        'webcontrol_port 8080',
        'webcontrol_localhost on',
        'webcontrol_interface 1',
        'webcontrol_parms 2',
        'stream_port 0',
        '',
      ].join('\n'),
    );
    return file;
  }

  spoolDir(name: string): string {
    return join(this.dir, `spool-${name}`);
  }

  /** Starts (or restarts) the Motion daemon of a webcontrol-mode Pi, as its system service would. */
  async startMotion(name: string): Promise<void> {
    const [cmd, ...args] = [...this.piPrefix(name), 'motion', '-n', '-c', this.motionConf(name)];
    const proc = this.track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DMS3_TOKEN: this.token } }));
    this.motion.set(name, proc);
    this.motionSince.set(name, Date.now());
    await until(async () => /Detection status/.test(await this.detection(name)), 30_000, `Motion's webcontrol in ${name}`, () => proc.out.slice(-2000));
  }

  /** Motion detects only some seconds after it connected to its camera: wait until the bed's Motion is past that. */
  async motionWarm(name: string): Promise<void> {
    const wait = (this.motionSince.get(name) ?? 0) + MOTION_WARM_MS - Date.now();
    if (wait > 0) await delay(wait);
  }

  /** Writes the Pi's agent.yaml (also read by the hook Motion runs); returns its path. */
  private agentConfig(name: string): string {
    const pi = PIS.find((p) => p.name === name)!;
    const media = join(this.dir, `media-${pi.name}`);
    mkdirSync(media, { recursive: true });
    const flag = this.flagFile(pi.name);
    const motion =
      pi.mode === 'webcontrol'
        ? ['  mode: webcontrol', '  url: http://127.0.0.1:8080', '  cameras: 0', '  timeout: 5']
        : pi.mode === 'process'
          ? ['  mode: process', `  command: [motion, -n, -c, ${this.motionConfPath(pi.name)}]`, '  stop_timeout: 15']
          : ['  mode: command', `  start: touch ${flag}`, `  stop: rm -f ${flag}`, `  status: test -e ${flag}`, '  timeout: 10'];
    const file = join(this.dir, `agent-${pi.name}.yaml`);
    writeFileSync(
      file,
      [
        `server: ws://${SERVER}:${RED_PORT}/dms3/agent`,
        `name: ${pi.name}`,
        'motion:',
        ...motion,
        `media_dir: ${media}`,
        'spool:',
        `  dir: ${this.spoolDir(pi.name)}`,
        `report_interval: ${TIMING.reportInterval}`,
        `reconnect_max_backoff: ${TIMING.reconnectMaxBackoff}`,
        'server_lost:',
        `  after: ${pi.serverLost.after}`,
        `  action: ${pi.serverLost.action}`,
        '',
      ].join('\n'),
    );
    return file;
  }

  flagFile(name: string): string {
    return join(this.dir, `${name}.on`);
  }

  startAgent(name: string): AgentRun {
    if (PIS.find((p) => p.name === name)!.mode === 'process') this.motionConf(name); // the agent runs this Motion
    const run = startAgent(['run', '--config', this.agentConfig(name)], { DMS3_TOKEN: this.token }, this.piPrefix(name));
    this.runs.set(name, [...(this.runs.get(name) ?? []), run]);
    return run;
  }

  agent(name: string): AgentRun {
    return this.runs.get(name)!.at(-1)!;
  }

  private prepareUserDir(): void {
    const userDir = join(this.dir, 'red');
    mkdirSync(join(userDir, 'node_modules'), { recursive: true });
    symlinkSync(ROOT, join(userDir, 'node_modules', 'node-red-contrib-dms3'), 'dir');
    writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'dms3-e2e', private: true, dependencies: { 'node-red-contrib-dms3': '*' } }));
  }

  flowSettings(windows: FlowSettings['windows'] = []): FlowSettings {
    return {
      token: this.token,
      heartbeat: TIMING.heartbeat,
      presence: {
        devices: PHONES.map((p) => ({ name: p.name, macs: [p.mac] })),
        iface: 'eth0',
        range: `${SUBNET}.96/28`,
        ipv6: true,
        interval: TIMING.scanInterval,
        grace: TIMING.grace,
      },
      windows,
      mail: {
        host: '127.0.0.1',
        port: 2525,
        from: 'DMS3 <cams@example.test>',
        to: 'family@example.test',
        quiet: TIMING.mailQuiet,
        maxWait: TIMING.mailMaxWait,
        cooldown: TIMING.mailCooldown,
        retryFirst: TIMING.mailRetryFirst,
      },
    };
  }

  /**
   * Deploys a changed flow as the editor's "Modified nodes" deploy: only the changed nodes restart (the
   * hub, and so the agents' connections, stay). Credentials are left out: Node-RED keeps the stored ones.
   */
  async redeployNodes(flow: FlowNode[]): Promise<void> {
    const body = flow.map(({ credentials: _credentials, ...n }) => n);
    const mark = this.red.log.length;
    const r = await this.red.request('POST', '/flows', body, { 'Node-RED-Deployment-Type': 'nodes' });
    if (r.status !== 204 && r.status !== 200) throw new Error(`deploy answered ${r.status}: ${r.text}`);
    await until(() => this.red.log.slice(mark).includes('Started modified nodes'), 15_000, 'the modified nodes to start', () => this.red.log.slice(mark));
    this.flow = flow;
  }

  // ---- reading the system

  /** A call to the hub's API with the hub token (or `token`). */
  api(method: string, path: string, body?: unknown, token: string | null = this.token): Promise<HttpAnswer> {
    return this.red.request(method, path, body, token === null ? {} : { authorization: `Bearer ${token}` });
  }

  async state(): Promise<{ state: string; reason: string; seq: number; override: string; since: string }> {
    const r = await this.api('GET', '/dms3/api/state');
    if (r.status !== 200) throw new Error(`GET /dms3/api/state answered ${r.status}: ${r.text}`);
    return r.json();
  }

  async agents(): Promise<any[]> {
    const r = await this.api('GET', '/dms3/api/agents');
    if (r.status !== 200) throw new Error(`GET /dms3/api/agents answered ${r.status}: ${r.text}`);
    return r.json();
  }

  async probe(): Promise<ProbeEntry[]> {
    const r = await this.red.request('GET', '/e2e/log');
    if (r.status !== 200) throw new Error(`GET /e2e/log answered ${r.status}`);
    return r.json();
  }

  /** Motion's own detection status ("Camera 0 Detection status ACTIVE"), or why it cannot be read. */
  async detection(name: string): Promise<string> {
    try {
      return (await unixRequest(this.sock(`motion-${name}`), 'GET', '/0/detection/status', {}, undefined, 5000)).text.trim();
    } catch (err) {
      return `unreachable: ${(err as Error).message}`;
    }
  }

  /**
   * Waits until the hub's decision is `state` and every agent is connected and has applied that very
   * decision (its seq); returns the decision.
   */
  async settled(state: 'start' | 'stop', ms = 60_000, names = PIS.map((p) => p.name)) {
    let last = '';
    return until(
      async () => {
        const s = await this.state();
        const list = await this.agents();
        last = JSON.stringify({ state: s, agents: list.map((a) => ({ name: a.name, connected: a.connected, applied: a.applied, seq: a.appliedSeq, motion: a.motion, error: a.error })) }, null, 1);
        if (s.state !== state) return false;
        const ok = names.every((n) => list.some((a) => a.name === n && a.connected && a.applied === state && a.appliedSeq === s.seq));
        return ok && s;
      },
      ms,
      `every agent to apply "${state}"`,
      () => `${last}\n${this.logTail()}`,
    );
  }

  logTail(lines = 15): string {
    const agents = [...this.runs.entries()].map(([n, runs]) => `--- ${n}\n${runs.at(-1)!.output().split('\n').slice(-lines).join('\n')}`);
    return `--- node-red\n${this.red.log.split('\n').slice(-lines).join('\n')}\n${agents.join('\n')}`;
  }

  /**
   * The dashboard in a real Chromium that runs on the server (its namespace), signed in with the
   * token link; `blocked` lists any request that would have left 127.0.0.1.
   */
  async dashboard(): Promise<{ page: Page; blocked: string[] }> {
    if (this.page) return this.page;
    const wrapper = join(this.dir, 'chromium-in-srv.sh');
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${this.lan.ns('srv')} /usr/bin/chromium "$@"\n`);
    chmodSync(wrapper, 0o755);
    this.browser = await chromium.launch({ executablePath: wrapper, args: CHROMIUM_ARGS });
    const context = await this.browser.newContext({ viewport: { width: 1280, height: 900 } });
    this.page = await localPage(context);
    await this.page.page.goto(`http://127.0.0.1:${RED_PORT}/dms3/?token=${encodeURIComponent(this.token)}`);
    await this.page.page.waitForSelector('#cards[aria-busy="false"]', { timeout: 30_000 });
    return this.page;
  }

  /** Waits until the dashboard element `selector` shows every one of `texts`; returns its text. */
  async dashboardShows(selector: string, texts: string[], ms = 30_000): Promise<string> {
    const { page } = await this.dashboard();
    let last = '';
    return until(
      async () => {
        last = await page.locator(selector).innerText({ timeout: 5000 });
        return texts.every((t) => last.includes(t)) && last;
      },
      ms,
      `the dashboard's ${selector} to show ${JSON.stringify(texts)}`,
      () => last,
    );
  }

  // ---- acting on the LAN

  note(text: string): number {
    const at = Date.now();
    this.notes.push({ at, source: 'test', text });
    return at;
  }

  phone(name: string, present: boolean): number {
    const at = this.note(`${name}'s link ${present ? 'up (comes home)' : 'down (leaves)'}`);
    this.lan.link(name, present);
    return at;
  }

  /** Something moves in front of a Pi's camera for `ms` (once Motion can see it); returns when it began. */
  async move(pi: string, ms = 2500): Promise<number> {
    const camera = this.cameras.get(pi)!;
    await this.motionWarm(pi);
    const at = this.note(`movement in front of the ${pi} camera`);
    camera.setMoving(true);
    await delay(ms);
    camera.setMoving(false);
    this.note(`the ${pi} camera's scene is still again`);
    return at;
  }

  // ---- the timeline

  /** Lines from every agent's log (all runs) with their own timestamps. */
  agentLines(name?: string): TimedLine[] {
    const out: TimedLine[] = [];
    for (const [agent, runs] of this.runs) {
      if (name && agent !== name) continue;
      for (const run of runs) {
        for (const line of run.output().split('\n')) {
          const m = /^(\d{4}-\d\d-\d\dT\S+Z) (\w+) (.*)$/.exec(line);
          if (m) out.push({ at: Date.parse(m[1]), source: agent, text: `${m[2] === 'INFO' ? '' : `${m[2]} `}${m[3]}` });
        }
      }
    }
    return out.sort((a, b) => a.at - b.at);
  }

  /** When `name` logged "applied <state>" first at or after `since` (ms), or null. */
  appliedAt(name: string, state: 'start' | 'stop', since: number): number | null {
    return this.agentLines(name).find((l) => l.at >= since && l.text.startsWith(`applied ${state}:`))?.at ?? null;
  }

  /** Seconds from `from` until each agent logged "applied <state>", and the slowest of them. */
  appliedTimes(state: 'start' | 'stop', from: number, names = PIS.map((p) => p.name)): { each: Record<string, number>; all: number } {
    const each: Record<string, number> = {};
    for (const n of names) {
      const at = this.appliedAt(n, state, from);
      if (at === null) throw new Error(`${n} has not logged "applied ${state}" since ${new Date(from).toISOString()}`);
      each[n] = Math.round(at - from) / 1000;
    }
    return { each, all: Math.max(...Object.values(each)) };
  }

  /** What happened between `from` and `to`: the test's actions, the flow's decisions and agent changes, the agents' logs. */
  async timeline(from: number, to = Date.now()): Promise<string> {
    const interesting = /^(?:WARN |ERROR )?(hub: |applied |could not apply|connected to the hub|lost the hub|cannot reach|connection to the hub lost|server lost|started |motion|Motion is)/;
    const lines: TimedLine[] = [...this.notes, ...this.agentLines().filter((l) => interesting.test(l.text))];
    for (const m of this.smtp.mails) lines.push({ at: m.at, source: 'smtp', text: `mail accepted: ${m.parsed.subject}` });
    let probe: ProbeEntry[] = [];
    try {
      probe = await this.probe();
    } catch {
      /* Node-RED down: its part of the timeline is missing */
    }
    for (const e of probe) {
      if (e.topic === 'state') lines.push({ at: e.at, source: 'flow', text: `state ${e.payload.state} (${e.payload.reason})` });
      else if (e.topic === 'presence') lines.push({ at: e.at, source: 'flow', text: `presence home=${e.payload.home} [${e.payload.devices.map((d: any) => `${d.name}:${d.present}`).join(' ')}]` });
      else if (e.topic === 'agent') lines.push({ at: e.at, source: 'flow', text: `agent ${e.payload.agent.name} ${e.payload.event}${e.payload.detail ? `: ${e.payload.detail}` : ''}` });
      else if (e.topic === 'event') lines.push({ at: e.at, source: 'flow', text: `event ${e.payload.agent}/${e.payload.camera} ${e.payload.kind} ${e.payload.file?.name ?? ''}` });
    }
    return lines
      .filter((l) => l.at >= from && l.at <= to)
      .sort((a, b) => a.at - b.at)
      .map((l) => `${`+${((l.at - from) / 1000).toFixed(3)}s`.padStart(10)}  ${l.source.padEnd(7)} ${l.text}`)
      .join('\n');
  }

  // ---- teardown

  async stop(): Promise<void> {
    await this.browser?.close().catch(() => undefined);
    const runs = [...this.runs.values()].flat();
    await Promise.all(runs.map((r) => r.stop('SIGKILL', 5000)));
    await this.red.stop('SIGKILL').catch(() => undefined);
    await Promise.all(this.procs.map((p) => p.kill('SIGKILL')));
    cleanLeftovers(); // also any Motion a process-mode agent left behind
    for (const c of this.cameras.values()) await c.close();
    await this.smtp.stop();
    if (existsSync(this.dir)) rmSync(this.dir, { recursive: true, force: true });
    unlock();
  }
}
