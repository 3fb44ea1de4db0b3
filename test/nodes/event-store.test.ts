// The hub's durable event store and the delivery tracker: on disk before the answer, bounded by size
// and age, left-overs of a crash handled, events kept until the flow has finished with them.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { DeliveryTracker, type Hooks } from '../../nodes/dms3-server/delivery';
import { EventStore, type StoredEvent } from '../../nodes/dms3-server/event-store';
import { makeJpeg } from '../support/images';

const dirs: string[] = [];
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dms3-store-'));
  dirs.push(d);
  return d;
}

let seq = 0;
function head(size: number, receivedAt = Date.now(), key: string | null = null): StoredEvent {
  const id = `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`;
  return {
    v: 1,
    id,
    key,
    receivedAt,
    meta: { agent: 'kitchen', hostname: 'kitchen-pi', camera: '1', cameraName: null, event: seq, eventId: null, kind: 'picture', pixels: 10, noise: null, time: null, name: 'a.jpg' },
    media: { kind: 'picture', mime: 'image/jpeg', ext: 'jpg', width: 64, height: 48 },
    size,
  };
}

describe('event store', () => {
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('keeps each event in one file and gives them back after a restart, oldest first, with their bytes', async () => {
    const d = dir();
    const store = new EventStore(d);
    store.open();
    const jpg = makeJpeg(64, 48);
    const a = head(jpg.length, 1000, 'key-a-0123456789abcdef');
    const b = head(jpg.length, 2000);
    await store.put(b, jpg);
    await store.put(a, jpg);
    assert.equal(readdirSync(d).length, 2);
    const again = new EventStore(d);
    assert.deepEqual(again.open(), []);
    assert.deepEqual(
      again.pending().map((e) => e.id),
      [a.id, b.id],
    );
    assert.deepEqual(again.pending()[0], a);
    assert.ok((await again.data(a.id)).equals(jpg));
    await again.remove(a.id);
    assert.deepEqual(new EventStore(d).open(), []);
    assert.equal(readdirSync(d).length, 1);
  });

  it('after a crash: a half-written temporary file is removed, a cut-short event is reported and left alone', async () => {
    const d = dir();
    const store = new EventStore(d);
    store.open();
    const e = head(1000);
    await store.put(e, Buffer.alloc(1000, 1));
    const [name] = readdirSync(d);
    writeFileSync(join(d, `${name.replace(/^.{9}/, '00000000z')}.tmp`), 'half');
    const cut = head(1000);
    await store.put(cut, Buffer.alloc(1000, 2));
    const cutName = readdirSync(d).find((n) => n.includes(cut.id))!;
    truncateSync(join(d, cutName), 500);
    const reopened = new EventStore(d);
    assert.deepEqual(reopened.open(), [cutName]);
    assert.deepEqual(
      reopened.pending().map((x) => x.id),
      [e.id],
    );
    assert.ok(!readdirSync(d).some((n) => n.endsWith('.tmp')));
    assert.ok(readdirSync(d).includes(cutName), 'kept for inspection');
  });

  it('refuses beyond its size and drops (and names) what is older than its age', async () => {
    const store = new EventStore(dir(), { maxBytes: 2500, maxAgeMs: 60_000 });
    store.open();
    const now = Date.now();
    const old = head(1000, now - 120_000);
    await store.put(old, Buffer.alloc(1000));
    await store.put(head(1000, now), Buffer.alloc(1000));
    assert.equal(store.refusal(500), null);
    assert.match(store.refusal(501) ?? '', /event store is full \(2 events/);
    const dropped = await store.expire(now);
    assert.deepEqual(
      dropped.map((e) => e.id),
      [old.id],
    );
    assert.equal(store.refusal(1500), null);
  });

  it('without a directory keeps nothing and refuses nothing', async () => {
    const store = new EventStore(null);
    assert.deepEqual(store.open(), []);
    await store.put(head(10), Buffer.alloc(10));
    assert.equal(store.size, 0);
    assert.equal(store.refusal(1e12), null);
  });
});

/** Hooks as Node-RED's registry keeps them: named, called with the event. */
function fakeHooks(): Hooks & { fire(name: string, msg: object): void; names(): string[] } {
  const fns = new Map<string, (e: { msg?: object }) => void>();
  return {
    add: (name, fn) => void fns.set(name, fn as (e: { msg?: object }) => void),
    remove: (name) => void fns.delete(name),
    fire: (hook, msg) => {
      for (const [name, fn] of fns) if (name.startsWith(`${hook}.`)) fn({ msg });
    },
    names: () => [...fns.keys()],
  };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('delivery tracker', () => {
  it('finishes a message when every node it went to (and every copy) has completed', async () => {
    const hooks = fakeHooks();
    const tracker = new DeliveryTracker(hooks, 'hub1');
    let finished = 0;
    const following = tracker.follow('m1', () => finished++);
    // dms3-event sends to two nodes; one forwards a copy to a third.
    const [a, b] = [{ _msgid: 'm1' }, { _msgid: 'm1' }];
    hooks.fire('preDeliver', a);
    hooks.fire('preDeliver', b);
    following.sent();
    await tick();
    hooks.fire('onReceive', a);
    hooks.fire('onReceive', b);
    hooks.fire('onComplete', a);
    const c = { _msgid: 'm1' };
    hooks.fire('preDeliver', c); // b forwards before it completes
    hooks.fire('onComplete', b);
    await tick();
    assert.equal(finished, 0, 'a copy is still on its way');
    hooks.fire('onReceive', c);
    await tick();
    assert.equal(finished, 0, 'the third node still handles it');
    hooks.fire('onComplete', c);
    await tick();
    assert.equal(finished, 1);
    assert.equal(tracker.following, 0);
    tracker.close();
    assert.deepEqual(hooks.names(), []);
  });

  it('a message nothing was wired to is finished once sent; other messages are not counted', async () => {
    const hooks = fakeHooks();
    const tracker = new DeliveryTracker(hooks, 'hub1');
    let finished = 0;
    hooks.fire('preDeliver', { _msgid: 'other' });
    tracker.follow('m2', () => finished++).sent();
    await tick();
    assert.equal(finished, 1);
  });

  it('without hooks a message is finished once sent', async () => {
    const tracker = new DeliveryTracker(null, 'hub1');
    let finished = 0;
    tracker.follow('m3', () => finished++).sent();
    await tick();
    assert.equal(finished, 1);
  });
});
