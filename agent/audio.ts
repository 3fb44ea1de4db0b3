// Optional sound on start/stop (e.g. `aplay motion_start.wav`). A cue that cannot play is a warning,
// never a failure of the state change.
import { spawn, type ChildProcess } from 'node:child_process';
import { childEnv } from './child-env';
import type { Surveillance } from '../lib/policy';
import type { Logger } from './log';

export class AudioCue {
  private readonly playing = new Set<ChildProcess>();

  constructor(
    private readonly cfg: { player: string; start?: string; stop?: string },
    private readonly log: Logger,
  ) {}

  play(state: Surveillance): void {
    const file = this.cfg[state];
    if (!file) return;
    const child = spawn(this.cfg.player, [file], { stdio: 'ignore', env: childEnv() });
    this.playing.add(child);
    child.once('error', (err) => this.log.warn(`audio cue: cannot run ${this.cfg.player}: ${err.message}`));
    child.once('close', (code) => {
      this.playing.delete(child);
      if (code) this.log.warn(`audio cue: ${this.cfg.player} ${file} exited with code ${code}`);
    });
  }

  close(): void {
    for (const child of this.playing) child.kill();
  }
}
