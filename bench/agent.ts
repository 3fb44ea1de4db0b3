// Benchmark: an agent's idle footprint and its reaction time. Runs `node dist/agent/cli.js run`
// (command mode, no-op commands) against the test hub on loopback, samples /proc/<pid>/stat and
// /proc/<pid>/status once a second for IDLE_S seconds, then times hub state → "applied" round trips.
// Usage: npm run build && node dist/bench/agent.js   → bench/results-agent.json
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestHub } from '../test/support/agent-hub';
import { delay, makeToken, startAgent, tempDir, until, writeConfig } from '../test/support/agent-process';

const IDLE_S = Number(process.env.IDLE_S ?? 20);
const ROUND_TRIPS = 20;
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function cpuTicks(pid: number): number {
  // Fields after the ")" of the command name: state is field 3, utime 14, stime 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const tmp = tempDir('dms3-agent-bench-');
  const token = makeToken();
  const hub = await startTestHub({ token, state: 'start' });
  const config = writeConfig(tmp.dir, `server: ${hub.wsUrl}\nmotion:\n  mode: command\n  start: "true"\n  stop: "true"\n`);
  const t0 = Date.now();
  const agent = startAgent(['run', '--config', config], { DMS3_TOKEN: token });
  try {
    await until(() => hub.of('applied').length > 0, 30_000, 'first applied');
    const startToApplied = Date.now() - t0;
    await delay(2000); // settle after start-up

    const samples: { t: number; rss: number; ticks: number }[] = [];
    const began = Date.now();
    while (Date.now() - began < IDLE_S * 1000) {
      samples.push({ t: Date.now(), rss: rssKiB(agent.pid), ticks: cpuTicks(agent.pid) });
      await delay(1000);
    }
    samples.push({ t: Date.now(), rss: rssKiB(agent.pid), ticks: cpuTicks(agent.pid) });
    const first = samples[0];
    const last = samples[samples.length - 1];
    const cpuSeconds = (last.ticks - first.ticks) / TICK;
    const wall = (last.t - first.t) / 1000;

    const latencies: number[] = [];
    for (let i = 0; i < ROUND_TRIPS; i++) {
      const sent = Date.now();
      const msg = hub.setState(i % 2 ? 'start' : 'stop');
      while (!hub.of('applied').some((a) => a.seq === msg.seq)) {
        if (Date.now() - sent > 10_000) throw new Error(`no applied for seq ${msg.seq}`);
        await delay(1);
      }
      latencies.push(Date.now() - sent);
      await delay(100);
    }

    const result = {
      date: new Date().toISOString(),
      node: process.version,
      machine: `${process.platform} ${process.arch}`,
      idle: {
        seconds: Math.round(wall),
        rssKiB: { min: Math.min(...samples.map((s) => s.rss)), max: Math.max(...samples.map((s) => s.rss)), end: last.rss },
        cpuSeconds: Number(cpuSeconds.toFixed(2)),
        cpuPercent: Number(((cpuSeconds / wall) * 100).toFixed(2)),
      },
      startToFirstAppliedMs: startToApplied,
      stateToAppliedMs: { runs: ROUND_TRIPS, median: median(latencies), max: Math.max(...latencies), note: 'command mode with no-op commands, loopback' },
    };
    const file = join(__dirname, '..', '..', 'bench', 'results-agent.json');
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await agent.stop('SIGTERM');
    await hub.close();
    tmp.remove();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
