// The hub: keeps the latest surveillance decision, pushes it to every agent over an authenticated
// WebSocket, and keeps the registry of agents. No Node-RED in here: the dms3-server node adapts it.
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { PresenceDevice } from '../../lib/dashboard';
import { FieldError } from '../../lib/errors';
import type { Override, StatePayload } from '../../lib/policy';
import { AGENT_PATH, MAX_MESSAGE_BYTES, parseAgentMessage, PROTOCOL_VERSION, type AgentMessage, type StateMessage } from '../../lib/protocol';
import { Registry } from '../../lib/registry';
import { bearer, type Identity, type Tokens } from './auth';
import { HttpError, refuseUpgrade, remoteAddress, sameSite, sendJson } from './http';

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface HubOptions {
  base: string; // e.g. "/dms3", under the HTTP root
  httpRoot: string; // Node-RED's httpNodeRoot, e.g. "/"
  heartbeatMs: number;
  helloTimeoutMs?: number;
  tokens: Tokens;
  log: Logger;
  /** Recognises a person signed in to the dashboard (a session cookie), for the HTTP routes only. */
  session?: (req: IncomingMessage) => boolean;
}

/** The decision in force, as /api/state serves it. */
export interface CurrentState extends StatePayload {
  seq: number;
}

/**
 * Who may call a route: anyone, any valid token (agents), or only the hub token (or a dashboard
 * session). A public route sees the caller's identity, if any, and may decide for itself.
 */
export type Access = 'public' | 'agent' | 'hub';
export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteContext {
  identity: Identity | null;
  /** The path below the route's own path (for prefix routes), e.g. "/app.js". */
  rest: string;
  next: (err?: unknown) => void;
}
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, ctx: RouteContext) => void | Promise<void>;

interface Route {
  method: Method;
  path: string;
  prefix: boolean;
  access: Access;
  handler: RouteHandler;
}

/** The part of Express the hub needs: one middleware mounted at the base path. */
export interface MountableApp {
  use(path: string, fn: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void): unknown;
}
interface RouterStack {
  stack: { handle: unknown }[];
}

interface Conn {
  ws: WebSocket;
  identity: Identity;
  address: string;
  name: string | null; // set by hello
  alive: boolean; // answered the last ping
  helloTimer: NodeJS.Timeout | null;
  why: string | null; // why the hub closed it, for the registry
}

export const BASE_PATTERN = /^(\/[A-Za-z0-9._~-]+)+$/;
const mounted = new Set<string>();

export function joinPath(...parts: string[]): string {
  const joined = `/${parts.join('/')}`.replace(/\/{2,}/g, '/');
  return joined.length > 1 ? joined.replace(/\/$/, '') : joined;
}

/** A WebSocket close reason is at most 123 bytes. */
function closeReason(text: string): string {
  let s = text;
  while (Buffer.byteLength(s) > 123) s = s.slice(0, -1);
  return s;
}

export class Hub extends EventEmitter<{ state: [StateMessage]; presence: [PresenceDevice[]] }> {
  readonly registry = new Registry();
  readonly agentPath: string;
  /** Where the hub serves, from the server's root, e.g. "/dms3". */
  readonly basePath: string;
  private readonly routes: Route[] = [];
  private readonly states = new Set<(mode: Override) => void>();
  private readonly conns = new Set<Conn>();
  private readonly byName = new Map<string, Conn>();
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  private current: CurrentState | null = null;
  private devices: PresenceDevice[] = [];
  // Seeded from the clock so that seq keeps increasing across restarts of the hub.
  private seq = Date.now();
  private server: Server | null = null;
  private app: MountableApp | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private stopping = false;

  constructor(private readonly opts: HubOptions) {
    super();
    if (!BASE_PATTERN.test(opts.base)) throw new FieldError('base', opts.base, 'expected a path such as /dms3');
    if (!(opts.heartbeatMs > 0)) throw new FieldError('heartbeat', opts.heartbeatMs / 1000, 'expected a positive number of seconds');
    this.basePath = joinPath(opts.httpRoot, opts.base);
    this.agentPath = joinPath(this.basePath, AGENT_PATH);
  }

  /** The hub's tokens, for routes that decide who may act as which agent. */
  get tokens(): Tokens {
    return this.opts.tokens;
  }

  get state(): CurrentState | null {
    return this.current && { ...this.current };
  }

  /** Who is home, by device, as the state node last heard (for the dashboard; never sent to agents). */
  get presence(): PresenceDevice[] {
    return this.devices.map((d) => ({ ...d }));
  }

  // ---- lifecycle

  start(server: Server | undefined, app: MountableApp): void {
    if (!server) throw new Error('no HTTP server to serve agents on (Node-RED has none)');
    if (mounted.has(this.agentPath)) throw new FieldError('base', this.opts.base, 'another dms3-server already serves this path');
    mounted.add(this.agentPath);
    this.server = server;
    this.app = app;
    server.on('upgrade', this.onUpgrade);
    app.use(this.opts.base, this.dispatch);
    this.heartbeat = setInterval(() => this.beat(), this.opts.heartbeatMs);
  }

