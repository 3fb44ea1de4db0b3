// A Home Assistant stand-in for the tests: an HTTP server on 127.0.0.1 that speaks Home Assistant's
// documented WebSocket API at /api/websocket (https://developers.home-assistant.io/docs/api/websocket):
// the auth phase, increasing command ids, `result` / `event` / `pong` messages, message coalescing
// after `supported_features`, and a small state machine with the compressed `subscribe_entities`
// stream (snapshot `a`, diffs `c` with "+"/"-", removals `r`), `get_states`, `subscribe_events`,
// `unsubscribe_events`, `fire_event` and `call_service` for input_boolean / input_select.
// It can restart on the same port, freeze (stop answering) and hold entity snapshots back.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

export interface Context {
  id: string;
  parent_id: string | null;
  user_id: string | null;
}

interface StoredState {
  entity_id: string;
  state: string;
  attributes: Record<string, unknown>;
  context: Context;
  last_changed: number; // seconds since the epoch, as Home Assistant's timestamps
  last_updated: number;
}

export interface BusEvent {
  event_type: string;
  data: Record<string, any>;
  origin: 'LOCAL' | 'REMOTE';
  time_fired: string;
  context: Context;
}

export interface ServiceCall {
  domain: string;
  service: string;
  service_data: Record<string, any>;
  target: Record<string, any> | undefined;
  context: Context;
}

type Sub = { kind: 'events'; eventType: string | undefined } | { kind: 'entities'; ids: Set<string> | undefined };

interface Client {
  ws: WebSocket;
  authed: boolean;
  lastId: number;
  coalesce: boolean;
  frozen: boolean;
  subs: Map<number, Sub>;
  queue: unknown[];
}

const ENTITY_ID = /^[a-z0-9_]+\.[a-z0-9_]+$/;
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID-shaped id, as Home Assistant's context ids are. */
function ulid(): string {
  let time = Date.now();
  let head = '';
  for (let i = 0; i < 10; i++) {
    head = CROCKFORD[time % 32] + head;
    time = Math.floor(time / 32);
  }
  return head + Array.from(randomBytes(16), (b) => CROCKFORD[b % 32]).join('');
}

const hash = (s: string) => createHash('sha256').update(s).digest();
const now = () => Date.now() / 1000;
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Emits 'bus' with every event fired on its bus (state_changed included). */
export class HaTestServer extends EventEmitter {
  port = 0;
  haVersion: string;
  readonly userId = randomBytes(16).toString('hex');
  readonly states = new Map<string, StoredState>();
  readonly events: BusEvent[] = [];
  readonly serviceCalls: ServiceCall[] = [];
  /** Sockets accepted since the start, and sockets that passed the auth phase. */
  connectionsAccepted = 0;
  authOk = 0;
  authInvalid = 0;
  /** While true, `subscribe_entities` answers its result but keeps the snapshot back. */
  holdSnapshots = false;
  /** Services to answer as not found (an integration that is not loaded). */
  readonly disabledServices = new Set<string>();
  private held: (() => void)[] = [];
  private readonly tokens: Buffer[];
  private readonly clients = new Set<Client>();
  private http?: Server;
  private wss?: WebSocketServer;

