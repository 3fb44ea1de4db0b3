// What an agent does when it cannot reach the hub: after `after` seconds without it, apply the
// configured action once per outage (keep the last state, or force start/stop), and tell the hub
// about it when the connection is back. Pure: the caller passes the clock and runs the timers.
import type { Surveillance } from './policy';

export type ServerLostAction = 'keep' | Surveillance;

export interface ServerLostFired {
  /** The state to apply now, or null to keep what is applied. */
  apply: Surveillance | null;
  text: string;
}

export class ServerLost {
  private lostSince: number | null;
  private firedText: string | null = null;

  /** An agent starts out lost: until the first connection, the outage clock runs from `now`. */
  constructor(
    readonly afterMs: number,
    readonly action: ServerLostAction,
    now: number,
  ) {
    this.lostSince = now;
  }

  get lost(): boolean {
    return this.lostSince !== null;
  }

  disconnected(now: number): void {
    if (this.lostSince === null) this.lostSince = now;
  }

  /** Milliseconds until the action is due; null while connected or once it fired in this outage. */
  dueIn(now: number): number | null {
    if (this.lostSince === null || this.firedText !== null) return null;
    return Math.max(0, this.lostSince + this.afterMs - now);
  }

  /** Call when dueIn() reached 0. `applied` is the state in force (null if none was ever applied). */
  fire(now: number, applied: Surveillance | null): ServerLostFired | null {
    if (this.lostSince === null || this.firedText !== null || now < this.lostSince + this.afterMs) return null;
    const seconds = Math.round((now - this.lostSince) / 1000);
    const apply = this.action === 'keep' ? null : this.action;
    const did = apply ? `applied server_lost.action "${apply}"` : `kept the last state ${applied ? `"${applied}"` : '(none applied yet)'}`;
    this.firedText = `hub unreachable since ${new Date(this.lostSince).toISOString()}; after ${seconds} s ${did} at ${new Date(now).toISOString()}`;
    return { apply, text: this.firedText };
  }

  /** The hub is back: returns the notice text when the action fired during the outage, else null. */
  connected(now: number): string | null {
    if (this.lostSince === null) return null;
    const text = this.firedText ? `${this.firedText}; back after ${Math.round((now - this.lostSince) / 1000)} s` : null;
    this.lostSince = null;
    this.firedText = null;
    return text;
  }
}
