// dms3-server ("the hub"): the config node that owns the agent endpoint, the registry and the tokens.
// Thin glue: reads config and credentials, starts a Hub on Node-RED's HTTP server, stops it on close.
import { join } from 'node:path';
import { FieldError } from '../../lib/errors';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { addApiRoutes } from './api';
import { parseAgentTokens, Tokens } from './auth';
import { SeenKeys } from './event-keys';
import { addEventRoute, DEFAULT_EVENT_LIMIT_MB, EventIntake, type EventsNode } from './events';
import { Hub, type HubNode } from './hub';

interface ServerDef extends NodeDef {
  base?: string;
  heartbeat?: string | number;
  eventLimit?: string | number; // MB
}

const DEFAULT_BASE = '/dms3';
const DEFAULT_HEARTBEAT_S = 10;
const SHORT_TOKEN = 16;

export = function (RED: NodeAPI) {
  function heartbeatMs(value: string | number | undefined): number {
    if (value === undefined || value === '') return DEFAULT_HEARTBEAT_S * 1000;
    const s = Number(value);
    if (!Number.isFinite(s) || s <= 0 || s > 3600) throw new FieldError('heartbeat', value, 'expected seconds between 0 and 3600');
    return s * 1000;
  }

  function eventLimitBytes(value: string | number | undefined): number {
    if (value === undefined || value === '') return DEFAULT_EVENT_LIMIT_MB * 1024 * 1024;
    const mb = Number(value);
    if (!Number.isFinite(mb) || mb <= 0 || mb > 1024) throw new FieldError('eventLimit', value, 'expected megabytes between 0 and 1024');
    return Math.round(mb * 1024 * 1024);
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

  function ServerNode(this: Node, config: ServerDef) {
    RED.nodes.createNode(this, config);
    const node = this as Node & HubNode & EventsNode;
    node.hub = null;
    node.events = null;
    let hub: Hub;
    let keys: SeenKeys | null = null;
    try {
      if (RED.settings.httpNodeRoot === (false as unknown)) throw new Error('httpNodeRoot is false in settings.js, so Node-RED serves no HTTP nodes');
      const fromEnv = !node.credentials?.token && !!process.env.DMS3_TOKEN;
      const hubToken = node.credentials?.token || process.env.DMS3_TOKEN || '';
      const tokens = new Tokens(hubToken, parseAgentTokens(node.credentials?.agentTokens));
      if (tokens.empty) {
        throw new Error('no token: set the token in this node (or agent tokens), or the DMS3_TOKEN environment variable. The hub never serves agents without one.');
      }
      if (hubToken && hubToken.length < SHORT_TOKEN) node.warn(`the hub token is shorter than ${SHORT_TOKEN} characters: use a long random one (e.g. openssl rand -hex 24)`);
      hub = new Hub({
        base: config.base || DEFAULT_BASE,
        httpRoot: typeof RED.settings.httpNodeRoot === 'string' ? RED.settings.httpNodeRoot : '/',
        heartbeatMs: heartbeatMs(config.heartbeat),
        tokens,
        log: { info: (m) => node.log(m), warn: (m) => node.warn(m), error: (m) => node.error(m) },
      });
      addApiRoutes(hub);
      const limitBytes = eventLimitBytes(config.eventLimit);
      keys = seenKeys(node);
      node.events = new EventIntake({ limitBytes, keys, registry: hub.registry });
      addEventRoute(hub, node.events);
      hub.start(RED.server, RED.httpNode);
      node.log(`agents connect to ${hub.agentPath}${fromEnv ? ' (hub token from DMS3_TOKEN)' : ''}`);
    } catch (err) {
      keys?.close();
      node.events = null;
      node.error(`not started: ${(err as Error).message}`);
      return;
    }
    node.hub = hub;
    node.on('close', (_removed, done) => {
      void hub.stop().finally(() => {
        keys?.close();
        done();
      });
    });
  }

  RED.nodes.registerType('dms3-server', ServerNode, {
    credentials: { token: { type: 'password' }, agentTokens: { type: 'text' } },
  });
};