  constructor(opts: { tokens: string[]; haVersion?: string }) {
    super();
    this.tokens = opts.tokens.map(hash);
    this.haVersion = opts.haVersion ?? '2025.1.0';
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Sockets currently open (authenticated or not). */
  get openConnections(): number {
    return this.clients.size;
  }

  async start(port = this.port): Promise<void> {
    const http = createServer((_req, res) => {
      res.writeHead(404).end();
    });
    const wss = new WebSocketServer({ noServer: true });
    http.on('upgrade', (req, socket, head) => {
      if (new URL(req.url ?? '/', 'http://x').pathname !== '/api/websocket') {
        socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (http.address() as AddressInfo).port;
    this.http = http;
    this.wss = wss;
  }

  /** Shut down as Home Assistant does: close every connection, stop listening. */
  async stop(): Promise<void> {
    const closing = [...this.clients].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === WebSocket.CLOSED) return resolve();
          const force = setTimeout(() => c.ws.terminate(), 1000);
          c.ws.once('close', () => {
            clearTimeout(force);
            resolve();
          });
          c.ws.close(1001, 'Home Assistant is shutting down');
        }),
    );
    await Promise.all(closing);
    this.wss?.close();
    if (this.http) {
      const http = this.http;
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
    this.http = undefined;
    this.wss = undefined;
  }

  /** Stop, let `whileDown` change things, come back on the same port. */
  async restart(whileDown?: () => void, downMs = 300): Promise<void> {
    await this.stop();
    whileDown?.();
    await new Promise((r) => setTimeout(r, downMs));
    await this.start(this.port);
  }

  /** Existing connections stop answering (a hung Home Assistant, or a dead network path). */
  freeze(): void {
    for (const c of this.clients) c.frozen = true;
  }

  releaseSnapshots(): void {
    this.holdSnapshots = false;
    for (const send of this.held.splice(0)) send();
  }

  newContext(userId: string | null = null): Context {
    return { id: ulid(), parent_id: null, user_id: userId };
  }

  /**
   * Like `hass.states.async_set`: nothing happens when state and attributes are unchanged;
   * otherwise last_updated moves, last_changed moves with the state, and state_changed is fired.
   * `attributes` undefined keeps the current ones.
   */
  setState(entityId: string, state: string, attributes?: Record<string, unknown>, context: Context = this.newContext()): void {
    const old = this.states.get(entityId);
    const attrs = attributes ?? old?.attributes ?? {};
    if (old && old.state === state && same(old.attributes, attrs)) return;
    const t = now();
    const next: StoredState = {
      entity_id: entityId,
      state,
      attributes: { ...attrs },
      context,
      last_changed: old && old.state === state ? old.last_changed : t,
      last_updated: t,
    };
    this.states.set(entityId, next);
    this.fire('state_changed', { entity_id: entityId, old_state: old ?? null, new_state: next }, 'LOCAL', context);
  }

  removeState(entityId: string): void {
    const old = this.states.get(entityId);
    if (!old) return;
    this.states.delete(entityId);
    this.fire('state_changed', { entity_id: entityId, old_state: old, new_state: null }, 'LOCAL', this.newContext());
  }

  // --- the connection ---------------------------------------------------------------------------

  private accept(ws: WebSocket): void {
    const client: Client = { ws, authed: false, lastId: 0, coalesce: false, frozen: false, subs: new Map(), queue: [] };
    this.clients.add(client);
    this.connectionsAccepted++;
    ws.on('close', () => this.clients.delete(client));
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      if (client.frozen) return;
      let msg: unknown;
      try {
        msg = JSON.parse(isBinary ? '' : data.toString());
      } catch {
        msg = undefined;
      }
      if (client.authed) this.command(client, msg);
      else this.auth(client, msg);
    });
    this.sendNow(client, { type: 'auth_required', ha_version: this.haVersion });
  }

  private auth(client: Client, msg: unknown): void {
    const m = msg as Record<string, unknown> | undefined;
    if (m?.type !== 'auth' || typeof m.access_token !== 'string') {
      this.sendNow(client, { type: 'auth_invalid', message: 'Auth message incorrectly formatted: expected {type: auth, access_token}' });
      client.ws.close();
      return;
    }
    const given = hash(m.access_token);
    if (!this.tokens.some((t) => timingSafeEqual(t, given))) {
      this.authInvalid++;
      this.sendNow(client, { type: 'auth_invalid', message: 'Invalid access token or password' });
      client.ws.close();
      return;
    }
    client.authed = true;
    this.authOk++;
    this.sendNow(client, { type: 'auth_ok', ha_version: this.haVersion });
  }

  private sendNow(client: Client, msg: unknown): void {
    if (client.ws.readyState === WebSocket.OPEN) client.ws.send(JSON.stringify(msg));
  }

  /** Messages produced in one turn go out together: as a JSON array once coalescing is on. */
  private send(client: Client, msg: unknown): void {
    if (client.frozen) return;
    client.queue.push(msg);
    if (client.queue.length > 1) return;
    setImmediate(() => {
      const batch = client.queue.splice(0);
      if (client.coalesce && batch.length > 1) this.sendNow(client, batch);
      else for (const m of batch) this.sendNow(client, m);
    });
  }

  private result(client: Client, id: number, result: unknown = null): void {
    this.send(client, { id, type: 'result', success: true, result });
  }

  private error(client: Client, id: number | null, code: string, message: string): void {
    this.send(client, { id, type: 'result', success: false, error: { code, message } });
  }

  private command(client: Client, msg: unknown): void {
    const m = msg as Record<string, any> | undefined;
    if (typeof m !== 'object' || m === null || !Number.isInteger(m.id) || typeof m.type !== 'string') {
      this.error(client, typeof m?.id === 'number' ? m.id : null, 'invalid_format', 'Message incorrectly formatted.');
      return;
    }
    const id: number = m.id;
    if (id <= client.lastId) {
      this.error(client, id, 'id_reuse', 'Identifier values have to increase.');
      return;
    }
    client.lastId = id;
    switch (m.type) {
      case 'ping':
        this.send(client, { id, type: 'pong' });
        return;
      case 'supported_features':
        client.coalesce = Boolean(m.features?.coalesce_messages);
        this.result(client, id);
        return;
      case 'get_states':
        this.result(client, id, [...this.states.values()].map(asDict));
        return;
      case 'subscribe_events':
        if (m.event_type !== undefined && typeof m.event_type !== 'string') return this.error(client, id, 'invalid_format', 'Message incorrectly formatted.');
        client.subs.set(id, { kind: 'events', eventType: m.event_type });
        this.result(client, id);
        return;
      case 'unsubscribe_events':
        if (!client.subs.delete(m.subscription)) return this.error(client, id, 'not_found', 'Subscription not found.');
        this.result(client, id);
        return;
      case 'subscribe_entities':
        return this.subscribeEntities(client, id, m.entity_ids);
      case 'fire_event': {
        if (typeof m.event_type !== 'string') return this.error(client, id, 'invalid_format', 'Message incorrectly formatted.');
        const context = this.newContext(this.userId);
        this.fire(m.event_type, m.event_data ?? {}, 'REMOTE', context);
        this.result(client, id, { context });
        return;
      }
      case 'call_service':
        return this.callService(client, id, m);
      default:
        this.error(client, id, 'unknown_command', 'Unknown command.');
    }
  }

  private subscribeEntities(client: Client, id: number, entityIds: unknown): void {
    let ids: Set<string> | undefined;
    if (entityIds !== undefined) {
      const list = typeof entityIds === 'string' ? entityIds.split(',').map((s) => s.trim()) : entityIds;
      if (!Array.isArray(list) || !list.every((e) => typeof e === 'string' && ENTITY_ID.test(e.toLowerCase()))) {
        return this.error(client, id, 'invalid_format', `Entity IDs are invalid: ${JSON.stringify(entityIds)}`);
      }
      ids = new Set(list.map((e: string) => e.toLowerCase()));
    }
    client.subs.set(id, { kind: 'entities', ids });
    this.result(client, id);
    const snapshot = () => {
      if (!client.subs.has(id)) return;
      const a: Record<string, unknown> = {};
      for (const st of this.states.values()) if (!ids || ids.has(st.entity_id)) a[st.entity_id] = compressed(st);
      this.send(client, { id, type: 'event', event: { a } });
    };
    if (this.holdSnapshots) this.held.push(snapshot);
    else snapshot();
  }

  private callService(client: Client, id: number, m: Record<string, any>): void {
    const { domain, service } = m;
    if (typeof domain !== 'string' || typeof service !== 'string') return this.error(client, id, 'invalid_format', 'Message incorrectly formatted.');
    const data: Record<string, any> = m.service_data ?? {};
    const target: Record<string, any> | undefined = m.target ?? undefined;
    const context = this.newContext(this.userId);
    const wanted = [target?.entity_id, data.entity_id].flat().filter((e): e is string => typeof e === 'string');
    const entities = wanted.filter((e) => e.startsWith(`${domain}.`) && this.states.has(e));
    const run = this.disabledServices.has(`${domain}.${service}`) ? undefined : SERVICES[`${domain}.${service}`];
    if (!run) return this.error(client, id, 'not_found', `Service ${domain}.${service} not found.`);
    const problem = run(this, entities, data, context, true);
    if (problem) return this.error(client, id, 'service_validation_error', problem);
    this.serviceCalls.push({ domain, service, service_data: data, target, context });
    this.fire('call_service', { domain, service, service_data: data }, 'LOCAL', context);
    run(this, entities, data, context, false);
    this.result(client, id, { context, response: null });
  }

  private fire(eventType: string, data: Record<string, any>, origin: 'LOCAL' | 'REMOTE', context: Context): void {
    const event: BusEvent = { event_type: eventType, data, origin, time_fired: new Date().toISOString(), context };
    this.events.push(event);
    this.emit('bus', event);
    for (const client of this.clients) {
      if (!client.authed) continue;
      for (const [subId, sub] of client.subs) {
        if (sub.kind === 'events' && (sub.eventType === undefined || sub.eventType === eventType)) {
          const wire = eventType === 'state_changed' ? { ...event, data: { entity_id: data.entity_id, old_state: data.old_state && asDict(data.old_state), new_state: data.new_state && asDict(data.new_state) } } : event;
          this.send(client, { id: subId, type: 'event', event: wire });
        }
        if (sub.kind === 'entities' && eventType === 'state_changed' && (!sub.ids || sub.ids.has(data.entity_id))) {
          this.send(client, { id: subId, type: 'event', event: stateDiff(data.entity_id, data.old_state, data.new_state) });
        }
      }
    }
  }
}

