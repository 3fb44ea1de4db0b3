// The Hub on a plain HTTP server and Express app (what Node-RED gives it), for what the node tests
// cannot reach: the HTTP root, other upgrade listeners, the hello deadline, timers, extra routes.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import express from 'express';
import { WebSocket, WebSocketServer } from 'ws';
import { addApiRoutes } from '../../nodes/dms3-server/api';
import { Tokens } from '../../nodes/dms3-server/auth';
import { HttpError, sendJson } from '../../nodes/dms3-server/http';
import { Hub, joinPath, type HubOptions } from '../../nodes/dms3-server/hub';
import { call, TestAgent } from '../support/agent';

const TOKEN = 'hub-token-for-tests-0123456789';
const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const cleanup: (() => unknown)[] = [];

async function serve(opts: Partial<HubOptions> = {}, root = '/'): Promise<{ hub: Hub; server: Server; url: string }> {
  const app = express();
  const nodeApp = express();
  app.use(root, nodeApp); // as Node-RED mounts RED.httpNode at httpNodeRoot
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const hub = new Hub({ base: '/dms3', httpRoot: root, heartbeatMs: 10_000, tokens: new Tokens(TOKEN, new Map()), log: quiet, ...opts });
  addApiRoutes(hub);
  hub.start(server, nodeApp);
  cleanup.push(
    () => hub.stop(),
    () => new Promise((r) => server.close(r)),
    () => server.closeAllConnections(),
  );
  return { hub, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('Hub', () => {
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('serves under the HTTP root and leaves other upgrades alone', async () => {
    const { hub, server, url } = await serve({}, '/red');
    assert.equal(hub.agentPath, '/red/dms3/agent');
    const other = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      if (req.url === '/comms') other.handleUpgrade(req, socket, head, (ws) => ws.send('comms ok'));
    });
    const comms = new WebSocket(`${url.replace('http', 'ws')}/comms`);
    const first = await new Promise<string>((resolve, reject) => {
      comms.once('message', (d) => resolve(String(d)));
      comms.once('error', reject);
    });
    assert.equal(first, 'comms ok');
    comms.terminate();
    other.close();

    hub.publish({ state: 'start', reason: 'nobody-home', since: new Date().toISOString(), override: 'auto' });
    const agent = new TestAgent(`${url.replace('http', 'ws')}/red/dms3/agent`, { token: TOKEN, name: 'kitchen' });
    await agent.open();
    await agent.until(() => agent.states.length === 1);
    agent.close();
    assert.equal((await call(`${url}/red/dms3/api/state`, { token: TOKEN })).json.reason, 'nobody-home');
    assert.equal((await call(`${url}/dms3/api/state`, { token: TOKEN })).status, 404);
  });

  it('closes a connection that says no hello in time', async () => {
    const { url } = await serve({ helloTimeoutMs: 100 });
    const silent = new TestAgent(`${url.replace('http', 'ws')}/dms3/agent`, { token: TOKEN, hello: false });
    await silent.open();
    const closed = await silent.waitClosed();
    assert.deepEqual(closed, { code: 1008, reason: 'no hello within 0.1 s' });
  });

  it('closes the older connection when an agent connects again under the same name', async () => {
    const { hub, url } = await serve();
    const older = new TestAgent(`${url.replace('http', 'ws')}/dms3/agent`, { token: TOKEN, name: 'kitchen' });
    await older.open();
    await new Promise((r) => setTimeout(r, 50));
    const newer = new TestAgent(`${url.replace('http', 'ws')}/dms3/agent`, { token: TOKEN, name: 'kitchen' });
    await newer.open();
    assert.equal((await older.waitClosed()).code, 4000);
    hub.publish({ state: 'stop', reason: 'someone-home', since: new Date().toISOString(), override: 'auto' });
    await newer.until(() => newer.states.length === 1);
    assert.equal(hub.registry.get('kitchen')!.connected, true);
    newer.close();
  });

  it('refuses a second hub on the same path and validates its options', async () => {
    const { server } = await serve();
    const twin = new Hub({ base: '/dms3', httpRoot: '/', heartbeatMs: 1000, tokens: new Tokens(TOKEN, new Map()), log: quiet });
    assert.throws(() => twin.start(server, express()), /base "\/dms3": another dms3-server already serves this path/);
    assert.throws(() => new Hub({ base: 'dms3/', httpRoot: '/', heartbeatMs: 1000, tokens: new Tokens(TOKEN, new Map()), log: quiet }), /base "dms3\/"/);
    assert.throws(() => new Hub({ base: '/dms3', httpRoot: '/', heartbeatMs: 0, tokens: new Tokens(TOKEN, new Map()), log: quiet }), /heartbeat 0/);
    assert.throws(() => twin.start(undefined, express()), /no HTTP server/);
  });

  it('mounts extra routes with their access rule, and removes them', async () => {
    const { hub, url } = await serve();
    const removePage = hub.route('GET', '/', (_req, res, { rest }) => sendJson(res, 200, { page: rest }), { access: 'public', prefix: true });
    hub.route(
      'POST',
      '/event',
      (_req, _res, { identity }) => {
        throw new HttpError(422, `seen ${identity?.kind}`);
      },
      { access: 'agent' },
    );
    assert.deepEqual((await call(`${url}/dms3/app.js`)).json, { page: '/app.js' });
    assert.deepEqual((await call(`${url}/dms3`)).json, { page: '/' });
    assert.equal((await call(`${url}/dms3/event`, { body: {} })).status, 401);
    assert.deepEqual((await call(`${url}/dms3/event`, { token: TOKEN, body: {} })).json, { error: 'seen hub' });
    removePage();
    assert.equal((await call(`${url}/dms3/app.js`)).status, 404);
  });

  it('stops within a second: sockets closed, timers cleared, routes gone', async () => {
    const before = timers();
    const { hub, server, url } = await serve({ heartbeatMs: 50 });
    const agents = ['a', 'b', 'c'].map((name) => new TestAgent(`${url.replace('http', 'ws')}/dms3/agent`, { token: TOKEN, name }));
    const silent = new TestAgent(`${url.replace('http', 'ws')}/dms3/agent`, { token: TOKEN, hello: false });
    await Promise.all([...agents, silent].map((a) => a.open()));
    assert.ok(timers() > before);
    const t0 = Date.now();
    await hub.stop();
    assert.ok(Date.now() - t0 < 1500);
    for (const a of [...agents, silent]) assert.equal((await a.waitClosed()).code, 1001);
    assert.equal(timers(), before);
    assert.equal(server.listenerCount('upgrade'), 0);
    assert.equal((await call(`${url}/dms3/api/state`, { token: TOKEN })).status, 404);
  });

  it('joins paths', () => {
    assert.equal(joinPath('/', '/dms3', '/agent'), '/dms3/agent');
    assert.equal(joinPath('/red/', 'dms3', '/agent'), '/red/dms3/agent');
    assert.equal(joinPath(''), '/');
    assert.equal(joinPath('/a/'), '/a');
  });
});
