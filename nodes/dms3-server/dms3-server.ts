// dms3-server ("the hub"): the config node that owns the agent endpoint, the registry and the tokens.
// Thin glue: reads config and credentials, starts a Hub (and its dashboard) on Node-RED's HTTP server,
// stops them on close.
import { accessSync, constants, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parseDashboardOptions, type DashboardOptions } from '../../lib/dashboard';
import { FieldError } from '../../lib/errors';
import { DEFAULT_THRESHOLDS } from '../../lib/health';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { addApiRoutes } from './api';
import { mintAgentToken, parseAgentTokens, Tokens } from './auth';
import { Dashboard } from './dashboard';
import { Hub, joinPath, type HubNode } from './hub';
import { Sessions, TrustedProxies } from './session';
import { DeliveryTracker, type Hooks } from './delivery';
import { SeenKeys } from './event-keys';
import { DEFAULT_STORE_DAYS, DEFAULT_STORE_MB, EventStore } from './event-store';
import { addEventRoute, DEFAULT_EVENT_LIMIT_MB, DEFAULT_PIXEL_LIMIT_MP, EventIntake, type EventsNode } from './events';
import { waitingAgents } from './waiting-agents';

interface ServerDef extends NodeDef {
  base?: string;
  heartbeat?: string | number;
  eventLimit?: string | number; // MB
  storeLimit?: string | number; // MB kept for events the flow has not finished
  storeDays?: string | number; // days an unfinished event is kept
  pixelLimit?: string | number; // megapixels a picture may have
  /** Addresses of the reverse proxy whose X-Forwarded-For/-Proto are believed (none by default). */
  trustProxy?: string;
}

