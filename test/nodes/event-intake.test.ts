// The event endpoint on a plain Hub and Express app (what Node-RED gives it), for what the node tests
// cannot set up: a body parser before the hub (httpNodeMiddleware), and a client that gives up mid-upload.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import express from 'express';
import type { MotionEvent } from '../../lib/event';
import { Tokens } from '../../nodes/dms3-server/auth';
import { DeliveryTracker } from '../../nodes/dms3-server/delivery';
import { SeenKeys } from '../../nodes/dms3-server/event-keys';
import { EventStore } from '../../nodes/dms3-server/event-store';
import { addEventRoute, EventIntake, type EventExtras, type IntakeOptions } from '../../nodes/dms3-server/events';
import { GateClosed, UploadGate } from '../../nodes/dms3-server/upload-gate';
import { Hub } from '../../nodes/dms3-server/hub';
import { jpegClaiming, makeJpeg } from '../support/images';
import { delay, waitFor } from '../support/red';

const TOKEN = 'hub-token-for-tests-0123456789';
const cleanup: (() => unknown)[] = [];

async function serve(before?: express.RequestHandler, store = new EventStore(null), extra: Partial<IntakeOptions> = {}): Promise<{ url: string; seen: MotionEvent[]; extras: EventExtras[]; errors: string[]; intake: EventIntake; hub: Hub }> {
  const app = express();
  if (before) app.use(before);
  const server: Server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const errors: string[] = [];
  const hub = new Hub({ base: '/dms3', httpRoot: '/', heartbeatMs: 10_000, tokens: new Tokens(TOKEN, new Map()), log: { info: () => {}, warn: () => {}, error: (m) => errors.push(m) } });
  const log = { warn: () => {}, error: (m: string) => errors.push(m) };
  const intake = new EventIntake({ limitBytes: 1024 * 1024, keys: new SeenKeys(null), registry: hub.registry, store, tracker: new DeliveryTracker(null, 'hub'), countsFile: null, log, ...extra });
  const seen: MotionEvent[] = [];
  const extras: EventExtras[] = [];
  intake.bind((e, x) => {
    seen.push(e);
    extras.push(x);
  });
  addEventRoute(hub, intake);
  hub.start(server, app);
  cleanup.push(
    () => intake.close(),
    () => hub.stop(),
    () => new Promise((r) => server.close(r)),
    () => server.closeAllConnections(),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dms3/event?agent=kitchen&camera=1&event=3&kind=picture&pixels=768`, seen, extras, errors, intake, hub };
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

describe('event endpoint with the durable store', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  function storeIn(opts?: { maxBytes: number; maxAgeMs: number }): EventStore {
    const d = mkdtempSync(join(tmpdir(), 'dms3-intake-'));
    dirs.push(d);
    const store = new EventStore(d, opts);
    store.open();
    return store;
  }
  const post = (url: string, body: Buffer, key?: string) =>
    fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'image/jpeg', ...(key ? { 'Idempotency-Key': key } : {}) }, body: new Uint8Array(body), signal: AbortSignal.timeout(5000) });

  const stored = (id: string, size: number, key: string | null) => ({ v: 1 as const, id, key, receivedAt: Date.now() - 1000, meta: { agent: 'kitchen', hostname: 'k', camera: '1', cameraName: null, event: 1, eventId: null, kind: 'picture' as const, pixels: 1, noise: null, time: null, name: 'a.jpg' }, media: { kind: 'picture' as const, mime: 'image/jpeg', ext: 'jpg', width: 64, height: 48 }, size });

  it('answers 201 only with the event on disk; it leaves the store once delivered (no hooks here)', async () => {
    const store = storeIn();
    const { url, intake } = await serve(undefined, store);
    const onDisk: boolean[] = [];
    intake.bind((_e, x) => onDisk.push(store.has(x.id) && readdirSync(store.dir!).some((n) => n.includes(x.id))));
    const res = await post(url, makeJpeg(64, 48), 'key-disk-0123456789ab');
    assert.equal(res.status, 201);
    assert.deepEqual(onDisk, [true]);
    await waitFor(() => store.size === 0 && readdirSync(store.dir!).length === 0, 5000, 'the finished event removed from the disk');
  });

  it('delivers what an earlier run left, oldest first and marked replay, then empties; their keys stay known', async () => {
    const store = storeIn();
    const jpg = makeJpeg(64, 48);
    const ids = ['00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000000b'];
    await store.put(stored(ids[1], jpg.length, null), jpg);
    await store.put({ ...stored(ids[0], jpg.length, 'key-replay-0123456789'), receivedAt: Date.now() - 5000 }, jpg);
    const reopened = new EventStore(store.dir);
    reopened.open();
    const next = await serve(undefined, reopened);
    next.intake.start();
    await waitFor(() => next.seen.length === 2, 5000, 'the replay');
    assert.deepEqual(
      next.extras.map((x) => [x.id, x.replay]),
      [
        [ids[0], true],
        [ids[1], true],
      ],
    );
    assert.ok(next.seen[0].file.data.equals(jpg));
    await waitFor(() => reopened.size === 0, 5000, 'the store emptied');
    const retry = await post(next.url, jpg, 'key-replay-0123456789');
    assert.deepEqual([retry.status, await retry.json()], [200, { duplicate: true }]);
  });

  it('a full store answers 503 with Retry-After and reads nothing; the agent keeps the event', async () => {
    const jpg = makeJpeg(64, 48);
    const store = storeIn({ maxBytes: jpg.length + 10, maxAgeMs: 60_000 });
    await store.put(stored('00000000-0000-4000-8000-000000000001', jpg.length, null), jpg);
    const { url, seen } = await serve(undefined, store);
    const res = await post(url, jpg, 'key-full-0123456789ab');
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '60');
    assert.match(((await res.json()) as { error: string }).error, /event store is full/);
    assert.equal(seen.length, 0);
  });

  it('the same upload twice at once: one is stored, the other told to retry (409), none counted twice', async () => {
    const store = storeIn();
    const { url, seen } = await serve(undefined, store);
    const jpg = makeJpeg(320, 240);
    const key = 'key-twice-0123456789ab';
    const answers = await Promise.all([post(url, jpg, key), post(url, jpg, key)]);
    const statuses = answers.map((r) => r.status).sort();
    assert.ok(
      JSON.stringify(statuses) === '[200,201]' || JSON.stringify(statuses) === '[201,409]',
      `answers ${statuses.join(', ')}`,
    );
    const conflict = answers.find((r) => r.status === 409);
    if (conflict) assert.equal(conflict.headers.get('retry-after'), '5');
    assert.equal(seen.length, 1);
  });

  it('a store that cannot write answers 503, never 201', async () => {
    const store = storeIn();
    rmSync(store.dir!, { recursive: true });
    writeFileSync(store.dir!, 'not a directory');
    const { url, seen, errors } = await serve(undefined, store);
    const res = await post(url, makeJpeg(64, 48), 'key-broken-0123456789');
    assert.equal(res.status, 503);
    assert.match(((await res.json()) as { error: string }).error, /could not store the event/);
    assert.equal(seen.length, 0);
    assert.match(errors.join('\n'), /not stored: ENOTDIR/);
  });
});

describe('event endpoint bounds', () => {
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  const bounds = { total: 2, perAgent: 1, bytesInFlight: 1024 * 1024, idleMs: 2000, minBytesPerSec: 2048 };

  /** An upload that sends `first` bytes of a declared `size` and then what `then` does; resolves with the answer. */
  function upload(url: string, agent: string, size: number, first: number, then: (req: ReturnType<typeof request>) => void = () => {}): Promise<{ status: number; retryAfter: string | undefined; error: string }> {
    return new Promise((resolve) => {
      const req = request(url.replace('agent=kitchen', `agent=${agent}`), { method: 'POST', agent: false, headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'image/jpeg', 'Content-Length': size } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, error: text.startsWith("{") ? (JSON.parse(text) as { error: string }).error : `(not JSON) ${text}` }));
      });
      req.on('error', () => resolve({ status: -1, retryAfter: undefined, error: 'reset' }));
      if (first > 0) req.write(Buffer.alloc(first, 0xff));
      else req.flushHeaders();
      then(req);
    });
  }

  it('caps uploads per agent (429) and in total (503), both with Retry-After; a stalled one ends with 408', async () => {
    const { url, intake } = await serve(undefined, undefined, { bounds });
    const stalled = upload(url, 'kitchen', 100_000, 1000);
    await waitFor(() => intake.receiving.uploads === 1, 5000, 'the first upload being read');
    const again = await upload(url, 'kitchen', 1000, 0);
    assert.deepEqual([again.status, again.retryAfter], [429, '5']);
    assert.match(again.error, /agent "kitchen" is sending 1 uploads already/);
    const second = upload(url, 'garden', 100_000, 1000);
    await waitFor(() => intake.receiving.uploads === 2, 5000, 'the second upload being read');
    const third = await upload(url, 'porch', 1000, 0);
    assert.deepEqual([third.status, third.retryAfter], [503, '5']);
    const cut = await stalled;
    assert.equal(cut.status, 408);
    assert.match(cut.error, /upload stalled: no data for 2 s/);
    assert.equal((await second).status, 408);
    // Free again: a good upload goes through.
    const ok = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'image/jpeg' }, body: new Uint8Array(makeJpeg(64, 48)), signal: AbortSignal.timeout(5000) });
    assert.equal(ok.status, 201);
  });

  it('ends an upload trickled just fast enough to dodge the pause (408 too slow), and caps the bytes in flight', async () => {
    const { url, intake } = await serve(undefined, undefined, { bounds: { ...bounds, idleMs: 1000 } });
    let timer: NodeJS.Timeout | undefined;
    const trickle = await upload(url, 'kitchen', 100_000, 10, (req) => {
      timer = setInterval(() => req.write(Buffer.alloc(10, 0xff)), 50);
    });
    clearInterval(timer);
    assert.equal(trickle.status, 408);
    assert.match(trickle.error, /upload too slow: \d+ bytes\/s \(at least 2048\)/);
    const big = await upload(url, 'kitchen', 2 * 1024 * 1024, 0);
    assert.equal(big.status, 413); // over the file limit of this hub (1 MiB)
    const a = upload(url, 'kitchen', 900_000, 600_000);
    await waitFor(() => intake.receiving.bytes === 900_000, 5000, 'the declared 900 kB reserved');
    const b = await upload(url, 'garden', 900_000, 0);
    assert.deepEqual([b.status, b.retryAfter], [503, '5']);
    assert.match(b.error, /the hub is receiving 1 MB already/);
    assert.equal((await a).status, 408);
  });

  it('the gate reserves a declared size whole, counts a chunked body as it comes, and frees both on release', () => {
    const gate = new UploadGate(bounds);
    const a = gate.enter('kitchen', 600_000);
    assert.deepEqual(gate.receiving, { uploads: 1, bytes: 600_000 });
    assert.throws(() => gate.enter('kitchen', 10), (e: GateClosed) => e.status === 429);
    assert.throws(() => gate.enter('garden', 600_000), (e: GateClosed) => e.status === 503 && /receiving 1 MB already/.test(e.message));
    const b = gate.enter('garden', undefined);
    b.count(400_000);
    assert.throws(() => b.count(100_000), (e: GateClosed) => e.status === 503);
    assert.throws(() => gate.enter('porch', undefined), (e: GateClosed) => e.status === 503 && /2 uploads already/.test(e.message));
    a.release();
    a.release(); // once only
    b.release();
    assert.deepEqual(gate.receiving, { uploads: 0, bytes: 0 });
  });

  it('refuses a picture that claims more pixels than the limit (400), before anything reaches the flow', async () => {
    const { url, seen } = await serve(undefined, undefined, { bounds });
    const res = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'image/jpeg' }, body: new Uint8Array(jpegClaiming(65500, 65500)), signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: string }).error, /picture of 65500×65500 pixels: over the limit of 50 megapixels/);
    assert.equal(seen.length, 0);
  });
});
