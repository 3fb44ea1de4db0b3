import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLate, Registry, RegistryFullError, type AgentChange } from '../../lib/registry';
import { health } from '../support/agent';

const ws = { transport: 'ws' as const, address: '127.0.0.1' };
const at = (s: number) => new Date(Date.UTC(2025, 0, 1, 12, 0, s));

function watch(r: Registry): AgentChange[] {
  const seen: AgentChange[] = [];
  r.on('agent', (c) => seen.push(c));
  return seen;
}

describe('agent registry', () => {
  it('creates an agent on its first report and says connected once', () => {
    const r = new Registry();
    const seen = watch(r);
    r.report('kitchen', health(), ws, at(0));
    r.report('kitchen', health({ uptime: 2000 }), ws, at(60));
    assert.deepEqual(
      seen.map((c) => c.event),
      ['connected', 'health', 'health'],
    );
    const e = r.get('kitchen')!;
    assert.equal(e.uptime, 2000);
    assert.equal(e.lastReport, at(60).toISOString());
    assert.deepEqual(r.counts(), { total: 1, connected: 1 });
    // Copies: changing what we got changes nothing inside.
    seen[0].agent.name = 'changed';
    e.connected = false;
    assert.equal(r.get('kitchen')!.connected, true);
    assert.equal(r.list()[0].name, 'kitchen');
  });

  it('tells Motion status changes apart from failures', () => {
    const r = new Registry();
    r.report('a', health({ motion: 'running' }), ws);
    const seen = watch(r);
    r.report('a', health({ motion: 'paused' }), ws);
    r.report('a', health({ motion: 'failed' }), ws);
    assert.deepEqual(
      seen.filter((c) => c.event !== 'health').map((c) => [c.event, c.detail]),
      [
        ['motion', 'Motion running → paused'],
        ['motion-failed', 'Motion paused → failed'],
      ],
    );
  });

  it('records applied states with their seq, and failures with the error until the next success', () => {
    const r = new Registry();
    const seen = watch(r);
    assert.equal(r.applied('ghost', { v: 1, type: 'applied', seq: 1, state: 'start', ok: true, motion: 'running' }), false);
    r.report('a', health(), ws);
    assert.equal(r.applied('a', { v: 1, type: 'applied', seq: 5, state: 'start', ok: true, motion: 'running' }), true);
    assert.deepEqual([r.get('a')!.applied, r.get('a')!.appliedSeq], ['start', 5]);
    r.applied('a', { v: 1, type: 'applied', seq: 6, state: 'stop', ok: false, motion: 'failed', error: 'pkill: permission denied' });
    assert.deepEqual([r.get('a')!.applied, r.get('a')!.appliedSeq, r.get('a')!.error], ['start', 5, 'pkill: permission denied']);
    r.report('a', health({ applied: 'start' }), ws); // agrees: the seq stays
    assert.equal(r.get('a')!.appliedSeq, 5);
    assert.equal(r.get('a')!.error, 'pkill: permission denied');
    r.report('a', health({ applied: null }), ws); // the agent restarted: nothing applied yet
    assert.deepEqual([r.get('a')!.applied, r.get('a')!.appliedSeq], [null, null]);
    r.applied('a', { v: 1, type: 'applied', seq: 7, state: 'stop', ok: true, motion: 'paused' });
    assert.equal(r.get('a')!.error, null);
    assert.deepEqual(
      seen.filter((c) => c.event !== 'health').map((c) => c.event),
      ['connected', 'applied', 'apply-failed', 'motion', 'applied'], // the report after the failure: Motion failed → running
    );
  });

  it('passes notices on under their own event name', () => {
    const r = new Registry();
    assert.equal(r.notice('ghost', { v: 1, type: 'notice', event: 'server-lost', at: 'x', text: 'y' }), false);
    r.report('a', health(), ws);
    const seen = watch(r);
    r.notice('a', { v: 1, type: 'notice', event: 'server-lost', at: '2025-01-01T12:00:00Z', text: 'no server for 120 s: started Motion' });
    r.notice('a', { v: 1, type: 'notice', event: 'motion-failed', at: '2025-01-01T12:00:01Z', text: 'motion exited with code 1' });
    assert.deepEqual(
      seen.map((c) => [c.event, c.detail]),
      [
        ['server-lost', 'no server for 120 s: started Motion (at 2025-01-01T12:00:00Z)'],
        ['motion-failed', 'motion exited with code 1 (at 2025-01-01T12:00:01Z)'],
      ],
    );
    assert.deepEqual([r.get('a')!.motion, r.get('a')!.error], ['failed', 'motion exited with code 1']);
  });

  it('says disconnected once, and connected again on the next report', () => {
    const r = new Registry();
    r.report('a', health(), ws);
    const seen = watch(r);
    r.disconnected('a', 'connection closed (1006)');
    r.disconnected('a', 'again');
    r.disconnected('ghost', 'never seen');
    r.report('a', health(), ws);
    assert.deepEqual(
      seen.map((c) => [c.event, c.detail]),
      [
        ['disconnected', 'connection closed (1006)'],
        ['connected', 'via ws from 127.0.0.1'],
        ['health', undefined],
      ],
    );
  });

  it('judges lateness by three report intervals (at least 30 s) and drops late HTTP agents', () => {
    const r = new Registry();
    r.report('poller', health({ reportInterval: 20 }), { transport: 'http', address: '10.0.0.2' }, at(0));
    r.report('socket', health({ reportInterval: 20 }), ws, at(0));
    const entry = r.get('poller')!;
    assert.equal(isLate(entry, at(60).getTime()), false);
    assert.equal(isLate(entry, at(61).getTime()), true);
    assert.equal(isLate({ reportInterval: 1, lastReport: at(0).toISOString() }, at(30).getTime()), false);
    assert.equal(isLate({ reportInterval: 1, lastReport: at(0).toISOString() }, at(31).getTime()), true);
    const seen = watch(r);
    r.sweep('http', at(60).getTime());
    assert.equal(seen.length, 0);
    r.sweep('http', at(61).getTime());
    assert.deepEqual(
      seen.map((c) => [c.event, c.agent.name, c.detail]),
      [['disconnected', 'poller', 'no report for 61 s']],
    );
    assert.equal(r.get('socket')!.connected, true); // sockets are judged by their pings
  });

  it('removes an agent', () => {
    const r = new Registry();
    r.report('a', health(), ws);
    const seen = watch(r);
    assert.equal(r.remove('a'), true);
    assert.equal(r.remove('a'), false);
    assert.equal(r.get('a'), undefined);
    assert.deepEqual(seen.map((c) => c.event), ['removed']);
  });

  it('counts accepted events per agent, also before the agent reports, and forgets them with the agent', () => {
    const r = new Registry();
    const seen = watch(r);
    r.eventReceived('porch'); // its hook posted before the agent said hello
    r.eventReceived('porch');
    assert.equal(r.get('porch'), undefined);
    r.report('porch', health({ events: 40 }), ws);
    assert.equal(r.get('porch')!.eventsReceived, 2);
    r.eventReceived('porch');
    assert.deepEqual([r.get('porch')!.eventsReceived, r.list()[0].eventsReceived, r.get('porch')!.events], [3, 3, 40]);
    r.report('porch', health(), ws); // a later report keeps the count
    assert.equal(r.get('porch')!.eventsReceived, 3);
    assert.deepEqual(seen.map((c) => c.event), ['connected', 'health', 'health'], 'no change event per motion event');
    r.remove('porch');
    r.report('porch', health(), ws);
    assert.equal(r.get('porch')!.eventsReceived, 0);
  });
});

