// Delivers the outbox one mail at a time, oldest first. A transient failure pauses delivery with
// exponential backoff (the server is likely down for every mail alike); a permanent refusal, or a mail
// still unsent after `giveUpMs`, is moved to failed/.
import type { OutgoingMail } from '../../lib/mail/compose';
import { isPermanent, retryDelay } from '../../lib/mail/retry';
import type { Outbox, StoredMail } from './outbox';

export type Delivery = 'sent' | 'queued';

export interface CourierHooks {
  onSent(mail: StoredMail): void;
  onRetry(mail: StoredMail, err: Error, delayMs: number): void;
  /** A mail given up; `waited` is false when its enqueue() caller already gets the error. */
  onFailed(mail: StoredMail, err: Error, waited: boolean): void;
}

interface Waiter {
  resolve(d: Delivery): void;
  reject(err: Error): void;
}

// An attempt still running in a closed node (a redeploy or restart of the flow) is awaited by the next
// node with the same outbox before it reads the outbox, so the mail is not sent twice.
const running = new Map<string, Promise<unknown>>();

export class Courier {
  private queue: StoredMail[] = [];
  private readonly waiters = new Map<string, Waiter>();
  private failures = 0;
  private pausedUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private pumping = false;
  private stopped = false;
  private attempt: Promise<unknown> | null = null;
  private started: Promise<void> | null = null;
  sent = 0;
  failed = 0;

  constructor(
    private readonly outbox: Outbox,
    private readonly send: (mail: StoredMail) => Promise<void>,
    private readonly opts: { retryFirstMs: number; giveUpMs: number; now?: () => number },
    private readonly hooks: CourierHooks,
  ) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  get queued(): number {
    return this.queue.length;
  }

  /** True while delivery waits after a failure. */
  get retrying(): boolean {
    return this.pausedUntil > this.now();
  }

  /** Load what an earlier run left in the outbox and start delivering it. */
  start(): Promise<void> {
    this.started ??= (async () => {
      await running.get(this.outbox.dir);
      const stored = await this.outbox.list();
      this.queue.push(...stored);
      this.queue.sort((a, b) => a.createdAt - b.createdAt);
      void this.pump();
    })();
    return this.started;
  }

  /**
   * Store a mail and deliver it. Resolves "sent" after a successful first attempt, "queued" when it waits
   * for a retry (or the courier is stopped); rejects when the server refused it for good.
   * `onStored` runs as soon as the mail is durably in the outbox.
   */
  async enqueue(mail: OutgoingMail, onStored: (stored: StoredMail) => void = () => {}): Promise<Delivery> {
    await this.start();
    const stored = await this.outbox.put(mail, this.now());
    onStored(stored);
    this.queue.push(stored);
    if (this.stopped || this.retrying) return 'queued';
    const result = new Promise<Delivery>((resolve, reject) => this.waiters.set(stored.id, { resolve, reject }));
    void this.pump();
    return result;
  }

  private settle(id: string, outcome: Delivery | Error): void {
    const w = this.waiters.get(id);
    if (!w) return;
    this.waiters.delete(id);
    if (outcome instanceof Error) w.reject(outcome);
    else w.resolve(outcome);
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.stopped && this.queue.length > 0) {
        const wait = this.pausedUntil - this.now();
        if (wait > 0) {
          for (const m of this.queue) this.settle(m.id, 'queued');
          clearTimeout(this.timer);
          this.timer = setTimeout(() => void this.pump(), wait);
          return;
        }
        const mail = this.queue[0];
        this.attempt = this.deliver(mail);
        try {
          await this.attempt;
        } catch (err) {
          // The outbox itself failed (disk full, permissions): keep the mail and try again later.
          if (!this.queue.includes(mail)) this.queue.unshift(mail);
          this.pause(mail, err as Error);
        }
        this.attempt = null;
      }
    } finally {
      this.pumping = false;
    }
  }

  private async deliver(mail: StoredMail): Promise<void> {
    let error: Error | null = null;
    // A closed node's late attempt may have sent and removed it meanwhile.
    if (await this.outbox.exists(mail)) {
      try {
        await this.send(mail);
      } catch (err) {
        error = err as Error;
      }
    }
    this.queue = this.queue.filter((m) => m !== mail);
    if (!error) {
      await this.outbox.remove(mail);
      this.failures = 0;
      this.sent++;
      this.settle(mail.id, 'sent');
      this.hooks.onSent(mail);
      return;
    }
    mail.attempts++;
    mail.lastError = error.message;
    const expired = this.now() - mail.createdAt >= this.opts.giveUpMs;
    if (isPermanent(error as { code?: unknown; responseCode?: unknown }) || expired) {
      const final = expired ? new Error(`gave up after ${mail.attempts} attempts: ${error.message}`) : error;
      await this.outbox.fail(mail);
      this.failed++;
      const waited = this.waiters.has(mail.id);
      this.settle(mail.id, final);
      this.hooks.onFailed(mail, final, waited);
      return;
    }
    this.queue.unshift(mail);
    await this.outbox.update(mail);
    this.pause(mail, error);
  }

  private pause(mail: StoredMail, error: Error): void {
    this.failures++;
    const delay = retryDelay(this.failures, this.opts.retryFirstMs);
    this.pausedUntil = this.now() + delay;
    this.settle(mail.id, 'queued');
    this.hooks.onRetry(mail, error, delay);
  }

  /** Stop delivering (the outbox keeps what is left). Does not wait for an attempt in progress. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const id of [...this.waiters.keys()]) this.settle(id, 'queued');
    const attempt = this.attempt;
    if (attempt) {
      const dir = this.outbox.dir;
      const done: Promise<unknown> = attempt.catch(() => undefined).finally(() => {
        if (running.get(dir) === done) running.delete(dir);
      });
      running.set(dir, done);
    }
  }
}
