// Benchmark of the hub under a resource attack, all real: a `node-red` process (test/support/real-hub.ts)
// and 10 `dms3-agent run` processes on loopback. In one run, quiet then under attack: GET /api/state
// latency (sequential requests with the hub token) and decision → all agents applied (as bench/agents-real.ts).
// The attack holds, while measured: 500 idle TCP sockets (connected, nothing sent), 500 WebSocket clients
// without a token on the agent path (the hub refuses them at once, so none holds: each tries again 1–2 s later, for ever) and 64 uploads to
// /api/event that declared 24 MB and stalled after the head. Node-RED's RSS is sampled throughout.
// Run: npm run build && node dist/bench/attack.js   → bench/results-attack.json
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { eventQuery, checkEventMeta } from '../lib/event-upload';
import type { AgentChange } from '../lib/registry';
import { delay, makeToken, until } from '../test/support/agent-process';
import { agentSetup, HubRig } from '../test/support/real-hub';

const AGENTS = Number(process.env.AGENTS ?? 10);
const DECISIONS = Number(process.env.DECISIONS ?? 30);
const STATE_REQUESTS = Number(process.env.STATE_REQUESTS ?? 300);
const IDLE_SOCKETS = 500;
const UNAUTH_WS = 500;
const STALLED = 64;

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const summary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: round(quantile(s, 0.5)), p99: round(quantile(s, 0.99)), max: round(s[s.length - 1]) };
};

class Attack {
  readonly sockets: Socket[] = [];
  readonly clients = new Set<WebSocket>();
  refused = 0;
  private stopped = false;
  private timers = new Set<NodeJS.Timeout>();

  constructor(private readonly port: number, private readonly token: string, private readonly wsUrl: string) {}

  private socket(): Promise<Socket> {
    return new Promise((resolve) => {
      const s = connect(this.port, '127.0.0.1', () => resolve(s));
      s.on('error', () => undefined);
      this.sockets.push(s);
    });
  }

  private unauthenticated(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.wsUrl);
    this.clients.add(ws);
    ws.on('error', (err) => {
      if (/Unexpected server response: 401/.test(err.message)) this.refused++;
    });
    ws.on('close', () => {
      this.clients.delete(ws);
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.unauthenticated();
      }, 1000 + Math.random() * 1000); // each client its own pace: a steady stream, about 330 attempts a second
      this.timers.add(t);
    });
  }

  async start(): Promise<void> {
    for (let i = 0; i < IDLE_SOCKETS; i += 50) await Promise.all(Array.from({ length: 50 }, () => this.socket()));
    for (let i = 0; i < UNAUTH_WS; i++) this.unauthenticated();
    const meta = checkEventMeta({ agent: 'stall', hostname: 'pi-stall', camera: '1', event: '7', kind: 'picture', pixels: '1234', time: '2025-03-01T10:00:00+01:00', name: 'shot.jpg' });
    for (let i = 0; i < STALLED; i++) {
      const s = await this.socket();
      s.write(`POST /dms3/api/event?${eventQuery(meta)} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${this.token}\r\nContent-Type: image/jpeg\r\nContent-Length: ${24 * 1024 * 1024}\r\n\r\n\xff`);
    }
  }

  /** Sockets of the attack still open (the hub or Node cuts some). */
  open(): { idleAndStalled: number; unauthenticatedWs: number } {
    return { idleAndStalled: this.sockets.filter((s) => !s.destroyed).length, unauthenticatedWs: [...this.clients].filter((c) => c.readyState === WebSocket.OPEN).length };
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    for (const c of this.clients) c.terminate();
    for (const s of this.sockets) s.destroy();
  }
}

type Held = { idleAndStalled: number; unauthenticatedWs: number };
type FromAttacker = { held: Held; refused: number };

/** The attack in its own process (this file with --attacker), so that it does not slow the measuring side. */
async function startAttacker(port: number, token: string, wsUrl: string): Promise<{ report: () => Promise<FromAttacker>; stop: () => Promise<FromAttacker> }> {
  const child = fork(__filename, ['--attacker', String(port), token, wsUrl], { stdio: 'inherit' });
  const next = () => new Promise<FromAttacker>((resolve) => child.once('message', (m) => resolve(m as FromAttacker)));
  const ready = next();
  await ready;
  return {
    report: () => {
      const r = next();
      child.send('report');
      return r;
    },
    stop: async () => {
      const r = next();
      child.send('stop');
      const last = await r;
      await new Promise((resolve) => child.once('exit', resolve));
      return last;
    },
  };
}

