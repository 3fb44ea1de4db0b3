// WebSocket transport (the `ws` package): Bearer token in the upgrade request, reconnect with
// exponential backoff and jitter, and a dead-connection watchdog (the hub pings every ~10 s, and the
// agent pings a hub that has been quiet for half of DEAD_AFTER_MS; no traffic, pongs included, for
// DEAD_AFTER_MS means the connection is gone even if TCP has not noticed).
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { Backoff } from '../../lib/backoff';
import { LogSummary } from '../../lib/log-summary';
import { MAX_MESSAGE_BYTES, parseServerMessage, type AgentMessage } from '../../lib/protocol';
import type { Logger } from '../log';
import { retryText, unauthorizedText, type Transport, type TransportEvents } from './transport';

export const DEAD_AFTER_MS = 30_000;
/**
 * A refused connection means the hub's machine is up and nothing listens yet: Node-RED is
 * (re)starting and about to return. Such a dial costs a SYN and a RST, so it is retried at most this
 * far apart (with jitter), whatever the backoff has grown to: agents converge within seconds of
 * Node-RED's return instead of after up to `reconnect_max_backoff`.
 */
export const REFUSED_RETRY_MAX_MS = 2000;
/** While the hub keeps refusing, the warning is repeated only this often (the retries are frequent). */
const REFUSED_LOG_MS = 60_000;

export interface WebSocketOptions {
  url: string;
  token: string;
  maxBackoffMs: number;
  log: Logger;
  deadAfterMs?: number;
}

export class WebSocketTransport extends EventEmitter<TransportEvents> implements Transport {
  private ws: WebSocket | null = null;
  private open = false;
  private closed = true;
  private lastSeen = 0;
  private failure = '';
  private refused = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private refusedLogged = 0;
  private watchdog: NodeJS.Timeout | null = null;
  private readonly backoff: Backoff;
  private readonly badFrames = new LogSummary();

  constructor(private readonly opts: WebSocketOptions) {
    super();
    this.backoff = new Backoff({ baseMs: 1000, maxMs: opts.maxBackoffMs });
  }

  get connected(): boolean {
    return this.open;
  }

  connect(): void {
    this.closed = false;
    this.dial();
  }

  send(message: AgentMessage): void {
    if (!this.open || !this.ws) return;
    this.opts.log.debug(`→ ${message.type}`);
    this.ws.send(JSON.stringify(message));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.stopWatchdog();
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => ws.terminate(), 2000);
      ws.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1001, 'agent stopping');
    });
  }

  private dial(): void {
    const { url, token, log } = this.opts;
    this.failure = '';
    this.refused = false;
    log.debug(`connecting to ${url}`);
    const ws = new WebSocket(url, {
      headers: { Authorization: `Bearer ${token}` },
      maxPayload: MAX_MESSAGE_BYTES,
      handshakeTimeout: 10_000,
      followRedirects: false,
    });
    this.ws = ws;
    ws.on('open', () => {
      this.open = true;
      this.refusedLogged = 0;
      this.touch();
      this.startWatchdog();
      log.info(`connected to the hub at ${url}`);
      this.emit('up');
    });
    ws.on('message', (data: Buffer) => {
      this.touch();
      try {
        const msg = parseServerMessage(data);
        this.backoff.reset(); // the hub accepted us and speaks our protocol
        log.debug(`← state ${msg.state} seq ${msg.seq}`);
        this.emit('state', msg);
      } catch (err) {
        // A hostile hub can send thousands a second: the first few are logged, the rest summarised.
        for (const line of this.badFrames.note('bad messages from the hub', `ignored a message from the hub: ${(err as Error).message}`, Date.now())) log.warn(line);
      }
    });
    ws.on('ping', () => this.touch());
    ws.on('pong', () => this.touch());
    ws.on('error', (err) => {
      this.failure = err.message;
      this.refused = (err as NodeJS.ErrnoException).code === 'ECONNREFUSED';
    });
    ws.on('close', (code, reason) => this.closedSocket(ws, code, reason.toString()));
  }

  private closedSocket(ws: WebSocket, code: number, reason: string): void {
    if (this.ws !== ws) return;
    this.ws = null;
    this.stopWatchdog();
    const wasOpen = this.open;
    this.open = false;
    const why = this.failure || `closed (${code}${reason ? ` ${reason}` : ''})`;
    if (wasOpen) this.emit('down', why);
    if (this.closed) return;
    const wait = this.refused ? this.backoff.next(REFUSED_RETRY_MAX_MS) : this.backoff.next();
    const status = /Unexpected server response: (\d+)/.exec(this.failure)?.[1];
    const now = Date.now();
    const quiet = this.refused && now - this.refusedLogged < REFUSED_LOG_MS; // said so less than a minute ago
    if (this.refused && !quiet) this.refusedLogged = now;
    if (quiet) this.opts.log.debug(`the hub still refuses at ${this.opts.url}; ${retryText(wait)}`);
    else if (status === '401') this.opts.log.error(`${unauthorizedText(this.opts.url)}; ${retryText(wait)}`);
    else if (status) this.opts.log.warn(`the hub answered HTTP ${status} at ${this.opts.url} (is the URL's path right?); ${retryText(wait)}`);
    else this.opts.log.warn(`${wasOpen ? 'lost the hub' : 'cannot reach the hub'} at ${this.opts.url}: ${why}; ${retryText(wait)}`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed) this.dial();
    }, wait);
  }

  private touch(): void {
    this.lastSeen = Date.now();
  }

  private startWatchdog(): void {
    const deadAfter = this.opts.deadAfterMs ?? DEAD_AFTER_MS;
    this.watchdog = setInterval(
      () => {
        this.flushBadFrames(false);
        const quiet = Date.now() - this.lastSeen;
        if (quiet > deadAfter) {
          this.failure = `no traffic from the hub for ${Math.round(deadAfter / 1000)} s`;
          this.ws?.terminate();
        } else if (quiet > deadAfter / 2) {
          // The hub's heartbeat may be longer than deadAfter: ask for a pong rather than drop a live hub.
          this.ws?.ping();
        }
      },
      Math.min(5000, deadAfter / 3),
    );
  }

  private flushBadFrames(all: boolean): void {
    for (const line of this.badFrames.flush(Date.now(), all)) this.opts.log.warn(line);
  }

  private stopWatchdog(): void {
    this.flushBadFrames(true);
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }
}
