// "command" mode: the user's own start, stop and (optional) status commands, run with `sh -c`
// because the user wrote shell command lines (e.g. "sudo systemctl start motion").
// Status: exit 0 means Motion is running.
import { spawn } from 'node:child_process';
import { childEnv } from '../child-env';
import { setTimeout as delay } from 'node:timers/promises';
import type { Surveillance } from '../../lib/policy';
import type { MotionStatus } from '../../lib/protocol';
import { MotionError, OutputTail, type ControllerHooks, type MotionController } from './controller';

export interface CommandConfig {
  start: string;
  stop: string;
  status?: string;
  timeout: number; // seconds per command
}

interface Result {
  code: number | null; // null: killed after the timeout or could not run
  output: string;
}

export class CommandController implements MotionController {
  private applied: Surveillance | null = null;
  private readonly running = new Set<number>(); // process groups of commands in flight

  constructor(
    private readonly cfg: CommandConfig,
    private readonly hooks: ControllerHooks,
  ) {}

  async apply(state: Surveillance): Promise<MotionStatus> {
    const want: MotionStatus = state === 'start' ? 'running' : 'stopped';
    // Idempotent: with a status command ask Motion; without one, trust the last successful run.
    if (this.cfg.status ? (await this.status()) === want : this.applied === state) return want;
    const which = state === 'start' ? 'start' : 'stop';
    const r = await this.run(this.cfg[which]);
    if (r.code !== 0) {
      this.applied = null;
      const how = r.code === null ? `did not finish within ${this.cfg.timeout} s` : `exited with code ${r.code}`;
      throw new MotionError(`${which} command ${how}${r.output ? `: ${r.output}` : ''}`, await this.status());
    }
    this.applied = state;
    if (!this.cfg.status) return want;
    for (let attempt = 0; ; attempt++) {
      const seen = await this.status();
      if (seen === want) return seen;
      if (attempt >= 5) throw new MotionError(`${which} command succeeded but the status command says Motion is ${seen}`, seen);
      await delay(500);
    }
  }

  async status(): Promise<MotionStatus> {
    if (!this.cfg.status) return this.applied === 'start' ? 'running' : this.applied === 'stop' ? 'stopped' : 'unknown';
    const r = await this.run(this.cfg.status);
    return r.code === null ? 'unknown' : r.code === 0 ? 'running' : 'stopped';
  }

  async close(): Promise<void> {
    for (const pgid of this.running) killGroup(pgid);
  }

  /** Runs a command line in its own process group, so that a timeout kills all it started. */
  private run(line: string): Promise<Result> {
    const tail = new OutputTail('command', this.hooks.log);
    this.hooks.log.debug(`running: ${line}`);
    return new Promise((resolve) => {
      const child = spawn('sh', ['-c', line], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: childEnv() });
      const pgid = child.pid;
      if (pgid) this.running.add(pgid);
      child.stdout?.on('data', (d: Buffer) => tail.push(d));
      child.stderr?.on('data', (d: Buffer) => tail.push(d));
      const timer = setTimeout(() => pgid && killGroup(pgid), this.cfg.timeout * 1000);
      const finish = (code: number | null) => {
        clearTimeout(timer);
        if (pgid) this.running.delete(pgid);
        resolve({ code, output: tail.text() });
      };
      child.once('error', (err) => {
        tail.push(err.message);
        finish(null);
      });
      child.once('close', (code) => finish(code));
    });
  }
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}