type Service = (ha: HaTestServer, entities: string[], data: Record<string, any>, context: Context, check: boolean) => string | void;

const SERVICES: Record<string, Service> = {
  'input_boolean.turn_on': (ha, ids, _d, ctx, check) => {
    if (!check) for (const e of ids) ha.setState(e, 'on', undefined, ctx);
  },
  'input_boolean.turn_off': (ha, ids, _d, ctx, check) => {
    if (!check) for (const e of ids) ha.setState(e, 'off', undefined, ctx);
  },
  'input_boolean.toggle': (ha, ids, _d, ctx, check) => {
    if (!check) for (const e of ids) ha.setState(e, ha.states.get(e)!.state === 'on' ? 'off' : 'on', undefined, ctx);
  },
  'input_select.select_option': (ha, ids, d, ctx, check) => {
    for (const e of ids) {
      const options = (ha.states.get(e)!.attributes.options as string[] | undefined) ?? [];
      if (check && !options.includes(d.option)) return `Invalid option: ${d.option} (possible options: ${options.join(', ')})`;
      if (!check) ha.setState(e, d.option, undefined, ctx);
    }
    return undefined;
  },
};

function asDict(st: StoredState): Record<string, unknown> {
  return {
    entity_id: st.entity_id,
    state: st.state,
    attributes: st.attributes,
    last_changed: new Date(st.last_changed * 1000).toISOString(),
    last_reported: new Date(st.last_updated * 1000).toISOString(),
    last_updated: new Date(st.last_updated * 1000).toISOString(),
    context: st.context,
  };
}

