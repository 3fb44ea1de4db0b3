// HTTP polling transport, for networks where a WebSocket cannot pass: GET <server>/api/state every
// poll interval, POST <server>/api/report for hello/health/applied/notice (in order). Every request
// names the agent in X-DMS3-Agent: only hello carries the name in its body.
import { EventEmitter } from 'node:events';
import { Backoff } from '../../lib/backoff';
import { LogSummary } from '../../lib/log-summary';
import { MAX_MESSAGE_BYTES, parseServerMessage, type AgentMessage, type StateMessage } from '../../lib/protocol';
import { readCapped } from '../http-body';
import type { Logger } from '../log';
import { retryText, unauthorizedText, type Transport, type TransportEvents } from './transport';

/** Deadline of one whole exchange (connect, headers and body), not only of the headers. */
export const REQUEST_TIMEOUT_MS = 10_000;
/** An answer's body is read up to this size (a state is ~150 bytes); beyond, the answer is refused. */
export const MAX_ANSWER_BYTES = MAX_MESSAGE_BYTES;

export interface PollingOptions {
  base: string; // e.g. http://hub:1880/dms3
  token: string;
  name: string;
  intervalMs: number;
  maxBackoffMs: number;
  log: Logger;
}

export class PollingTransport extends EventEmitter<TransportEvents> implements Transport {
  private up = false;
  private closed = true;
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private lastSeq: number | null = null;
  private sending: Promise<void> = Promise.resolve();
  private readonly inflight = new Set<AbortController>();
  private readonly backoff: Backoff;
  private readonly base: string;
  private readonly warnings = new LogSummary();
  private flushTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: PollingOptions) {
    super();
    this.base = opts.base.replace(/\/+$/, '');
    this.backoff = new Backoff({ baseMs: 1000, maxMs: opts.maxBackoffMs });
  }

  get connected(): boolean {
    return this.up;
  }

  connect(): void {
    this.closed = false;
    // Summaries of held-back warnings come out even when the hub goes quiet.
    this.flushTimer = setInterval(() => this.flushWarnings(false), 10_000);
    this.flushTimer.unref();
    void this.poll();
  }

  send(message: AgentMessage): void {
    if (!this.up) return;
    this.opts.log.debug(`→ ${message.type}`);
    this.sending = this.sending.then(() => this.report(message));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const c of this.inflight) c.abort();
    await this.sending;
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushWarnings(true);
  }

  /** A warning about the hub, summarised when it repeats (a hostile hub must not flood the log). */
  private warn(kind: string, text: string): void {
    for (const line of this.warnings.note(kind, text, Date.now())) this.opts.log.warn(line);
  }

  private flushWarnings(all: boolean): void {
    for (const line of this.warnings.flush(Date.now(), all)) this.opts.log.warn(line);
  }

  private async poll(): Promise<void> {
    this.timer = null;
    if (this.closed) return;
    let next = this.opts.intervalMs;
    this.polling = true;
    try {
      const msg = await this.fetchState();
      if (!this.up) {
        this.up = true;
        this.backoff.reset();
        this.opts.log.info(`connected to the hub at ${this.base} (polling every ${this.opts.intervalMs / 1000} s)`);
        this.emit('up');
        this.lastSeq = null; // after an outage hand on the state even if unchanged
      }
      if (msg.seq !== this.lastSeq) {
        this.lastSeq = msg.seq;
        this.opts.log.debug(`← state ${msg.state} seq ${msg.seq}`);
        this.emit('state', msg);
      }
    } catch (err) {
      if (this.closed) return;
      next = this.backoff.next();
      const text = (err as Error).message;
      if (this.up) {
        this.up = false;
        this.emit('down', text);
      }
      if (err instanceof Unauthorized) this.opts.log.error(`${unauthorizedText(`${this.base}/api/state`)}; ${retryText(next)}`);
      else this.opts.log.warn(`cannot poll the hub at ${this.base}/api/state: ${text}; ${retryText(next)}`);
    } finally {
      this.polling = false;
    }
    if (!this.closed) this.timer = setTimeout(() => void this.poll(), next);
  }

  private async fetchState(): Promise<StateMessage> {
    const text = await this.request('GET', '/api/state');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new Error(`the answer is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
    }
    if (typeof body !== 'object' || body === null) throw new Error('the answer is not a JSON object');
    const { seq, state, reason, since } = body;
    return parseServerMessage(JSON.stringify({ v: 1, type: 'state', seq, state, reason, since }));
  }

  private async report(message: AgentMessage): Promise<void> {
    try {
      await this.request('POST', '/api/report', JSON.stringify(message));
    } catch (err) {
      this.warn('reports the hub did not take', `could not send ${message.type} to the hub: ${(err as Error).message}`);
      if (err instanceof UnknownAgent) this.forgotten();
    }
  }

  /** The hub restarted between two polls and no longer knows this agent: go down, and up again (hello) at once. */
  private forgotten(): void {
    if (!this.up || this.closed) return;
    this.up = false;
    this.emit('down', 'the hub does not know this agent (it restarted?)');
    if (this.polling || !this.timer) return; // the poll in flight brings the connection up again
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), 0);
  }

  /** One exchange with the hub, bounded in time (REQUEST_TIMEOUT_MS, body included) and size: the body's text. */
  private async request(method: 'GET' | 'POST', path: string, body?: string): Promise<string> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`no complete answer within ${REQUEST_TIMEOUT_MS / 1000} s`)), REQUEST_TIMEOUT_MS);
    this.inflight.add(abort);
    try {
      const res = await fetch(this.base + path, {
        method,
        body,
        headers: { Authorization: `Bearer ${this.opts.token}`, 'X-DMS3-Agent': this.opts.name, ...(body ? { 'Content-Type': 'application/json' } : {}) },
        signal: abort.signal,
        redirect: 'error',
      });
      const text = await readCapped(res, MAX_ANSWER_BYTES);
      if (res.status === 401) throw new Unauthorized();
      if (res.status === 409) throw new UnknownAgent(`HTTP 409 ${text.slice(0, 200)}`);
      if (!res.ok) throw new Error(`HTTP ${res.status} ${text.slice(0, 200)}`);
      return text;
    } catch (err) {
      if (abort.signal.aborted && abort.signal.reason instanceof Error) throw abort.signal.reason;
      const cause = (err as { cause?: { code?: string } }).cause;
      throw cause?.code ? new Error(`${cause.code}`) : err;
    } finally {
      clearTimeout(timer);
      this.inflight.delete(abort);
    }
  }
}

class UnknownAgent extends Error {}

class Unauthorized extends Error {
  constructor() {
    super('HTTP 401 Unauthorized');
  }
}
