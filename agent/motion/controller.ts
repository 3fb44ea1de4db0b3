// One small interface over the three ways of controlling Motion. `apply` is idempotent and
// resolves with the status it confirmed; it rejects with a MotionError carrying the status seen.
import type { Surveillance } from '../../lib/policy';
import type { MotionStatus, NoticeMessage } from '../../lib/protocol';
import type { Logger } from '../log';

export interface MotionController {
  apply(state: Surveillance): Promise<MotionStatus>;
  status(): Promise<MotionStatus>;
  close(): Promise<void>;
}

/** How a controller reports what it did on its own (a restart) and status changes between applies. */
export interface ControllerHooks {
  log: Logger;
  notice(event: NoticeMessage['event'], text: string): void;
  changed(): void;
}

export class MotionError extends Error {
  constructor(
    message: string,
    readonly motion: MotionStatus,
  ) {
    super(message);
    this.name = 'MotionError';
  }
}

/** Whether a Motion status shows `state` in force ("stop" is met by paused detection or no Motion). */
export function confirms(state: Surveillance, status: MotionStatus): boolean {
  return state === 'start' ? status === 'running' : status === 'paused' || status === 'stopped';
}

/** Whether a status clearly contradicts `state` (unknown and failed are not contradictions). */
export function contradicts(state: Surveillance, status: MotionStatus): boolean {
  return state === 'start' ? status === 'paused' || status === 'stopped' : status === 'running';
}

/** Keeps the last lines of a child's output for error messages and logs each line at debug. */
export class OutputTail {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly keep = 5,
  ) {}

  push(chunk: Buffer | string): void {
    const parts = (this.partial + chunk.toString()).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.add(line);
  }

  text(): string {
    if (this.partial) {
      this.add(this.partial);
      this.partial = '';
    }
    return this.lines.join(' | ');
  }

  private add(line: string): void {
    const l = line.trim();
    if (!l) return;
    this.log.debug(`${this.prefix}: ${l}`);
    this.lines.push(l.slice(0, 200));
    if (this.lines.length > this.keep) this.lines.shift();
  }
}

/** Resolves with the promise's value, or with `undefined` after `ms` (the timer is cleared either way). */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
