// The event endpoint on a plain Hub and Express app (what Node-RED gives it), for what the node tests
// cannot set up: a body parser before the hub (httpNodeMiddleware), and a client that gives up mid-upload.
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import express from 'express';
import type { MotionEvent } from '../../lib/event';
import { Tokens } from '../../nodes/dms3-server/auth';
import { SeenKeys } from '../../nodes/dms3-server/event-keys';
import { addEventRoute, EventIntake } from '../../nodes/dms3-server/events';
import { Hub } from '../../nodes/dms3-server/hub';
import { makeJpeg } from '../support/images';
import { delay } from '../support/red';

const TOKEN = 'hub-token-for-tests-0123456789';
const cleanup: (() => unknown)[] = [];

async function serve(before?: express.RequestHandler): Promise<{ url: string; seen: MotionEvent[]; errors: string[] }> {
  const app = express();
  if (before) app.use(before);
  const server: Server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const errors: string[] = [];
  const hub = new Hub({ base: '/dms3', httpRoot: '/', heartbeatMs: 10_000, tokens: new Tokens(TOKEN, new Map()), log: { info: () => {}, warn: () => {}, error: (m) => errors.push(m) } });
  const intake = new EventIntake({ limitBytes: 1024 * 1024, keys: new SeenKeys(null), registry: hub.registry });
  const seen: MotionEvent[] = [];
  intake.bind((e) => seen.push(e));
  addEventRoute(hub, intake);
  hub.start(server, app);
  cleanup.push(
    () => hub.stop(),
    () => new Promise((r) => server.close(r)),
    () => server.closeAllConnections(),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dms3/event?agent=kitchen&camera=1&event=3&kind=picture&pixels=768`, seen, errors };
}

describe('event endpoint on a plain server', () => {
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('takes a body that a raw body parser (httpNodeMiddleware) has already read', async () => {
    const { url, seen } = await serve(express.raw({ type: 'image/*', limit: '2mb' }));
    const jpg = makeJpeg(160, 120);
    const res = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'image/jpeg' }, body: new Uint8Array(jpg), signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 201, await res.text());
    assert.equal(seen.length, 1);
    assert.deepEqual([seen[0].width, seen[0].height, seen[0].percent, seen[0].file.data.equals(jpg)], [160, 120, 4, true]);
  });

  it('shrugs off a client that gives up mid-upload, and serves the next one', async () => {
    const { url, seen, errors } = await serve();
    await new Promise<void>((resolve) => {
      const req = request(url, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'image/jpeg', 'Content-Length': 100_000 } });
      req.on('error', () => resolve());
      req.write(Buffer.alloc(10_000), () => setTimeout(() => req.destroy(), 50));
    });
    await delay(100);
    const jpg = makeJpeg(64, 48);
    const res = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'image/jpeg' }, body: new Uint8Array(jpg), signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 201);
    assert.equal(seen.length, 1);
    assert.deepEqual(errors, [], 'nothing logged as an internal error');
  });
});
