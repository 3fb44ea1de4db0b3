// Runs the built agent (`node dist/agent/cli.js ...`) as a separate process for tests and benchmarks.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CLI = join(__dirname, '..', '..', 'agent', 'cli.js');

/** A token that is easy to spot if it ever leaks into a log. */
export function makeToken(): string {
  return `dms3tok-${randomBytes(12).toString('hex')}`;
}

export function tempDir(prefix = 'dms3-agent-test-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeConfig(dir: string, yaml: string, name = 'agent.yaml'): string {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

export interface AgentRun {
  child: ChildProcess;
  pid: number;
  /** stdout and stderr so far. */
  output(): string;
  waitForOutput(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends the signal and waits for the exit (SIGKILL after `ms`). */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `prefix` wraps the command, e.g. ['ip', 'netns', 'exec', 'ns'] to run the agent in a namespace. */
export function startAgent(args: string[], env: Record<string, string | undefined> = {}, prefix: string[] = []): AgentRun {
  const [cmd, ...rest] = [...prefix, process.execPath, CLI, ...args];
  const child = spawn(cmd, rest, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, JOURNAL_STREAM: undefined, DMS3_TOKEN: undefined, ...env },
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const run: AgentRun = {
    child,
    pid: child.pid ?? 0,
    output: () => out,
    exited,
    async waitForOutput(re, ms = 15_000) {
      return until(() => re.exec(out), ms, `agent output matching ${re}\n--- output so far ---\n${out}`);
    },
    async stop(signal = 'SIGTERM', ms = 20_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
  return run;
}

/** Runs the CLI to completion (for check-config, --version, --help). */
export function runCli(args: string[], env: Record<string, string | undefined> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, DMS3_TOKEN: undefined, ...env }, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` every 50 ms until it returns a truthy value; fails after `ms`. */
export async function until<T>(check: () => T | undefined | null | false | Promise<T | undefined | null | false>, ms = 15_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(50);
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
