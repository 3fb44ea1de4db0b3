// The one connection to Home Assistant that a dms3-ha-server config node owns. The auth phase runs
// on a `ws` socket (the library expects a browser WebSocket, which Node 20 lacks); after auth_ok
// home-assistant-js-websocket's Connection takes the socket over and reconnects on its own after
// Home Assistant restarts, resubscribing what we subscribed. We add the first connection's retries,
// a keep-alive ping (a half-open TCP connection never closes by itself) and per-watcher entity tables.
import { createConnection, ERR_CANNOT_CONNECT, ERR_INVALID_AUTH, type Connection, type HaWebSocket } from 'home-assistant-js-websocket';
import WebSocket from 'ws';
import { EntityTable, supportsCoalescing, type EntityChange } from '../../lib/ha';
import type { Node, NodeStatus } from '../shared/red';

const CONNECT_TIMEOUT_MS = 10_000; // socket open + auth phase, as the library's own createSocket

export type LinkState = 'connecting' | 'connected' | 'disconnected' | 'auth-invalid' | 'closed';

export interface LinkOptions {
  wsUrl: string;
  token: string;
  keepaliveMs: number;
  log: (text: string) => void;
}

export interface EntityListener {
  /** `snapshot`: the table was just filled afresh (first subscription, or after a reconnect). */
  update(table: EntityTable, changes: EntityChange[], snapshot: boolean): void;
  error(text: string): void;
}

/** The config node as its user nodes see it. */
export interface HaServerNode extends Node {
  link: HaLink | null;
  problem: string;
}

interface Watch {
  ids: string[];
  listener: EntityListener;
  table: EntityTable;
  resync: boolean;
  removed: boolean;
  unsubscribe?: Promise<() => Promise<void>>;
}

/** Home Assistant rejects with `{code, message}` objects or bare error numbers; make them Errors. */
export function haError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (err === ERR_CANNOT_CONNECT) return new Error('cannot connect to Home Assistant');
  if (typeof err === 'number') return new Error('connection to Home Assistant lost');
  const e = (err as { error?: unknown })?.error ?? err;
  const { code, message } = (e ?? {}) as { code?: unknown; message?: unknown };
  if (code === 3) return new Error('connection to Home Assistant lost');
  return new Error(`Home Assistant: ${String(message ?? 'error')}${typeof code === 'string' ? ` (${code})` : ''}`);
}

export class HaLink {
  state: LinkState = 'connecting';
  detail = '';
  private conn: Connection | null = null;
  private pending: WebSocket | null = null;
  private retry?: NodeJS.Timeout;
  private keepalive?: NodeJS.Timeout;
  private pinging = false;
  private attempt = 0;
  private closed = false;
  private readonly stateListeners = new Set<(state: LinkState, detail: string) => void>();
  private readonly watches = new Set<Watch>();

  constructor(private readonly opts: LinkOptions) {}

  start(): void {
    void this.connect();
  }

  get connected(): boolean {
    return this.state === 'connected' && Boolean(this.conn?.connected);
  }