  /** Closes every agent connection (1001) and removes the routes; resolves within about a second. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.server) mounted.delete(this.agentPath); // only a started hub holds its path
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.server?.off('upgrade', this.onUpgrade);
    this.unmount();
    const closing = [...this.conns].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.helloTimer) clearTimeout(c.helloTimer);
          if (c.ws.readyState === WebSocket.CLOSED) return resolve();
          c.ws.once('close', () => resolve());
          c.ws.close(1001, 'hub stopping');
        }),
    );
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(closing), new Promise((r) => (grace = setTimeout(r, 1000)))]);
    clearTimeout(grace);
    for (const c of this.conns) c.ws.terminate();
    this.wss.close();
  }

  private unmount(): void {
    const app = this.app as unknown as { _router?: RouterStack; router?: RouterStack } | null;
    const router = app?._router ?? app?.router; // Express 4, Express 5
    if (!router) return;
    for (let i = router.stack.length - 1; i >= 0; i--) if (router.stack[i].handle === this.dispatch) router.stack.splice(i, 1);
  }

  // ---- state

  /** A new decision: remembered, and pushed at once to every agent that has said hello. */
  publish(payload: StatePayload): StateMessage {
    this.seq += 1;
    this.current = { state: payload.state, reason: payload.reason, since: payload.since, override: payload.override, seq: this.seq };
    const msg = this.stateMessage(this.current);
    const text = JSON.stringify(msg);
    for (const c of this.conns) if (c.name !== null && c.ws.readyState === WebSocket.OPEN) c.ws.send(text);
    this.emit('state', msg);
    return msg;
  }

  setPresence(devices: PresenceDevice[]): void {
    const next = devices.map((d) => ({ name: d.name, present: d.present }));
    if (JSON.stringify(next) === JSON.stringify(this.devices)) return;
    this.devices = next;
    this.emit('presence', this.presence);
  }

  /** A dms3-state node offers to take manual overrides from the API; returns the unbind function. */
  bindState(apply: (mode: Override) => void): () => void {
    this.states.add(apply);
    return () => this.states.delete(apply);
  }

  override(mode: Override): void {
    if (this.states.size === 0) throw new HttpError(503, 'no dms3-state node uses this hub');
    for (const apply of this.states) apply(mode);
  }

  private stateMessage(c: CurrentState): StateMessage {
    return { v: PROTOCOL_VERSION, type: 'state', seq: c.seq, state: c.state, reason: c.reason, since: c.since };
  }

  // ---- HTTP routes

  /**
   * Serves `<base><path>` (or everything below it with `prefix`). Returns the function that removes it.
   * Handlers may throw HttpError for a status with a short reason.
   */
  route(method: Method, path: string, handler: RouteHandler, opts: { access: Access; prefix?: boolean }): () => void {
    const route: Route = { method, path: joinPath(path), prefix: opts.prefix ?? false, access: opts.access, handler };
    this.routes.push(route);
    return () => {
      const i = this.routes.indexOf(route);
      if (i >= 0) this.routes.splice(i, 1);
    };
  }

  /** The identity behind a request's Bearer token, or null. */
  authenticate(req: IncomingMessage): Identity | null {
    return this.opts.tokens.check(bearer(req.headers.authorization));
  }

  private readonly dispatch = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void => {
    const path = joinPath(new URL(req.url ?? '/', 'http://hub').pathname);
    const route = this.routes.find((r) => r.method === req.method && (r.path === path || (r.prefix && (r.path === '/' || path.startsWith(`${r.path}/`)))));
    if (!route) return next();
    const bearerIdentity = this.authenticate(req);
    const identity: Identity | null = bearerIdentity ?? (this.opts.session?.(req) ? { kind: 'session' } : null);
    const allowed = route.access === 'agent' ? bearerIdentity : route.access === 'hub' ? identity : true;
    if (!allowed) return sendJson(res, 401, { error: 'missing or wrong token (send Authorization: Bearer <token>)' });
    if (route.access === 'hub' && identity?.kind === 'agent') return sendJson(res, 403, { error: 'this needs the hub token, not an agent token' });
    // A session rides on a cookie: refuse changes a page on another site asked for.
    if (identity?.kind === 'session' && req.method !== 'GET' && !sameSite(req)) return sendJson(res, 403, { error: 'cross-site request refused' });
    const rest = route.prefix ? joinPath(path.slice(route.path.length)) : '/';
    Promise.resolve()
      .then(() => route.handler(req, res, { identity, rest, next }))
      .catch((err: unknown) => {
        if (err instanceof HttpError) return sendJson(res, err.status, { error: err.message });
        this.opts.log.error(`${req.method} ${this.opts.base}${path} failed: ${(err as Error).message}`);
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error (see the Node-RED log)' });
      });
  };

