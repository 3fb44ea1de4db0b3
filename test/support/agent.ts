// A small agent that speaks lib/protocol.ts over a real WebSocket: for the hub's tests and benchmark.
import { WebSocket } from 'ws';
import type { Health, StateMessage } from '../../lib/protocol';
import { parseServerMessage } from '../../lib/protocol';

export function health(extra: Partial<Health> = {}): Health {
  return {
    hostname: 'pi-test',
    platform: 'linux',
    osRelease: 'Raspbian GNU/Linux 12 (bookworm)',
    arch: 'arm64',
    kernel: '6.6.31+rpt-rpi-v8',
    uptime: 1234,
    agentVersion: '0.1.0',
    motion: 'running',
    events: 7,
    applied: null,
    reportInterval: 60,
    ...extra,
  };
}

export interface AgentOptions {
  token: string | null;
  name?: string; // null-ish: do not say hello
  hello?: boolean; // default true
  autoApply?: boolean; // answer each state with "applied" (default true)
  autoPong?: boolean; // default true; false simulates a dead peer
}

export class TestAgent {
  readonly ws: WebSocket;
  readonly states: StateMessage[] = [];
  closed: { code: number; reason: string } | null = null;
  private readonly waiters: (() => void)[] = [];

  constructor(url: string, private readonly opts: AgentOptions) {
    this.ws = new WebSocket(url, {
      headers: opts.token === null ? {} : { Authorization: `Bearer ${opts.token}` },
      autoPong: opts.autoPong ?? true,
    });
    this.ws.on('message', (data) => {
      const msg = parseServerMessage(data as Buffer);
      this.states.push(msg);
      if (opts.autoApply ?? true) this.send({ v: 1, type: 'applied', seq: msg.seq, state: msg.state, ok: true, motion: msg.state === 'start' ? 'running' : 'paused' });
      this.wake();
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    this.ws.on('error', () => this.wake());
  }

  /** Opens the socket (rejects with the HTTP status on a refused upgrade) and says hello. */
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('unexpected-response', (_req, res) => {
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
        this.ws.terminate();
      });
      this.ws.once('error', reject);
      this.ws.once('open', () => {
        if ((this.opts.hello ?? true) && this.opts.name) this.send({ v: 1, type: 'hello', name: this.opts.name, health: health({ hostname: this.opts.name }) });
        resolve();
      });
    });
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** Resolves once `check` holds (re-checked on every message and on close). */
  until<T>(check: () => T | undefined | null | false, ms = 5000, what = 'agent condition'): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      const test = () => {
        const v = check();
        if (!v) {
          this.waiters.push(test);
          return;
        }
        clearTimeout(timer);
        resolve(v);
      };
      test();
    });
  }

  waitClosed(ms = 5000) {
    return this.until(() => this.closed, ms, 'close');
  }

  close(): void {
    this.ws.terminate();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** An HTTP call to the hub with a timeout (a stuck request must fail the test, not hang it). */
export async function call(url: string, opts: { method?: string; token?: string | null; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(url, { method: opts.method ?? (body ? 'POST' : 'GET'), headers, body, signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}