const DEFAULT_BASE = '/dms3';
const DEFAULT_HEARTBEAT_S = 10;
const SHORT_TOKEN = 16;
const VERSION = (JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

export = function (RED: NodeAPI) {
  // Registered now, before Node-RED listens: agents that dial before the flows start wait for their hub.
  const waiting = RED.server ? waitingAgents(RED.server) : null;

  function heartbeatMs(value: string | number | undefined): number {
    if (value === undefined || value === '') return DEFAULT_HEARTBEAT_S * 1000;
    const s = Number(value);
    if (!Number.isFinite(s) || s <= 0 || s > 3600) throw new FieldError('heartbeat', value, 'expected seconds between 0 and 3600');
    return s * 1000;
  }

  function httpRoot(): string {
    return typeof RED.settings.httpNodeRoot === 'string' ? RED.settings.httpNodeRoot : '/';
  }

  /** A custom page file, relative to Node-RED's user directory; checked now so a typo shows at deploy. */
  function customFile(field: 'stylesheet' | 'template', path: string | null): string | null {
    if (path === null) return null;
    const full = isAbsolute(path) ? path : join(RED.settings.userDir ?? process.cwd(), path);
    try {
      accessSync(full, constants.R_OK);
    } catch (err) {
      throw new FieldError(field, path, `cannot read ${full} (${(err as NodeJS.ErrnoException).code})`);
    }
    if (field === 'template' && !readFileSync(full, 'utf8').includes('{{head}}')) throw new FieldError(field, path, 'the template must contain {{head}} (stylesheets, settings and script)');
    return full;
  }

  /** The dashboard's options and sign-in, or null (logged) when it is off or misconfigured: the hub runs either way. */
  function dashboardSetup(node: Node, config: ServerDef, hubToken: string): { options: DashboardOptions; sessions: Sessions; files: { stylesheet: string | null; template: string | null } } | null {
    try {
      const options = parseDashboardOptions(config);
      if (!options.enabled) return null;
      const sessions = new Sessions([node.credentials?.password ?? '', hubToken], {
        path: joinPath(httpRoot(), config.base || DEFAULT_BASE),
        file: RED.settings.userDir ? join(RED.settings.userDir, 'dms3', `sessions-${node.id.replace(/[^A-Za-z0-9_-]/g, '_')}.json`) : null,
        proxies: trustedProxies(config.trustProxy),
        warn: (m) => node.warn(m),
      });
      if (options.access === 'password' && !sessions.enabled) throw new FieldError('access', options.access, 'set a dashboard password (or a hub token) to sign in with');
      if (options.access === 'node-red' && !RED.settings.httpNodeAuth) node.warn('dashboard access is left to Node-RED, but httpNodeAuth is not set in settings.js: anyone who can reach Node-RED can read the dashboard');
      return { options, sessions, files: { stylesheet: customFile('stylesheet', options.stylesheet), template: customFile('template', options.template) } };
    } catch (err) {
      node.error(`dashboard not started: ${(err as Error).message}`);
      return null;
    }
  }

  function trustedProxies(value: string | undefined): TrustedProxies {
    for (const a of (value ?? '').split(/[\s,]+/)) if (a !== '' && !/^[0-9A-Fa-f.:]{2,45}$/.test(a)) throw new FieldError('trustProxy', a, 'expected IP addresses of your reverse proxy, e.g. 127.0.0.1');
    return new TrustedProxies(value);
  }

  function eventLimitBytes(value: string | number | undefined): number {
    if (value === undefined || value === '') return DEFAULT_EVENT_LIMIT_MB * 1024 * 1024;
    const mb = Number(value);
    if (!Number.isFinite(mb) || mb <= 0 || mb > 1024) throw new FieldError('eventLimit', value, 'expected megabytes between 0 and 1024');
    return Math.round(mb * 1024 * 1024);
  }

  function bounded(field: 'storeLimit' | 'storeDays' | 'pixelLimit', value: string | number | undefined, fallback: number, max: number, unit: string): number {
    if (value === undefined || value === '') return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || n > max) throw new FieldError(field, value, `expected ${unit} between 0 and ${max}`);
    return n;
  }

  /** Events wait under the user directory until the flow has finished with them. */
  function eventStore(node: Node, config: ServerDef): EventStore {
    const limits = {
      maxBytes: Math.round(bounded('storeLimit', config.storeLimit, DEFAULT_STORE_MB, 1024 * 1024, 'megabytes') * 1024 * 1024),
      maxAgeMs: Math.round(bounded('storeDays', config.storeDays, DEFAULT_STORE_DAYS, 365, 'days') * 24 * 3600_000),
    };
    if (!RED.settings.userDir) {
      node.warn('no user directory: accepted events are kept in memory only (lost if Node-RED stops before the flow finished them)');
      return new EventStore(null, limits);
    }
    const store = new EventStore(join(RED.settings.userDir, 'dms3', `events-${node.id.replace(/[^A-Za-z0-9_-]/g, '_')}`), limits);
    const bad = store.open();
    if (bad.length) node.warn(`event store ${store.dir}: ${bad.length} unreadable file(s) left in place, e.g. ${bad[0]}`);
    if (store.size) node.log(`${store.size} event(s) the flow had not finished are delivered again`);
    return store;
  }

  /** The idempotency keys live under the user directory, so that a restart does not count an event twice. */
  function seenKeys(node: Node): SeenKeys {
    const warn = (err: Error) => node.warn(`event keys kept in memory only: ${err.message}`);
    if (!RED.settings.userDir) return new SeenKeys(null);
    try {
      return new SeenKeys(join(RED.settings.userDir, 'dms3', `event-keys-${node.id.replace(/[^A-Za-z0-9_-]/g, '_')}.log`), warn);
    } catch (err) {
      warn(err as Error);
      return new SeenKeys(null);
    }
  }

  /** Replays wait until every node of the flows exists, so that the dms3-event nodes hear them. */
  function startWhenFlowsRun(start: () => void): void {
    const events = (RED as unknown as { events?: { once(name: string, fn: () => void): void } }).events;
    if (events) events.once('flows:started', start);
    else setImmediate(start);
  }

  function ServerNode(this: Node, config: ServerDef) {
    RED.nodes.createNode(this, config);
    const node = this as Node & HubNode & EventsNode;
    node.hub = null;
    node.problem = null;
    node.events = null;
    let hub: Hub;
    let dashboard: Dashboard | null = null;
    let keys: SeenKeys | null = null;
    let tracker: DeliveryTracker | null = null;
    let unwait: (() => void) | null = null;
    try {
      if (RED.settings.httpNodeRoot === (false as unknown)) throw new Error('httpNodeRoot is false in settings.js, so Node-RED serves no HTTP nodes');
      const fromEnv = !node.credentials?.token && !!process.env.DMS3_TOKEN;
      const hubToken = node.credentials?.token || process.env.DMS3_TOKEN || '';
      const tokens = new Tokens(hubToken, parseAgentTokens(node.credentials?.agentTokens));
      if (tokens.empty) {
        throw new Error('no token: set the token in this node (or agent tokens), or the DMS3_TOKEN environment variable. The hub never serves agents without one.');
      }
      if (hubToken && hubToken.length < SHORT_TOKEN) node.warn(`the hub token is shorter than ${SHORT_TOKEN} characters: use a long random one (e.g. openssl rand -hex 24)`);
      const setup = dashboardSetup(node, config, hubToken);
      hub = new Hub({
        base: config.base || DEFAULT_BASE,
        httpRoot: httpRoot(),
        heartbeatMs: heartbeatMs(config.heartbeat),
        tokens,
        log: { info: (m) => node.log(m), warn: (m) => node.warn(m), error: (m) => node.error(m) },
        session: setup?.sessions.check,
        // Node-RED's Basic auth on HTTP-node routes must stay in front of the hub's routes.
        nodeAuth: !!RED.settings.httpNodeAuth,
        // An agent the dashboard would call missing is forgotten.
        forgetAfterMs: (setup?.options.thresholds.missing ?? DEFAULT_THRESHOLDS.missing) * 1000,
      });
      addApiRoutes(hub);
      if (setup) {
        const name = config.name || 'DMS3 server';
        // The test helper's RED has no version().
        const nodeRed = typeof RED.version === 'function' ? RED.version() : 'unknown';
        dashboard = new Dashboard({ hub, ...setup, server: { name, version: VERSION, nodeRed }, log: { info: (m) => node.log(m), warn: (m) => node.warn(m), error: (m) => node.error(m) } });
      }
      const limitBytes = eventLimitBytes(config.eventLimit);
      const store = eventStore(node, config);
      keys = seenKeys(node);
      const hooks = (RED as unknown as { hooks?: Hooks }).hooks ?? null;
      if (store.durable && !hooks) node.warn('this Node-RED has no messaging hooks: an event leaves the store once it was sent to the flow');
      tracker = new DeliveryTracker(hooks, node.id);
      const log = { warn: (m: string) => node.warn(m), error: (m: string) => node.error(m) };
      const countsFile = RED.settings.userDir ? join(RED.settings.userDir, 'dms3', `event-counts-${node.id.replace(/[^A-Za-z0-9_-]/g, '_')}.json`) : null;
      const maxPixels = bounded('pixelLimit', config.pixelLimit, DEFAULT_PIXEL_LIMIT_MP, 1000, 'megapixels') * 1e6;
      const intake = new EventIntake({ limitBytes, keys, registry: hub.registry, store, tracker, countsFile, log, maxPixels });
      node.events = intake;
      addEventRoute(hub, intake);
      startWhenFlowsRun(() => intake.start());
      hub.start(RED.server, RED.httpNode);
      unwait = waiting?.serve(hub.agentPath) ?? null;
      dashboard?.start();
      node.log(`agents connect to ${hub.agentPath}${fromEnv ? ' (hub token from DMS3_TOKEN)' : ''}${dashboard ? `; dashboard at ${hub.basePath}/` : ''}`);
    } catch (err) {
      keys?.close();
      tracker?.close();
      node.events = null;
      // The first clause ("no token", "httpNodeRoot is false in settings.js") is what the clients show.
      node.problem = (err as Error).message.split(/[:.(]/)[0].trim();
      node.error(`not started: ${(err as Error).message}`);
      node.status({ fill: 'red', shape: 'ring', text: `not started: ${node.problem}`.slice(0, 60) });
      return;
    }
    node.hub = hub;
    node.on('close', (_removed, done) => {
      unwait?.();
      dashboard?.stop();
      node.events?.close();
      tracker?.close();
      void hub.stop().finally(() => {
        keys?.close();
        done();
      });
    });
  }

  // The editor's "Add agent": a fresh token for one Pi, shown once; the hub keeps only its digest.
  // Behind Node-RED's adminAuth like the rest of the editor (the test helper's RED has no auth).
  type Handler = (req: unknown, res: { json(body: unknown): void; set(k: string, v: string): void }, next: () => void) => void;
  const { auth } = RED as unknown as { auth?: { needsPermission(p: string): Handler } };
  const mayWrite: Handler = auth ? auth.needsPermission('dms3-server.write') : (_req, _res, next) => next();
  (RED.httpAdmin as unknown as { post(path: string, ...h: Handler[]): void } | undefined)?.post('/dms3-server/agent-token', mayWrite, (_req, res) => {
    res.set('Cache-Control', 'no-store');
    res.json(mintAgentToken());
  });

  RED.nodes.registerType('dms3-server', ServerNode, {
    credentials: { token: { type: 'password' }, agentTokens: { type: 'text' }, password: { type: 'password' } },
  });
};
