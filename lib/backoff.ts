// Exponential backoff with "equal jitter": each delay is drawn from [ceiling/2, ceiling], where the
// ceiling doubles per failed attempt up to `maxMs`. Half the delay is guaranteed (no hot retry loop),
// the other half is random so that agents that lost the hub together do not come back in lockstep.

export interface BackoffOptions {
  baseMs: number; // ceiling of the first delay
  maxMs: number; // cap of every delay
  random?: () => number; // [0, 1); injectable for tests
}

/** The delay before retry number `attempt` (0 = first retry). */
export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  const random = opts.random ?? Math.random;
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Counts failed attempts; `reset()` after a connection proved itself. */
export class Backoff {
  private attempt = 0;
  constructor(private readonly opts: BackoffOptions) {}

  /** The next delay; `capMs` lowers the cap for this one (jitter kept). */
  next(capMs = this.opts.maxMs): number {
    return backoffDelay(this.attempt++, { ...this.opts, maxMs: Math.min(capMs, this.opts.maxMs) });
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
