// The Dashboard on a plain HTTP server and Express app with a Hub, for what the node tests cannot set:
// the keep-alive period, the viewer limit, and a clean stop.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import express from 'express';
import { parseDashboardOptions } from '../../lib/dashboard';
import { Tokens } from '../../nodes/dms3-server/auth';
import { Dashboard } from '../../nodes/dms3-server/dashboard';
import { Hub } from '../../nodes/dms3-server/hub';
import { Sessions } from '../../nodes/dms3-server/session';
import { health } from '../support/agent';
import { SseClient } from '../support/sse';

const TOKEN = 'hub-token-for-tests-0123456789';
const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const cleanup: (() => unknown)[] = [];

async function serve(keepAliveMs = 15_000, raw: Record<string, unknown> = { access: 'open' }) {
  const app = express();
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sessions = new Sessions([TOKEN], { path: '/dms3' });
  const hub = new Hub({ base: '/dms3', httpRoot: '/', heartbeatMs: 10_000, tokens: new Tokens(TOKEN, new Map()), log: quiet, session: sessions.check });
  const dashboard = new Dashboard({ hub, options: parseDashboardOptions(raw), sessions, server: { name: 'hub', version: '0.0.0', nodeRed: 'test' }, files: { stylesheet: null, template: null }, keepAliveMs, log: quiet });
  hub.start(server, app);
  dashboard.start();
  cleanup.push(
    () => dashboard.stop(),
    () => hub.stop(),
    () => new Promise((r) => server.close(r)),
    () => server.closeAllConnections(),
  );
  return { hub, dashboard, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dms3` };
}

function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('Dashboard on a hub', () => {
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('keeps the event stream alive with comments', async () => {
    const { url } = await serve(50);
    const stream = await SseClient.open(`${url}/api/events`);
    cleanup.push(() => stream.close());
    await stream.until(() => stream.comments >= 3, 5000, 'three keep-alive comments');
    assert.equal(stream.events[0].event, 'snapshot');
  });

  it('refuses viewers beyond its limit, and takes new ones when others leave', async () => {
    const { url } = await serve();
    const streams: SseClient[] = [];
    for (let i = 0; i < 100; i++) streams.push(await SseClient.open(`${url}/api/events`));
    cleanup.push(() => streams.forEach((s) => s.close()));
    assert.ok(streams.every((s) => s.status === 200));
    const refused = await fetch(`${url}/api/events`, { signal: AbortSignal.timeout(5000) });
    assert.equal(refused.status, 503);
    assert.match((await refused.json()).error, /too many dashboard viewers/);
    streams.pop()!.close();
    let again: SseClient | null = null;
    for (let i = 0; i < 100 && again?.status !== 200; i++) {
      again = await SseClient.open(`${url}/api/events`);
      if (again.status !== 200) await new Promise((r) => setTimeout(r, 20));
    }
    cleanup.push(() => again?.close());
    assert.equal(again!.status, 200);
  });

  it('stops: streams end, timers cleared, listeners and routes gone', async () => {
    const before = timers();
    const { hub, dashboard, url } = await serve(50, { access: 'open', warning: 60, danger: 120 });
    hub.registry.report('kitchen', health(), { transport: 'http', address: '127.0.0.1' });
    const stream = await SseClient.open(`${url}/api/events`);
    await stream.next((e) => e.event === 'snapshot');
    assert.ok(timers() >= before + 3, 'heartbeat, keep-alive, health timer');
    dashboard.stop();
    await stream.until(() => stream.ended, 5000, 'stream end');
    assert.equal(hub.registry.listenerCount('agent'), 0);
    assert.equal(hub.listenerCount('state') + hub.listenerCount('presence'), 0);
    assert.equal((await fetch(`${url}/api/view`, { signal: AbortSignal.timeout(5000) })).status, 404);
    await hub.stop();
    assert.equal(timers(), before);
  });
});