  // ---- agents over WebSocket

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (new URL(req.url ?? '/', 'http://hub').pathname !== this.agentPath) return; // someone else's upgrade
    const identity = this.authenticate(req);
    if (!identity) {
      this.opts.log.warn(`agent connection from ${remoteAddress(req)} refused: missing or wrong token`);
      return refuseUpgrade(socket, 401, 'missing or wrong token');
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req, identity));
  };

  private accept(ws: WebSocket, req: IncomingMessage, identity: Identity): void {
    const helloMs = this.opts.helloTimeoutMs ?? 10_000;
    const conn: Conn = { ws, identity, address: remoteAddress(req), name: null, alive: true, helloTimer: null, why: null };
    conn.helloTimer = setTimeout(() => this.fail(conn, 1008, `no hello within ${helloMs / 1000} s`), helloMs);
    this.conns.add(conn);
    // ws closes an oversized frame with a bare 1009; give the agent the reason too.
    const close = ws.close.bind(ws);
    ws.close = (code?: number, reason?: string | Buffer) => close(code, reason ?? (code === 1009 ? `message too large (limit ${MAX_MESSAGE_BYTES} bytes)` : undefined));
    ws.on('message', (data: RawData) => this.onMessage(conn, data));
    ws.on('pong', () => (conn.alive = true));
    ws.on('error', (err) => this.opts.log.warn(`${this.label(conn)}: ${err.message}`)); // ws closes it (e.g. 1009 too large)
    ws.on('close', (code, reason) => this.onClose(conn, code, reason.toString()));
  }

  private onMessage(conn: Conn, data: RawData): void {
    let msg: AgentMessage;
    try {
      msg = parseAgentMessage(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));
    } catch (err) {
      return this.fail(conn, 1008, (err as Error).message);
    }
    conn.alive = true;
    if (conn.name === null) {
      if (msg.type !== 'hello') return this.fail(conn, 1008, `expected hello first, got ${msg.type}`);
      const refused = this.opts.tokens.refuseAs(conn.identity, msg.name);
      if (refused) return this.fail(conn, 1008, refused);
      this.hello(conn, msg.name);
      this.registry.report(msg.name, msg.health, { transport: 'ws', address: conn.address });
      if (this.current) conn.ws.send(JSON.stringify(this.stateMessage(this.current)));
      return;
    }
    switch (msg.type) {
      case 'hello':
        return this.fail(conn, 1008, 'hello sent twice');
      case 'health':
        return this.registry.report(conn.name, msg.health, { transport: 'ws', address: conn.address });
      case 'applied':
        this.registry.applied(conn.name, msg);
        return;
      case 'notice':
        this.registry.notice(conn.name, msg);
        return;
    }
  }

  private hello(conn: Conn, name: string): void {
    if (conn.helloTimer) clearTimeout(conn.helloTimer);
    conn.helloTimer = null;
    const older = this.byName.get(name);
    if (older) {
      this.opts.log.warn(`agent ${JSON.stringify(name)} connected again from ${conn.address}; closing its older connection from ${older.address}`);
      older.why = 'replaced by a newer connection';
      older.ws.close(4000, 'replaced by a newer connection of the same agent');
    }
    conn.name = name;
    this.byName.set(name, conn);
    this.opts.log.info(`agent ${JSON.stringify(name)} connected from ${conn.address}`);
  }

  private onClose(conn: Conn, code: number, reason: string): void {
    if (conn.helloTimer) clearTimeout(conn.helloTimer);
    this.conns.delete(conn);
    if (conn.name === null || this.byName.get(conn.name) !== conn) return;
    this.byName.delete(conn.name);
    if (this.stopping) return;
    this.registry.disconnected(conn.name, conn.why ?? `connection closed (${code}${reason ? ` ${reason}` : ''})`);
  }

  /** Closes one connection for a protocol error: logged, and the agent told why. */
  private fail(conn: Conn, code: 1008 | 1009, why: string): void {
    this.opts.log.warn(`${this.label(conn)} closed: ${why}`);
    conn.why = why;
    if (conn.ws.readyState === WebSocket.OPEN) conn.ws.close(code, closeReason(why));
  }

  private label(conn: Conn): string {
    return `agent ${conn.name === null ? '(before hello)' : JSON.stringify(conn.name)} at ${conn.address}`;
  }

  /** Pings every connection; one that did not answer the previous ping is dropped. HTTP agents are judged by lateness. */
  private beat(): void {
    for (const c of this.conns) {
      if (!c.alive) {
        c.why = `no answer to ping within ${this.opts.heartbeatMs / 1000} s`;
        this.opts.log.warn(`${this.label(c)} dropped: ${c.why}`);
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
    this.registry.sweep('http');
  }
}

/** The dms3-server node as other nodes get it from RED.nodes.getNode: `hub` is null when it refused to start. */
export interface HubNode {
  hub: Hub | null;
}
