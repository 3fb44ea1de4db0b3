// The hub: keeps the latest surveillance decision, pushes it to every agent over an authenticated
// WebSocket, and keeps the registry of agents. No Node-RED in here: the dms3-server node adapts it.
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { PresenceDevice } from '../../lib/dashboard';
import { FieldError } from '../../lib/errors';
import { LogSummary } from '../../lib/log-summary';
import type { Override, StatePayload } from '../../lib/policy';
import { AGENT_PATH, MAX_MESSAGE_BYTES, parseAgentMessage, PROTOCOL_VERSION, type AgentMessage, type StateMessage } from '../../lib/protocol';
import { DEFAULT_MAX_SHARED_NAMES, Registry, RegistryFullError } from '../../lib/registry';
import { bearer, type Identity, type Tokens } from './auth';
import { keepBody, takeRequests, type FrontHandler } from './front';
import { HttpError, isUnder, refuseUpgrade, remoteAddress, requestTarget, sameSite, sendJson } from './http';

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
  /**
   * Node-RED's httpNodeAuth guards HTTP-node routes: then the hub's requests go through Express (that
   * auth first) instead of straight to the hub, their bodies still left to the hub.
   */
  nodeAuth?: boolean;
  /** Agent names the shared hub token may add (default 256). */
  maxSharedNames?: number;
  /** A disconnected agent silent this long is forgotten (default 24 h, the dashboard's "missing" time). */
  forgetAfterMs?: number;
  /** Authenticated connections that have not said hello yet, at most (default 128). */
  maxWaiting?: number;
}

export const DEFAULT_MAX_WAITING = 128;
const INTERNAL_ERROR = { error: 'internal error' };
const DRAIN_BYTES = 1024 * 1024;
const DRAIN_MS = 2000;

/** Reads and drops the rest of a refused body, then calls `then(cut)`; `cut` when it went over the bounds. */
function drain(req: IncomingMessage, then: (cut: boolean) => void): void {
  let left = DRAIN_BYTES;
  let settled = false;
  const finish = (cut: boolean) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    req.off('data', onData);
    then(cut);
  };
  const onData = (chunk: Buffer) => {
    left -= chunk.length;
    if (left < 0) finish(true);
  };
  const timer = setTimeout(() => finish(true), DRAIN_MS);
  timer.unref();
  req.on('data', onData).once('end', () => finish(false)).once('close', () => finish(true));
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

const TOKEN_LIST = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*,\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*$/;

/** What ws would refuse with its own (HTML) answer, found first so that the refusal is JSON. */
function badHandshake(req: IncomingMessage): string | null {
  if (req.method !== 'GET') return 'a WebSocket upgrade must be a GET';
  if (String(req.headers.upgrade).toLowerCase() !== 'websocket') return 'Upgrade: websocket expected';
  if (!/^[+/0-9A-Za-z]{22}==$/.test(String(req.headers['sec-websocket-key']))) return 'missing or invalid Sec-WebSocket-Key';
  if (!['8', '13'].includes(String(req.headers['sec-websocket-version']))) return 'Sec-WebSocket-Version 13 expected';
  const protocol = req.headers['sec-websocket-protocol'];
  if (protocol !== undefined && !TOKEN_LIST.test(protocol)) return 'invalid Sec-WebSocket-Protocol';
  return null;
}

export class Hub extends EventEmitter<{ state: [StateMessage]; presence: [PresenceDevice[]] }> {
  readonly registry: Registry;
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
  private untake: (() => void) | null = null;
  private waiting = 0; // connections accepted, no hello yet
  private readonly summary = new LogSummary();