/** State.as_compressed_state: the context is its id alone when it has no parent and no user. */
function compressed(st: StoredState): Record<string, unknown> {
  const ctx = st.context.parent_id === null && st.context.user_id === null ? st.context.id : st.context;
  const out: Record<string, unknown> = { s: st.state, a: st.attributes, c: ctx, lc: st.last_changed };
  if (st.last_changed !== st.last_updated) out.lu = st.last_updated;
  return out;
}

/** websocket_api's _state_diff_event: `r` for a removal, `a` for a new entity, else a `c` diff. */
function stateDiff(entityId: string, old: StoredState | null, next: StoredState | null): Record<string, unknown> {
  if (!next) return { r: [entityId] };
  if (!old) return { a: { [entityId]: compressed(next) } };
  const add: Record<string, any> = {};
  const diff: Record<string, unknown> = { '+': add };
  if (old.state !== next.state) add.s = next.state;
  if (old.last_changed !== next.last_changed) add.lc = next.last_changed;
  else if (old.last_updated !== next.last_updated) add.lu = next.last_updated;
  if (old.context.parent_id !== next.context.parent_id) add.c = { parent_id: next.context.parent_id };
  if (old.context.user_id !== next.context.user_id) add.c = { ...(add.c ?? {}), user_id: next.context.user_id };
  if (old.context.id !== next.context.id) add.c = add.c ? { ...add.c, id: next.context.id } : next.context.id;
  if (!same(old.attributes, next.attributes)) {
    for (const [k, v] of Object.entries(next.attributes)) if (!same(old.attributes[k], v)) (add.a ??= {})[k] = v;
    const removed = Object.keys(old.attributes).filter((k) => !(k in next.attributes));
    if (removed.length) diff['-'] = { a: removed };
  }
  return { c: { [entityId]: diff } };
}