  onState(listener: (state: LinkState, detail: string) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Follow some entities with `subscribe_entities` (only those ids travel); returns a stop function. */
  watchEntities(ids: string[], listener: EntityListener): () => void {
    const watch: Watch = { ids, listener, table: new EntityTable(), resync: true, removed: false };
    this.watches.add(watch);
    if (this.connected) this.subscribe(watch);
    return () => {
      watch.removed = true;
      this.watches.delete(watch);
      this.unsubscribe(watch);
    };
  }

  async callService(domain: string, service: string, data: Record<string, unknown>, target?: Record<string, unknown>): Promise<{ context?: { id: string } }> {
    return this.request({ type: 'call_service', domain, service, service_data: data, ...(target ? { target } : {}) });
  }

  async fireEvent(eventType: string, data: unknown): Promise<unknown> {
    return this.request({ type: 'fire_event', event_type: eventType, event_data: data });
  }

  /** Close for good: no reconnect, the socket closed (terminated if it will not close in 2 s). */
  async close(): Promise<void> {
    this.setState('closed', '');
    this.closed = true;
    clearTimeout(this.retry);
    clearInterval(this.keepalive);
    this.pending?.terminate();
    const socket = this.conn?.socket as unknown as WebSocket | undefined;
    this.conn?.close();
    this.stateListeners.clear();
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => socket.terminate(), 2000);
      socket.once('close', () => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  private async request<T>(message: { type: string; [k: string]: unknown }): Promise<T> {
    if (!this.conn || !this.connected) throw new Error('not connected to Home Assistant');
    try {
      return await this.conn.sendMessagePromise<T>(message);
    } catch (err) {
      throw haError(err);
    }
  }

  private setState(state: LinkState, detail: string): void {
    if (this.closed) return;
    this.state = state;
    this.detail = detail;
    for (const l of this.stateListeners) l(state, detail);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    try {
      const conn = await createConnection({ createSocket: () => this.openSocket(), setupRetry: 0 });
      if (this.closed) {
        conn.close();
        return;
      }
      this.conn = conn;
      this.attempt = 0;
      conn.addEventListener('ready', () => this.ready());
      conn.addEventListener('disconnected', () => {
        for (const w of this.watches) w.resync = true;
        this.setState('disconnected', 'Home Assistant went away, reconnecting');
      });
      // The library's only reconnect error is a refused token: it stops trying, and so do we.
      conn.addEventListener('reconnect-error', () => this.setState('auth-invalid', 'access token refused'));
      this.keepalive = setInterval(() => void this.ping(), this.opts.keepaliveMs);
      this.ready();
    } catch (err) {
      if (this.closed) return;
      if (err === ERR_INVALID_AUTH) {
        // Retrying a wrong token only gets this host banned by Home Assistant's ip_ban.
        this.setState('auth-invalid', this.detail || 'access token refused');
        return;
      }
      const delay = Math.min(30_000, 1000 * 2 ** this.attempt++);
      this.setState('disconnected', `${this.detail || 'cannot connect'}; retry in ${Math.round(delay / 1000)} s`);
      this.retry = setTimeout(() => void this.connect(), delay);
    }
  }

  private ready(): void {
    this.setState('connected', `Home Assistant ${this.conn?.haVersion ?? ''}`);
    // Subscriptions made while connected are renewed by the library; new ones start here.
    for (const w of this.watches) if (!w.unsubscribe) this.subscribe(w);
  }

  private subscribe(watch: Watch): void {
    const conn = this.conn!;
    watch.resync = true;
    watch.unsubscribe = conn.subscribeMessage<unknown>((event) => this.entities(watch, event), { type: 'subscribe_entities', entity_ids: watch.ids });
    watch.unsubscribe.catch((err: unknown) => {
      watch.unsubscribe = undefined;
      if (!watch.removed) watch.listener.error(haError(err).message);
    });
  }

  private unsubscribe(watch: Watch): void {
    watch.unsubscribe?.then((unsub) => unsub()).catch(() => undefined);
  }

  private entities(watch: Watch, event: unknown): void {
    // A subscription dropped while disconnected comes back with the reconnect: drop it again.
    if (watch.removed) return this.unsubscribe(watch);
    const snapshot = watch.resync;
    watch.resync = false;
    const changes = watch.table.apply(event, snapshot);
    watch.listener.update(watch.table, changes, snapshot);
  }

  private async ping(): Promise<void> {
    const conn = this.conn;
    if (!conn || !conn.connected || this.pinging) return;
    const socket = conn.socket as unknown as WebSocket;
    this.pinging = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.opts.keepaliveMs)));
    try {
      const answer = await Promise.race([conn.ping().then(() => 'pong' as const), timeout]);
      if (answer === 'timeout' && conn.socket === (socket as unknown)) {
        this.opts.log('Home Assistant did not answer a ping; reconnecting');
        socket.terminate(); // the library sees the close and reconnects
      }
    } catch {
      // The connection was lost while pinging; the library is already reconnecting.
    } finally {
      clearTimeout(timer);
      this.pinging = false;
    }
  }

  /** Open a socket and run Home Assistant's auth phase; resolves once auth_ok has arrived. */
  private openSocket(): Promise<HaWebSocket> {
    if (this.closed) return Promise.reject(ERR_CANNOT_CONNECT);
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.opts.wsUrl, { handshakeTimeout: CONNECT_TIMEOUT_MS });
      this.pending = ws;
      let settled = false;
      const timer = setTimeout(() => fail(ERR_CANNOT_CONNECT, 'no answer from Home Assistant'), CONNECT_TIMEOUT_MS);
      const finish = () => {
        settled = true;
        clearTimeout(timer);
        this.pending = null;
        ws.off('message', onMessage);
        ws.off('close', onClose);
      };
      const fail = (code: number, why: string) => {
        if (settled) return;
        finish();
        this.detail = why;
        ws.terminate();
        reject(code);
      };
      const onClose = () => fail(ERR_CANNOT_CONNECT, 'connection closed during the auth phase');
      const onMessage = (data: WebSocket.RawData) => {
        let msg: { type?: string; ha_version?: string; message?: string };
        try {
          msg = JSON.parse(data.toString());
        } catch {
          return fail(ERR_CANNOT_CONNECT, 'not a Home Assistant WebSocket API');
        }
        if (msg.type === 'auth_required') ws.send(JSON.stringify({ type: 'auth', access_token: this.opts.token }));
        else if (msg.type === 'auth_invalid') fail(ERR_INVALID_AUTH, `auth invalid: ${msg.message ?? 'access token refused'}`);
        else if (msg.type === 'auth_ok') {
          finish();
          this.detail = '';
          const socket = Object.assign(ws, { haVersion: String(msg.ha_version ?? '') });
          if (supportsCoalescing(socket.haVersion)) {
            // As the library's own createSocket does: id 1 is reserved for this first message.
            ws.send(JSON.stringify({ type: 'supported_features', id: 1, features: { coalesce_messages: 1 } }));
          }
          resolve(socket as unknown as HaWebSocket);
        }
      };
      ws.on('message', onMessage);
      ws.on('close', onClose);
      // Stays attached for the socket's life: an 'error' without a listener would crash Node-RED.
      ws.on('error', (err) => (settled ? this.opts.log(`Home Assistant socket: ${err.message}`) : fail(ERR_CANNOT_CONNECT, err.message)));
    });
  }
}

/** The status a user node shows while its link is not connected (null when connected). */
export function linkStatus(link: HaLink): NodeStatus | null {
  switch (link.state) {
    case 'connected':
      return null;
    case 'connecting':
      return { fill: 'yellow', shape: 'ring', text: 'connecting' };
    case 'auth-invalid':
      return { fill: 'red', shape: 'dot', text: 'auth invalid' };
    case 'closed':
      return { fill: 'grey', shape: 'ring', text: 'closed' };
    default:
      return { fill: 'red', shape: 'ring', text: 'disconnected' };
  }
}
