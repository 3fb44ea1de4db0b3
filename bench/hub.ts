// Benchmark of the hub in a real Node-RED: N agents (10, 100, 1000) on WebSockets in a child process,
// each answering "applied" at once. Measures, over 20 decisions of dms3-state, the time from the
// hub's publish to the last agent's confirmation, and the hub's memory per connected agent.
// Run: npm run build && node dist/bench/hub.js [N ...]   → bench/results-hub.json
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AgentChange } from '../lib/registry';
import { TestAgent } from '../test/support/agent';
import { startNodeRed } from '../test/support/node-red-embedded';

const TOKEN = 'bench-token-0123456789abcdef';
const DECISIONS = 20;
const sizes = process.argv.slice(2).filter((a) => /^\d+$/.test(a)).map(Number);
const SIZES = sizes.length ? sizes : [10, 100, 1000];

// ---- the child: N agents
async function clients(url: string, n: number): Promise<void> {
  const agents: TestAgent[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = Array.from({ length: Math.min(50, n - i) }, (_, j) => new TestAgent(url, { token: TOKEN, name: `pi-${i + j}` }));
    await Promise.all(batch.map((a) => a.open()));
    agents.push(...batch);
  }
  process.send!({ ready: agents.length });
  process.on('message', () => {
    for (const a of agents) a.close();
    process.exit(0);
  });
}

// ---- the parent: Node-RED with the hub
function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

function settle(): void {
  for (let i = 0; i < 4; i++) global.gc!();
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function main(): Promise<void> {
  const flows = [
    { id: 'tab1', type: 'tab', label: 'bench' },
    { id: 'hub1', type: 'dms3-server', name: '', base: '/dms3', heartbeat: 10 },
    { id: 'state1', type: 'dms3-state', z: 'tab1', name: '', startup: 'start', server: 'hub1', wires: [[]] },
  ];
  const nr = await startNodeRed({ flows, credentials: { hub1: { token: TOKEN } }, logLevel: 'error' });
  const hub = nr.RED.nodes.getNode('hub1').hub;
  const state = nr.RED.nodes.getNode('state1');
  const wsUrl = `${nr.url.replace('http', 'ws')}/dms3/agent`;
  const results = [];

  // The first round (10 agents, not recorded) warms up the code paths, so later rounds measure agents.
  for (const [k, n] of [10, ...SIZES].entries()) {
    settle();
    const before = process.memoryUsage();
    const t0 = performance.now();
    const child: ChildProcess = fork(__filename, ['--clients', wsUrl, String(n)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`clients exited with ${code}`)));
    });
    await until(() => hub.registry.counts().connected === n, 60_000, `${n} connected`);
    const connectMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 500));
    settle();
    const after = process.memoryUsage();

    const samples: number[] = [];
    const fromInput: number[] = [];
    for (let i = 0; i < DECISIONS; i++) {
      let seq = -1;
      let start = 0;
      let confirmed = 0;
      let done = 0;
      const onState = (msg: { seq: number }) => {
        seq = msg.seq;
        start = performance.now();
      };
      const onAgent = (c: AgentChange) => {
        if (c.event === 'applied' && c.agent.appliedSeq === seq && ++confirmed === n) done = performance.now();
      };
      hub.once('state', onState);
      hub.registry.on('agent', onAgent);
      const input = performance.now();
      state.receive({ topic: 'override', payload: i % 2 === 0 ? 'stop' : 'start' });
      await until(() => done > 0, 30_000, `decision ${i}: ${confirmed}/${n} confirmed`);
      hub.registry.off('agent', onAgent);
      samples.push(done - start);
      fromInput.push(done - input);
      await new Promise((r) => setTimeout(r, 100));
    }
    samples.sort((a, b) => a - b);
    fromInput.sort((a, b) => a - b);
    const result = {
      agents: n,
      decisions: DECISIONS,
      allConfirmedMs: { p50: round(quantile(samples, 0.5)), p99: round(quantile(samples, 0.99)), min: round(samples[0]), max: round(samples.at(-1)!) },
      fromInputMessageMs: { p50: round(quantile(fromInput, 0.5)), p99: round(quantile(fromInput, 0.99)) },
      connectAllMs: Math.round(connectMs),
      heapPerAgentKiB: round((after.heapUsed - before.heapUsed) / n / 1024, 1),
      // RSS moves by megabytes on its own (the allocator returns pages): a delta over 10 agents says nothing.
      rssPerAgentKiB: n >= 100 ? round((after.rss - before.rss) / n / 1024, 1) : null,
      hubRssMiB: round(after.rss / 1024 / 1024, 1),
    };
    if (k > 0) {
      console.log(JSON.stringify(result));
      results.push(result);
    }

    child.send('stop');
    await new Promise((r) => child.once('exit', r));
    await until(() => hub.registry.counts().connected === 0, 30_000, 'all disconnected');
    state.receive({ topic: 'override', payload: 'auto' });
  }
  await nr.stop();

  const out = {
    what: 'dms3-server hub: allConfirmedMs = from a dms3-state decision (the hub publishes it) until every agent has answered "applied" (fromInputMessageMs: from the input message to dms3-state); memory of the Node-RED process per connected agent, after GC',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, nodeRed: nr.RED.version() },
    setup: 'real Node-RED (embedded) + dms3-server + dms3-state on 127.0.0.1; agents: ws clients in one child process speaking lib/protocol.ts (ajv-validated), answering applied at once',
    results,
  };
  writeFileSync(join(__dirname, '..', '..', 'bench', 'results-hub.json'), `${JSON.stringify(out, null, 2)}\n`);
}

if (process.argv[2] === '--clients') {
  void clients(process.argv[3], Number(process.argv[4]));
} else if (!global.gc) {
  // Memory deltas need a collected heap: run again with --expose-gc.
  const child = fork(__filename, process.argv.slice(2), { execArgv: ['--expose-gc'], stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 1));
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
