// Benchmark of the whole chain, all real: a `node-red` process (dms3-server, dms3-state fed by an
// http-in, dms3-agents → websocket-out) and 10 `dms3-agent run` processes (command mode, `true`
// commands) on loopback. Times, over 30 decisions, from just before the POST that changes presence to
// the moment dms3-agents has reported "applied" from every agent (seen on its websocket-out); records
// the Node-RED process's RSS without and with the agents, and the agents' idle RSS, from /proc.
// Run: npm run build && node dist/bench/agents-real.js   → bench/results-agents-real.json
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import type { AgentChange } from '../lib/registry';
import { delay, makeToken, until } from '../test/support/agent-process';
import { agentSetup, HubRig } from '../test/support/real-hub';

const AGENTS = Number(process.env.AGENTS ?? 10);
const DECISIONS = Number(process.env.DECISIONS ?? 30);
const IDLE_S = Number(process.env.IDLE_S ?? 15);

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

/** RSS samples once a second for `seconds` (RSS moves with garbage collection: report its range). */
async function idleRss(pids: number[], seconds: number): Promise<number[][]> {
  const samples: number[][] = pids.map(() => []);
  for (let i = 0; i < seconds; i++) {
    await delay(1000);
    pids.forEach((pid, j) => samples[j].push(rssKiB(pid)));
  }
  return samples;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function main(): Promise<void> {
  const rig = new HubRig({ token: makeToken() });
  try {
    await rig.start();
    const redPid = rig.red.child!.pid!;
    const [hubAlone] = await idleRss([redPid], IDLE_S);

    // Every dms3-agents message, as the flow publishes it.
    const seen: { at: number; change: AgentChange }[] = [];
    const events = new WebSocket(rig.eventsUrl);
    await new Promise((resolve, reject) => {
      events.once('open', resolve);
      events.once('error', reject);
    });
    events.on('message', (data: Buffer) => seen.push({ at: performance.now(), change: JSON.parse(data.toString()) as AgentChange }));

    const names = Array.from({ length: AGENTS }, (_, i) => `bench-${i}`);
    const runs = names.map((name) => rig.agent(agentSetup(rig.dir, { name, server: rig.wsUrl, mode: 'noop', reportInterval: 15 }).config));
    await rig.converged(names, 'start', 60_000);

    let home = false;
    let lastSeq = (await rig.state()).seq;
    const latencies: number[] = [];
    for (let i = 0; i < DECISIONS; i++) {
      home = !home;
      const want = home ? 'stop' : 'start';
      const mark = seen.length;
      const t0 = performance.now();
      await rig.feed('presence', { home, source: 'bench' });
      const done = await until(
        () => {
          const applied = seen.slice(mark).filter((e) => e.change.event === 'applied' && e.change.agent.applied === want && (e.change.agent.appliedSeq ?? 0) > lastSeq);
          const by = new Set(applied.map((e) => e.change.agent.name));
          return by.size === AGENTS ? applied : null;
        },
        30_000,
        `decision ${i}: all ${AGENTS} applied`,
      );
      latencies.push(Math.max(...done.map((e) => e.at)) - t0);
      lastSeq = done[0].change.agent.appliedSeq!;
      await delay(200);
    }

    // Idle: heartbeats and health reports only.
    const [hubWith, ...agentSamples] = await idleRss([redPid, ...runs.map((r) => r.pid)], IDLE_S);
    const agentRss = agentSamples.map((s) => s[s.length - 1]).sort((a, b) => a - b);
    const range = (xs: number[]) => ({ min: round(Math.min(...xs) / 1024), max: round(Math.max(...xs) / 1024) });
    const sorted = [...latencies].sort((a, b) => a - b);
    const result = {
      what: 'decisionToAllAppliedMs: from just before POST /dms3-test/in (presence into dms3-state) until dms3-agents has emitted "applied" for every agent (received from its websocket-out)',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, node: process.version, platform: `${process.platform} ${process.arch}` },
      setup: `real node-red process (dms3-server, dms3-state, dms3-agents) + ${AGENTS} dms3-agent processes over WebSocket, command mode ("true"), 127.0.0.1`,
      agents: AGENTS,
      decisions: DECISIONS,
      decisionToAllAppliedMs: {
        p50: round(quantile(sorted, 0.5)),
        p90: round(quantile(sorted, 0.9)),
        p99: round(quantile(sorted, 0.99)),
        min: round(sorted[0]),
        max: round(sorted[sorted.length - 1]),
      },
      hubRssMiB: { noAgents: range(hubAlone), withAgents: range(hubWith), sampledSeconds: IDLE_S },
      agentIdleRssMiB: { min: round(agentRss[0] / 1024), median: round(quantile(agentRss, 0.5) / 1024), max: round(agentRss[agentRss.length - 1] / 1024), afterIdleSeconds: IDLE_S },
    };
    events.close();
    writeFileSync(join(__dirname, '..', '..', 'bench', 'results-agents-real.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await rig.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