  constructor(private readonly opts: HubOptions) {
    super();
    if (!BASE_PATTERN.test(opts.base)) throw new FieldError('base', opts.base, 'expected a path such as /dms3');
    if (!(opts.heartbeatMs > 0)) throw new FieldError('heartbeat', opts.heartbeatMs / 1000, 'expected a positive number of seconds');
    this.basePath = joinPath(opts.httpRoot, opts.base);
    this.agentPath = joinPath(this.basePath, AGENT_PATH);
    this.registry = new Registry({ maxShared: opts.maxSharedNames ?? DEFAULT_MAX_SHARED_NAMES, ...(opts.forgetAfterMs ? { forgetAfterMs: opts.forgetAfterMs } : {}) });
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
    this.untake = takeRequests(server, this.basePath, this.front);
    app.use(this.opts.base, this.dispatch); // reached only through Express, with nodeAuth
    this.heartbeat = setInterval(() => this.guard('heartbeat', () => this.beat()), this.opts.heartbeatMs);
  }

  /** Closes every agent connection (1001) and removes the routes; resolves within about a second. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.server) mounted.delete(this.agentPath); // only a started hub holds its path
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.server?.off('upgrade', this.onUpgrade);
    this.untake?.();
    this.untake = null;
    this.unmount();
    for (const line of this.summary.flush(Date.now(), true)) this.opts.log.warn(line);
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

  /** Requests under the base path, straight from the HTTP server (front.ts). */
  private readonly front: FrontHandler = (req, res, pass) => {
    if (this.opts.nodeAuth) {
      keepBody(req);
      return pass(); // through Node-RED's auth, then Express, to dispatch below
    }
    this.guardRequest(req, res, () => {
      const t = requestTarget(req.url)!; // front.ts matched it, so it is a path
      this.serve(req, res, { path: t.path.slice(this.basePath.length) || '/', search: t.search }, `${t.path}${t.search}`);
    });
  };

  /** The same requests through Express (mounted at the base path, so req.url is below it). */
  private readonly dispatch = (req: IncomingMessage, res: ServerResponse): void => {
    this.guardRequest(req, res, () => {
      const original = requestTarget((req as { originalUrl?: string }).originalUrl);
      this.serve(req, res, requestTarget(req.url), original && `${original.path}${original.search}`);
    });
  };

  /** `target` is below the base path; handlers read req.url (the query) and originalUrl (the trailing slash), made safe for new URL(). */
  private serve(req: IncomingMessage, res: ServerResponse, target: { path: string; search: string } | null, original: string | null): void {
    if (!target || !original) return sendJson(res, 400, { error: 'bad request target' });
    const path = joinPath(target.path);
    req.url = `${target.path}${target.search}`;
    (req as { originalUrl?: string }).originalUrl = original;
    const matches = (r: Route) => r.path === path || (r.prefix && (r.path === '/' || path.startsWith(`${r.path}/`)));
    const route = this.routes.find((r) => r.method === req.method && matches(r));
    if (!route) {
      if (this.routes.some(matches)) return sendJson(res, 405, { error: `method ${String(req.method).slice(0, 16)} not allowed here` });
      return sendJson(res, 404, { error: 'no such route' });
    }
    const bearerIdentity = this.authenticate(req);
    const identity: Identity | null = bearerIdentity ?? (this.opts.session?.(req) ? { kind: 'session' } : null);
    const allowed = route.access === 'agent' ? bearerIdentity : route.access === 'hub' ? identity : true;
    if (!allowed) {
      this.note('refused requests (missing or wrong token)', `${req.method} ${this.basePath}${path} from ${remoteAddress(req)} refused: missing or wrong token`);
      return this.refuse(req, res, 401, 'missing or wrong token (send Authorization: Bearer <token>)');
    }
    if (route.access === 'hub' && identity?.kind === 'agent') return this.refuse(req, res, 403, 'this needs the hub token, not an agent token');
    // A session rides on a cookie: refuse changes a page on another site asked for.
    if (identity?.kind === 'session' && req.method !== 'GET' && !sameSite(req)) return this.refuse(req, res, 403, 'cross-site request refused');
    const rest = route.prefix ? joinPath(path.slice(route.path.length)) : '/';
    const next = () => sendJson(res, 404, { error: 'no such route' });
    Promise.resolve()
      .then(() => route.handler(req, res, { identity, rest, next }))
      .catch((err: unknown) => {
        if (err instanceof HttpError) return res.headersSent ? res.destroy() : this.refuse(req, res, err.status, err.message);
        this.internal(req, res, err);
      });
  }