describe('registry bounds', () => {
  const via = (shared: boolean) => ({ transport: 'ws' as const, address: '127.0.0.1', shared });

  it('caps the names the shared token adds; known names and agents with their own token still report', () => {
    const r = new Registry({ maxShared: 3 });
    for (const n of ['a', 'b', 'c']) r.report(n, health(), via(true));
    assert.throws(() => r.report('d', health(), via(true)), (err: unknown) => err instanceof RegistryFullError && /limit 3/.test(err.message));
    r.report('a', health({ uptime: 9 }), via(true)); // known: fine
    assert.equal(r.get('a')?.uptime, 9);
    r.report('own', health(), via(false)); // its own token: not counted
    assert.equal(r.counts().total, 4);
    // A shared name that later comes with its own token frees its place.
    r.report('b', health(), via(false));
    r.report('d', health(), via(true));
    assert.ok(r.get('d'));
    // Removing frees a place too.
    r.remove('c');
    r.report('e', health(), via(true));
    assert.throws(() => r.report('f', health(), via(true)), RegistryFullError);
  });

  it('forgets agents disconnected and silent past the forget time, and tells the listeners', () => {
    const r = new Registry({ forgetAfterMs: 60_000 });
    const events: AgentChange[] = [];
    r.on('agent', (c) => events.push(c));
    const t0 = new Date('2026-01-01T00:00:00Z');
    r.report('gone', health(), via(true), t0);
    r.report('connected', health(), via(true), t0);
    r.report('recent', health(), via(true), new Date(t0.getTime() + 30_000));
    r.disconnected('gone', 'test');
    r.disconnected('recent', 'test');
    assert.deepEqual(r.forget(t0.getTime() + 59_000), []);
    assert.deepEqual(r.forget(t0.getTime() + 60_000), ['gone']);
    assert.equal(r.get('gone'), undefined);
    assert.ok(r.get('connected'), 'a connected agent is never forgotten');
    assert.ok(r.get('recent'));
    const removed = events.find((e) => e.event === 'removed');
    assert.match(removed?.detail ?? '', /forgotten: no report for 60 s/);
    assert.deepEqual(r.counts(), { total: 2, connected: 1 });
  });

  it('keeps counts in step with every change (counts are O(1))', () => {
    const r = new Registry();
    r.report('a', health(), via(true));
    r.report('b', health(), via(true));
    r.report('a', health(), via(true));
    assert.deepEqual(r.counts(), { total: 2, connected: 2 });
    r.disconnected('a', 'x');
    r.disconnected('a', 'x');
    assert.deepEqual(r.counts(), { total: 2, connected: 1 });
    r.remove('b');
    r.remove('a');
    assert.deepEqual(r.counts(), { total: 0, connected: 0 });
  });

  it('bounds event counts for names it does not know, and hands a count over when the agent reports', () => {
    const r = new Registry({ maxShared: 2 });
    r.eventReceived('x');
    r.eventReceived('x');
    for (let i = 0; i < 1000; i++) r.eventReceived(`flood-${i}`);
    r.eventReceived('late');
    r.report('late', health(), via(false));
    assert.equal(r.get('late')?.eventsReceived, 1);
    r.report('x', health(), via(false));
    assert.equal(r.get('x')?.eventsReceived, 0, 'the oldest unknown count went first');
    r.eventReceived('late');
    r.report('late', health(), via(false));
    assert.equal(r.get('late')?.eventsReceived, 2, 'the count stays across reports');
    assert.ok((r as unknown as { received: Map<string, number> }).received.size <= 2);
  });
});
