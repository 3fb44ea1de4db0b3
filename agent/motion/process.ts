// "process" mode: the agent runs Motion (or any configured program) as its child while the state is
// "start", stops it on "stop" (SIGTERM, then SIGKILL after stop_timeout), and restarts it with
// backoff when it dies while it should run. argv is passed as is: no shell.
import { spawn, type ChildProcess } from 'node:child_process';
import { childEnv } from '../child-env';
import { Backoff } from '../../lib/backoff';
import type { Surveillance } from '../../lib/policy';
import type { MotionStatus } from '../../lib/protocol';
import { MotionError, OutputTail, within, type ControllerHooks, type MotionController } from './controller';

/** A child that exits within this time after spawning counts as failing to start. */
const SETTLE_MS = 1000;
/** A child that ran this long resets the restart backoff. */
const STABLE_MS = 60_000;

interface Running {
  child: ChildProcess;
  startedAt: number;
  tail: OutputTail;
  ended: Promise<string>; // resolves with "code N" / "signal S" / the spawn error
}

export class ProcessController implements MotionController {
  private run: Running | null = null;
  private want: Surveillance | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private readonly restarts = new Backoff({ baseMs: 1000, maxMs: 60_000 });
  private closing = false;

  constructor(
    private readonly cfg: { command: string[]; stopTimeout: number },
    private readonly hooks: ControllerHooks,
  ) {}

  async apply(state: Surveillance): Promise<MotionStatus> {
    this.want = state;
    this.cancelRestart();
    if (state === 'start') {
      if (!this.run) await this.launch();
      return 'running';
    }
    await this.stopChild();
    return 'stopped';
  }

  async status(): Promise<MotionStatus> {
    if (this.run) return 'running';
    return this.want === 'start' ? 'failed' : 'stopped';
  }

  async close(): Promise<void> {
    this.closing = true;
    this.want = 'stop';
    this.cancelRestart();
    await this.stopChild();
  }

  /** Starts the child; resolves with its pid once it survived SETTLE_MS. */
  private async launch(): Promise<number | undefined> {
    const [cmd, ...args] = this.cfg.command;
    const tail = new OutputTail(cmd.split('/').pop() ?? cmd, this.hooks.log);
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
    child.stdout?.on('data', (d: Buffer) => tail.push(d));
    child.stderr?.on('data', (d: Buffer) => tail.push(d));
    const ended = new Promise<string>((resolve) => {
      child.once('error', (err) => resolve(err.message));
      child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`));
    });
    const run: Running = { child, startedAt: Date.now(), tail, ended };
    this.run = run;
    void ended.then((why) => this.exited(run, why));
    this.hooks.log.info(`started ${this.cfg.command.join(' ')} (pid ${child.pid ?? '-'})`);
    const early = await within(ended, SETTLE_MS);
    if (early !== undefined) {
      const out = tail.text();
      throw new MotionError(`${cmd} exited at once (${early})${out ? `: ${out}` : ''}`, 'failed');
    }
    return child.pid;
  }

  /** A child ended: restart it when it should still run. */
  private exited(run: Running, why: string): void {
    if (this.run !== run) return;
    this.run = null;
    if (this.want !== 'start' || this.closing) {
      this.hooks.log.info(`${this.cfg.command[0]} stopped (${why})`);
      return;
    }
    if (Date.now() - run.startedAt >= STABLE_MS) this.restarts.reset();
    const wait = this.restarts.next();
    const out = run.tail.text();
    const text = `${this.cfg.command[0]} exited (${why})${out ? `: ${out}` : ''}; restarting in ${(wait / 1000).toFixed(1)} s`;
    this.hooks.log.warn(text);
    this.hooks.notice('motion-failed', text);
    this.hooks.changed();
    this.restartTimer = setTimeout(() => void this.restart(why), wait);
  }

  private async restart(why: string): Promise<void> {
    this.restartTimer = null;
    if (this.want !== 'start' || this.run || this.closing) return;
    let pid: number | undefined;
    try {
      pid = await this.launch();
    } catch {
      return; // exited() has already scheduled the next attempt
    }
    const text = `${this.cfg.command[0]} restarted (pid ${pid ?? '-'}) after it exited (${why})`;
    this.hooks.log.info(text);
    this.hooks.notice('motion-restarted', text);
    this.hooks.changed();
  }

  private cancelRestart(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }

  private async stopChild(): Promise<void> {
    const run = this.run;
    if (!run) return;
    const { child, ended } = run;
    child.kill('SIGTERM');
    if ((await within(ended, this.cfg.stopTimeout * 1000)) === undefined) {
      this.hooks.log.warn(`${this.cfg.command[0]} did not exit within ${this.cfg.stopTimeout} s of SIGTERM; sending SIGKILL`);
      child.kill('SIGKILL');
      await ended;
    }
  }
}
