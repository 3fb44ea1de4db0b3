// Repeated warnings from peers, summarised: the first few of a kind in a window are logged as they
// come, the rest are counted and reported in one line when the window ends ("1,000 bad frames from
// the hub in the last minute"). Pure: the caller passes the clock and logs what it is given.

export interface SummaryOptions {
  windowMs: number; // length of one counting window
  burst: number; // lines of one kind logged as they come, per window
  maxKinds: number; // kinds tracked at once (the oldest window is summarised and dropped beyond)
}

interface Window {
  start: number;
  logged: number;
  held: number; // counted, not logged
  last: string;
}

const DEFAULTS: SummaryOptions = { windowMs: 60_000, burst: 3, maxKinds: 100 };

export class LogSummary {
  private readonly kinds = new Map<string, Window>();
  private readonly opts: SummaryOptions;

  constructor(opts: Partial<SummaryOptions> = {}) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  /**
   * One warning of `kind` (a short plain description, e.g. "bad frames from the hub"). Returns the
   * lines to log now: none while it is being counted, its own text within the burst, and first the
   * summary of the kind's previous window when that window has ended.
   */
  note(kind: string, text: string, now: number): string[] {
    const out: string[] = [];
    let w = this.kinds.get(kind);
    if (w && now - w.start >= this.opts.windowMs) {
      out.push(...this.close(kind, w));
      w = undefined;
    }
    if (!w) {
      if (this.kinds.size >= this.opts.maxKinds) {
        const [oldest, ow] = this.kinds.entries().next().value as [string, Window];
        out.push(...this.close(oldest, ow));
      }
      w = { start: now, logged: 0, held: 0, last: text };
      this.kinds.set(kind, w);
    }
    w.last = text;
    if (w.logged < this.opts.burst) {
      w.logged++;
      out.push(text);
    } else {
      w.held++;
    }
    return out;
  }

  /** Summaries of every window that has ended by `now` (all of them with `all`, e.g. at close). */
  flush(now: number, all = false): string[] {
    const out: string[] = [];
    for (const [kind, w] of this.kinds) if (all || now - w.start >= this.opts.windowMs) out.push(...this.close(kind, w));
    return out;
  }

  private close(kind: string, w: Window): string[] {
    this.kinds.delete(kind);
    if (w.held === 0) return [];
    const seconds = Math.round(this.opts.windowMs / 1000);
    return [`${(w.logged + w.held).toLocaleString('en-US')} ${kind} in the last ${seconds} s (${w.held.toLocaleString('en-US')} not logged one by one; last: ${w.last})`];
  }
}
