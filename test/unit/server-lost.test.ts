import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServerLost } from '../../lib/server-lost';

const T0 = Date.parse('2025-01-01T12:00:00Z');

describe('server-lost fallback', () => {
  it('counts from start-up until the first connection', () => {
    const s = new ServerLost(60_000, 'start', T0);
    assert.equal(s.dueIn(T0), 60_000);
    assert.equal(s.dueIn(T0 + 45_000), 15_000);
    assert.equal(s.connected(T0 + 1000), null, 'connected in time: nothing to report');
    assert.equal(s.dueIn(T0 + 2000), null, 'nothing due while connected');
  });

  it('fires once per outage after `after`, with the configured action', () => {
    const s = new ServerLost(30_000, 'start', T0);
    s.connected(T0);
    s.disconnected(T0 + 10_000);
    s.disconnected(T0 + 20_000); // a second report does not move the start of the outage
    assert.equal(s.dueIn(T0 + 20_000), 20_000);
    assert.equal(s.fire(T0 + 39_999, 'stop'), null, 'not before time');
    const fired = s.fire(T0 + 40_000, 'stop');
    assert.equal(fired?.apply, 'start');
    assert.match(fired?.text ?? '', /hub unreachable since 2025-01-01T12:00:10\.000Z; after 30 s applied server_lost\.action "start"/);
    assert.equal(s.fire(T0 + 50_000, 'start'), null, 'only once');
    assert.equal(s.dueIn(T0 + 50_000), null);
    const notice = s.connected(T0 + 70_000);
    assert.match(notice ?? '', /applied server_lost\.action "start" at 2025-01-01T12:00:40\.000Z; back after 60 s/);
    assert.equal(s.lost, false);
  });

  it('"keep" applies nothing but still reports what it kept', () => {
    const s = new ServerLost(5000, 'keep', T0);
    s.connected(T0);
    s.disconnected(T0);
    const fired = s.fire(T0 + 5000, 'stop');
    assert.equal(fired?.apply, null);
    assert.match(fired?.text ?? '', /kept the last state "stop"/);
    assert.match(new ServerLost(1000, 'keep', T0).fire(T0 + 1000, null)?.text ?? '', /kept the last state \(none applied yet\)/);
  });

  it('a new outage after a reconnection fires again', () => {
    const s = new ServerLost(1000, 'stop', T0);
    assert.equal(s.fire(T0 + 1000, null)?.apply, 'stop');
    assert.ok(s.connected(T0 + 2000));
    s.disconnected(T0 + 3000);
    assert.equal(s.fire(T0 + 4000, 'start')?.apply, 'stop');
  });

  it('a short outage reports nothing', () => {
    const s = new ServerLost(60_000, 'stop', T0);
    s.connected(T0);
    s.disconnected(T0 + 1000);
    assert.equal(s.connected(T0 + 5000), null);
  });
});
