// Benchmark: Node-RED killed (SIGKILL) and restarted → every agent has the decision again. All real:
// a `node-red` process (the rig of test/support/real-hub.ts) and AGENTS `dms3-agent run` processes at
// the product's default reconnect backoff, on loopback. Each round: kill -9, wait until every agent
// noticed, stay down DOWN_MS (random up to that, so retries fall at every phase), restart, and time
// from the restarted Node-RED's "Server now running" line (its HTTP server listens) and from its
// spawn until each agent has logged the decision with a new seq.
// Run: npm run build && node dist/bench/converge.js   → bench/results-converge.json
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { delay, makeToken, until, type AgentRun } from '../test/support/agent-process';
import { agentSetup, HubRig } from '../test/support/real-hub';

const AGENTS = Number(process.env.AGENTS ?? 10);
const RESTARTS = Number(process.env.RESTARTS ?? 12);
const DOWN_MS = Number(process.env.DOWN_MS ?? 8000);

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, p50: round(quantile(s, 0.5) / 1000), p99: round(quantile(s, 0.99) / 1000), max: round(s[s.length - 1] / 1000) };
};

/** When each agent first logs a decision with a seq above `after` (polled every 5 ms). */
async function told(runs: AgentRun[], marks: number[], after: number, ms: number): Promise<number[]> {
  const at: (number | null)[] = runs.map(() => null);
  const until = performance.now() + ms;
  while (at.some((t) => t === null)) {
    runs.forEach((r, i) => {
      if (at[i] !== null) return;
      for (const m of r.output().slice(marks[i]).matchAll(/hub: (start|stop) \(.*?seq (\d+),/g)) if (Number(m[2]) > after) at[i] = performance.now();
    });
    if (performance.now() > until) throw new Error(`agents without the decision after ${ms} ms: ${runs.filter((_, i) => at[i] === null).length}`);
    await delay(5);
  }
  return at as number[];
}

async function main(): Promise<void> {
  const rig = new HubRig({ token: makeToken() });
  try {
    await rig.start();
    const names = Array.from({ length: AGENTS }, (_, i) => `conv-${i}`);
    const runs = names.map((name) => rig.agent(agentSetup(rig.dir, { name, server: rig.wsUrl, mode: 'noop', reportInterval: 15, reconnectMaxBackoff: null }).config));
    await rig.converged(names, 'start', 60_000);
    const fromListen: number[] = [];
    const fromSpawn: number[] = [];
    const worst: number[] = [];
    for (let i = 0; i < RESTARTS; i++) {
      const seq = (await rig.state()).seq;
      const marks = runs.map((r) => r.output().length);
      await rig.stopNodeRed('SIGKILL');
      await until(() => runs.every((r, j) => /lost the hub/.test(r.output().slice(marks[j]))), 20_000, 'every agent noticed');
      await delay(Math.random() * DOWN_MS);
      const spawned = performance.now();
      let listening = 0;
      const watch = setInterval(() => {
        if (!listening && rig.red.log.includes('Server now running')) listening = performance.now();
      }, 2);
      const starting = rig.restartNodeRed();
      const at = await told(runs, marks, seq, 60_000);
      await starting;
      clearInterval(watch);
      if (!listening) throw new Error('no "Server now running" line seen');
      for (const t of at) {
        fromListen.push(t - listening);
        fromSpawn.push(t - spawned);
      }
      worst.push(Math.max(...at) - listening);
      console.log(`restart ${i + 1}: spawn → listening ${round((listening - spawned) / 1000)} s; listening → all ${AGENTS} agents told ${round((Math.max(...at) - listening) / 1000)} s`);
    }
    const result = {
      what: 'Node-RED SIGKILLed and restarted: from its HTTP server listening ("Server now running") and from its spawn until each agent has logged the decision with a new seq; agents at the default reconnect backoff',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, node: process.version, platform: `${process.platform} ${process.arch}` },
      agents: AGENTS,
      restarts: RESTARTS,
      downMaxMs: DOWN_MS,
      listeningToAgentS: stats(fromListen),
      listeningToAllAgentsS: stats(worst),
      spawnToAgentS: stats(fromSpawn),
    };
    console.log(JSON.stringify(result, null, 2));
    writeFileSync(join(__dirname, '..', '..', 'bench', 'results-converge.json'), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await rig.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