  /**
   * A refusal. A body the hub did not read is not read to its end (the connection closes), except a
   * small declared one: that is read and dropped first (at most DRAIN_BYTES, DRAIN_MS), then answered,
   * because a server that closes on unread bytes makes the kernel reset the connection, and the client
   * may lose the answer with it (a client that sent "Connection: close" is always closed after the answer).
   */
  private refuse(req: IncomingMessage, res: ServerResponse, status: number, error: string): void {
    const send = () => sendJson(res, status, { error });
    if (req.complete || res.hasHeader('Connection')) return send();
    const declared = Number(req.headers['content-length']);
    if (declared > 0 && declared <= DRAIN_BYTES && !req.destroyed && req.listenerCount('data') === 0) {
      return drain(req, (cut) => {
        if (cut) res.setHeader('Connection', 'close');
        if (!res.destroyed) send();
      });
    }
    res.setHeader('Connection', 'close');
    send();
  }

  private guardRequest(req: IncomingMessage, res: ServerResponse, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.internal(req, res, err);
    }
  }

  /** An exception nobody expected: logged (summarised when it repeats), answered 500 without details. */
  private internal(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    this.note('internal errors', `${String(req.method).slice(0, 16)} ${this.basePath} request failed: ${(err as Error)?.message ?? String(err)}`, 'error');
    if (res.headersSent) return void res.destroy();
    res.setHeader('Connection', 'close');
    sendJson(res, 500, INTERNAL_ERROR);
  }

  /** Runs one edge (a timer, a socket event) so that nothing it throws reaches Node-RED. */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.note('internal errors', `${what} failed: ${(err as Error)?.message ?? String(err)}`, 'error');
    }
  }

  /** A warning from peers, summarised when it repeats (lib/log-summary), so that no peer floods the log. */
  private note(kind: string, text: string, level: 'warn' | 'error' = 'warn'): void {
    for (const line of this.summary.note(kind, text, Date.now())) this.opts.log[level](line);
  }

  // ---- agents over WebSocket

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    try {
      const target = requestTarget(req.url);
      const path = target && joinPath(target.path);
      if (!path || !isUnder(path, this.basePath)) return; // someone else's upgrade
      if (path !== this.agentPath) return refuseUpgrade(socket, 404, `no WebSocket here: agents connect to ${this.agentPath}`);
      const bad = badHandshake(req);
      if (bad) return refuseUpgrade(socket, 400, bad);
      const identity = this.authenticate(req);
      if (!identity) {
        this.note('refused agent connections (missing or wrong token)', `agent connection from ${remoteAddress(req)} refused: missing or wrong token`);
        return refuseUpgrade(socket, 401, 'missing or wrong token');
      }
      const limit = this.opts.maxWaiting ?? DEFAULT_MAX_WAITING;
      if (this.waiting >= limit) {
        this.note('refused agent connections (too many waiting for hello)', `agent connection from ${remoteAddress(req)} refused: ${limit} connections already wait for their hello`);
        return refuseUpgrade(socket, 503, `too many connections waiting for hello (limit ${limit})`);
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.guard('agent connection', () => this.accept(ws, req, identity)));
    } catch (err) {
      this.note('internal errors', `WebSocket upgrade failed: ${(err as Error)?.message ?? String(err)}`, 'error');
      socket.destroy();
    }
  };

  private accept(ws: WebSocket, req: IncomingMessage, identity: Identity): void {
    const helloMs = this.opts.helloTimeoutMs ?? 10_000;
    const conn: Conn = { ws, identity, address: remoteAddress(req), name: null, alive: true, helloTimer: null, why: null };
    conn.helloTimer = setTimeout(() => this.guard('hello timer', () => this.fail(conn, 1008, `no hello within ${helloMs / 1000} s`)), helloMs);
    this.conns.add(conn);
    this.waiting++;
    // ws closes an oversized frame with a bare 1009; give the agent the reason too.
    const close = ws.close.bind(ws);
    ws.close = (code?: number, reason?: string | Buffer) => close(code, reason ?? (code === 1009 ? `message too large (limit ${MAX_MESSAGE_BYTES} bytes)` : undefined));
    ws.on('message', (data: RawData) => this.onFrame(conn, data));
    ws.on('pong', () => (conn.alive = true));
    ws.on('error', (err) => this.note('agent connection errors', `${this.label(conn)}: ${err.message}`)); // ws closes it (e.g. 1009 too large)
    ws.on('close', (code, reason) => this.guard('agent connection close', () => this.onClose(conn, code, reason.toString())));
  }

  private onFrame(conn: Conn, data: RawData): void {
    try {
      this.onMessage(conn, data);
    } catch (err) {
      if (err instanceof RegistryFullError) return this.fail(conn, 1008, err.message);
      this.note('internal errors', `message from ${this.label(conn)} failed: ${(err as Error)?.message ?? String(err)}`, 'error');
      this.fail(conn, 1011, 'internal error');
    }
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
      // The registry first: a new name beyond the shared token's cap is refused before it displaces anyone.
      this.registry.report(msg.name, msg.health, { transport: 'ws', address: conn.address, shared: conn.identity.kind === 'hub' });
      this.hello(conn, msg.name);
      if (this.current) conn.ws.send(JSON.stringify(this.stateMessage(this.current)));
      return;
    }
    switch (msg.type) {
      case 'hello':
        return this.fail(conn, 1008, 'hello sent twice');
      case 'health':
        return this.registry.report(conn.name, msg.health, { transport: 'ws', address: conn.address, shared: conn.identity.kind === 'hub' });
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
    this.waiting--;
    const older = this.byName.get(name);
    if (older) {
      this.note('agent connections replaced', `agent ${JSON.stringify(name)} connected again from ${conn.address}; closing its older connection from ${older.address}`);
      older.why = 'replaced by a newer connection';
      older.ws.close(4000, 'replaced by a newer connection of the same agent');
    }
    conn.name = name;
    this.byName.set(name, conn);
    this.opts.log.info(`agent ${JSON.stringify(name)} connected from ${conn.address}`);
  }

  private onClose(conn: Conn, code: number, reason: string): void {
    if (conn.helloTimer) clearTimeout(conn.helloTimer);
    if (this.conns.delete(conn) && conn.name === null) this.waiting--;
    if (conn.name === null || this.byName.get(conn.name) !== conn) return;
    this.byName.delete(conn.name);
    if (this.stopping) return;
    this.registry.disconnected(conn.name, conn.why ?? `connection closed (${code}${reason ? ` ${reason}` : ''})`);
  }

  /** Closes one connection for a protocol error: logged, and the agent told why. */
  private fail(conn: Conn, code: 1008 | 1009 | 1011, why: string): void {
    this.note('agent connections closed for protocol errors', `${this.label(conn)} closed: ${why}`);
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
        this.note('agent connections dropped (no answer to ping)', `${this.label(c)} dropped: ${c.why}`);
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
    this.registry.sweep('http');
    this.registry.forget();
    for (const line of this.summary.flush(Date.now())) this.opts.log.warn(line);
  }
}

/** The dms3-server node as other nodes get it from RED.nodes.getNode: `hub` is null when it refused to start. */
export interface HubNode {
  hub: Hub | null;
  /** Why the hub did not start, in a few words for its client nodes' statuses (null: it runs). */
  problem: string | null;
}

