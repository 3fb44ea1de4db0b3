// Benchmark of motion events in a real Node-RED (embedded) with the hub and a dms3-event node:
// 1. the hook command's own run time, process start to exit (a real `node dist/agent/cli.js hook`
//    process per run, as Motion starts it), hub on loopback; and, for comparison, a bare `node -e 0`
//    and the hook when the hub is down (the spool path);
// 2. sustained events per second through the endpoint: uploads of a 30 KB JPEG at a fixed concurrency,
//    from a child process, each with its own Idempotency-Key; every one must reach the flow.
// Run: npm run build && node dist/bench/events.js [runs] [uploads] → bench/results-events.json
import { execFile, fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeJpeg } from '../test/support/images';
import { startNodeRed } from '../test/support/node-red-embedded';
import { freePort } from '../test/support/node-red-process';

const TOKEN = 'bench-token-0123456789abcdef';
const HOOK = join(__dirname, '..', 'agent', 'cli.js');
const CONCURRENCY = 8;

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const summary = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: round(quantile(s, 0.5)), p99: round(quantile(s, 0.99)), min: round(s[0]), max: round(s.at(-1)!) };
};

/** Wall time of one process, from spawn to exit. */
function timed(args: string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) =>
    execFile(process.execPath, args, { env: { PATH: process.env.PATH } }, (err, _out, stderr) => {
      if (err) reject(new Error(`${args.join(' ')} failed: ${stderr}`));
      else resolve(performance.now() - t0);
    }),
  );
}

// ---- the child: the load generator
async function load(url: string, n: number, concurrency: number): Promise<void> {
  const jpeg = makeJpeg(640, 480, { x: 100, y: 100, size: 60 });
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let next = 0;
  const one = (i: number) => {
    const start = performance.now();
    return new Promise<void>((resolve, reject) => {
      const q = new URLSearchParams({ agent: `pi-${i % 10}`, camera: '1', event: String(i), kind: 'picture', pixels: '5000', name: `${i}.jpg` });
      const req = request(`${url}/dms3/event?${q}`, {
        method: 'POST',
        agent,
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'image/jpeg', 'Content-Length': jpeg.length, 'Idempotency-Key': `bench-${process.pid}-${i}-0000000000` },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`upload ${i}: ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(jpeg);
    }).then(() => void latencies.push(performance.now() - start));
  };
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await one(next++);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  process.send!({ seconds, latencies, bytes: jpeg.length });
}

// ---- the parent: Node-RED with the hub and an event node
async function main(): Promise<void> {
  const RUNS = Number(process.argv[2] ?? 50);
  const UPLOADS = Number(process.argv[3] ?? 2000);
  const flows = [
    { id: 'tab1', type: 'tab', label: 'bench' },
    { id: 'hub1', type: 'dms3-server', name: '', base: '/dms3', heartbeat: 10, eventLimit: 25 },
    { id: 'ev1', type: 'dms3-event', z: 'tab1', name: '', server: 'hub1', wires: [['count1']] },
    { id: 'count1', type: 'function', z: 'tab1', func: "context.set('n', (context.get('n') || 0) + 1); return null;", outputs: 1, wires: [[]] },
  ];
  const nr = await startNodeRed({ flows, credentials: { hub1: { token: TOKEN } }, logLevel: 'error' });
  let received = 0;
  nr.RED.nodes.getNode('hub1').events.bind(() => received++); // beside the event node
  const work = mkdtempSync(join(tmpdir(), 'dms3-bench-events-'));
  try {
    const picture = join(work, '01-20250301100000-01.jpg');
    writeFileSync(picture, makeJpeg(640, 480, { x: 100, y: 100, size: 60 }));
    const config = (port: number) => {
      const path = join(work, `agent-${port}.yaml`);
      writeFileSync(path, `server: ws://127.0.0.1:${port}/dms3/agent\nname: pi-bench\ntoken: ${TOKEN}\nspool:\n  dir: ${join(work, 'spool')}\n  max_files: 5\n`);
      return path;
    };
    const up = config(Number(new URL(nr.url).port));
    const down = config(await freePort());
    const hookArgs = (cfg: string, i: number) => [HOOK, 'hook', 'picture', '--config', cfg, '--file', picture, '--pixels', '5000', '--camera', '1', '--event', String(i)];

    for (let i = 0; i < 3; i++) await timed(hookArgs(up, 1000 + i)); // warm the disk cache
    const bare: number[] = [];
    const uploaded: number[] = [];
    const spooled: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      bare.push(await timed(['-e', '0']));
      uploaded.push(await timed(hookArgs(up, i)));
      spooled.push(await timed(hookArgs(down, i)));
    }
    const hookResult = { runs: RUNS, bareNodeMs: summary(bare), uploadMs: summary(uploaded), hubDownSpoolMs: summary(spooled) };
    console.log(JSON.stringify(hookResult));

    received = 0;
    const child = fork(__filename, ['--load', nr.url, String(UPLOADS), String(CONCURRENCY)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const r = await new Promise<{ seconds: number; latencies: number[]; bytes: number }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { seconds: number; latencies: number[]; bytes: number }));
      child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
    });
    if (received !== UPLOADS) throw new Error(`${received} of ${UPLOADS} uploads reached the flow`);
    const endpointResult = { uploads: UPLOADS, concurrency: CONCURRENCY, fileBytes: r.bytes, eventsPerSecond: Math.round(UPLOADS / r.seconds), megabytesPerSecond: round((UPLOADS * r.bytes) / r.seconds / 1048576), latencyMs: summary(r.latencies) };
    console.log(JSON.stringify(endpointResult));

    const out = {
      what: 'Motion events: the hook command (a real process per run, start to exit; bareNodeMs is `node -e 0` for comparison; hubDownSpoolMs: connection refused, event spooled), and uploads through POST <base>/event into a dms3-event node',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, nodeRed: nr.RED.version() },
      setup: 'real Node-RED (embedded) + dms3-server + dms3-event on 127.0.0.1; hook runs one at a time; uploads from a child process over keep-alive connections, each a distinct event',
      hook: hookResult,
      endpoint: endpointResult,
    };
    writeFileSync(join(__dirname, '..', '..', 'bench', 'results-events.json'), `${JSON.stringify(out, null, 2)}\n`);
  } finally {
    await nr.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--load') {
  load(process.argv[3], Number(process.argv[4]), Number(process.argv[5])).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