async function attacker(port: number, token: string, wsUrl: string): Promise<void> {
  const attack = new Attack(port, token, wsUrl);
  await attack.start();
  const send = () => process.send!({ held: attack.open(), refused: attack.refused });
  send();
  process.on('message', (m) => {
    send();
    if (m === 'stop') {
      attack.stop();
      process.disconnect();
    }
  });
}

async function main(): Promise<void> {
  const token = makeToken();
  const rig = new HubRig({ token });
  try {
    await rig.start();
    const pid = rig.red.child!.pid!;
    const seen: { at: number; change: AgentChange }[] = [];
    const events = new WebSocket(rig.eventsUrl);
    await new Promise((resolve, reject) => events.once('open', resolve).once('error', reject));
    events.on('message', (data: Buffer) => seen.push({ at: performance.now(), change: JSON.parse(data.toString()) as AgentChange }));
    const names = Array.from({ length: AGENTS }, (_, i) => `bench-${i}`);
    for (const name of names) rig.agent(agentSetup(rig.dir, { name, server: rig.wsUrl, mode: 'noop', reportInterval: 15 }).config);
    await rig.converged(names, 'start', 60_000);

    let home = false;
    let lastSeq = (await rig.state()).seq;
    const rss: number[] = [];
    const sampler = setInterval(() => rss.push(rssMiB(pid)), 250);

    const measure = async () => {
      const state: number[] = [];
      for (let i = 0; i < STATE_REQUESTS; i++) {
        const t0 = performance.now();
        const r = await rig.api('GET', '/api/state');
        if (r.status !== 200) throw new Error(`GET /api/state answered ${r.status}`);
        state.push(performance.now() - t0);
      }
      const applied: number[] = [];
      for (let i = 0; i < DECISIONS; i++) {
        home = !home;
        const want = home ? 'stop' : 'start';
        const mark = seen.length;
        const t0 = performance.now();
        await rig.feed('presence', { home, source: 'bench' });
        const done = await until(
          () => {
            const a = seen.slice(mark).filter((e) => e.change.event === 'applied' && e.change.agent.applied === want && (e.change.agent.appliedSeq ?? 0) > lastSeq);
            return new Set(a.map((e) => e.change.agent.name)).size === AGENTS ? a : null;
          },
          30_000,
          `decision ${i}: all ${AGENTS} applied`,
        );
        applied.push(Math.max(...done.map((e) => e.at)) - t0);
        lastSeq = done[0].change.agent.appliedSeq!;
        await delay(100);
      }
      return { stateMs: summary(state), decisionToAllAppliedMs: summary(applied) };
    };

    rss.length = 0;
    const quiet = { ...(await measure()), rssMiB: { max: round(Math.max(...rss)) } };
    const load = { quiet: loadavg()[0], attack: 0 };
    const attack = await startAttacker(rig.red.port, token, rig.wsUrl);
    await delay(2000); // let the attack settle in
    rss.length = 0;
    const heldAtStart = (await attack.report()).held;
    const measured = await measure();
    load.attack = loadavg()[0];
    const end = await attack.stop();
    const underAttack = { ...measured, rssMiB: { max: round(Math.max(...rss)) }, heldAtStart, heldAtEnd: end.held, unauthenticatedUpgradesRefused: end.refused };
    clearInterval(sampler);
    events.close();
    const result = {
      what: 'GET /api/state (sequential, hub token) and decision → all agents applied, quiet then while the attack holds on; Node-RED RSS sampled every 250 ms',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, node: process.version, platform: `${process.platform} ${process.arch}` },
      setup: `real node-red process + ${AGENTS} dms3-agent processes over WebSocket, 127.0.0.1; attack: ${IDLE_SOCKETS} idle sockets, ${UNAUTH_WS} WebSocket clients without a token, each retrying 1-2 s after its refusal, ${STALLED} uploads declaring 24 MB stalled after the head`,
      loadAverage1m: { quiet: round(load.quiet, 1), attack: round(load.attack, 1) },
      note: 'the attack runs in its own process; measures the hub of this branch: the limits on concurrent and stalled uploads come with the event-upload work',
      quiet,
      underAttack,
      ratio: {
        stateP99: round(underAttack.stateMs.p99 / quiet.stateMs.p99, 2),
        appliedP99: round(underAttack.decisionToAllAppliedMs.p99 / quiet.decisionToAllAppliedMs.p99, 2),
      },
    };
    writeFileSync(join(__dirname, '..', '..', 'bench', 'results-attack.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await rig.close();
  }
}

const run = process.argv[2] === '--attacker' ? attacker(Number(process.argv[3]), process.argv[4], process.argv[5]) : main();
run.catch((err) => {
  console.error(err);
  process.exit(1);
});
