import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { agentCard, cardOrder, isShown, mergePresence, parseDashboardOptions } from '../../lib/dashboard';
import { DEFAULT_THRESHOLDS } from '../../lib/health';
import { Registry } from '../../lib/registry';
import { health } from '../support/agent';

const cards = (...names: string[]) => names.map((name) => (name === 'SERVER' ? { id: 'server', kind: 'server' as const, name: 'Hub' } : { id: `agent:${name}`, kind: 'agent' as const, name }));

describe('dashboard options', () => {
  it('gives every option a default (flows from before the dashboard have none)', () => {
    assert.deepEqual(parseDashboardOptions({}), {
      enabled: true,
      title: 'DMS3',
      access: 'password',
      serverFirst: true,
      sort: 'name',
      thresholds: DEFAULT_THRESHOLDS,
      onMissing: 'hide',
      stylesheet: null,
      template: null,
    });
  });

  it('reads the editor fields', () => {
    const o = parseDashboardOptions({ dashboard: false, title: '  Our house ', access: 'open', serverFirst: false, sort: 'arrival', warning: '5', danger: '10', missing: '60', onMissing: 'show', stylesheet: ' dms3/my.css ', template: '' });
    assert.deepEqual(o, { enabled: false, title: 'Our house', access: 'open', serverFirst: false, sort: 'arrival', thresholds: { warning: 5, danger: 10, missing: 60 }, onMissing: 'show', stylesheet: 'dms3/my.css', template: null });
  });

  it('names the field and value of a bad option', () => {
    assert.throws(() => parseDashboardOptions({ access: 'public' }), /^FieldError: access "public": expected "open", "password", "node-red"/);
    assert.throws(() => parseDashboardOptions({ sort: 'random' }), /sort "random": expected "name", "arrival"/);
    assert.throws(() => parseDashboardOptions({ serverFirst: 'yes' }), /serverFirst "yes": expected true or false/);
    assert.throws(() => parseDashboardOptions({ title: 'x'.repeat(81) }), /title "x+": expected text of at most 80 characters/);
    assert.throws(() => parseDashboardOptions({ onMissing: 'delete' }), /onMissing "delete"/);
    assert.throws(() => parseDashboardOptions({ stylesheet: 42 }), /stylesheet 42: expected a file path/);
    assert.throws(() => parseDashboardOptions({ warning: 0 }), /warning 0: expected seconds/);
  });
});

describe('card order', () => {
  const arrival = cards('kitchen', 'SERVER', 'Attic', 'garage', 'pi10', 'pi9');

  it('puts the server first and sorts agents by name (case-insensitive, numbers as numbers)', () => {
    assert.deepEqual(cardOrder(arrival, { serverFirst: true, sort: 'name' }), ['server', 'agent:Attic', 'agent:garage', 'agent:kitchen', 'agent:pi9', 'agent:pi10']);
  });

  it('sorts the server among the agents by its name when it does not go first', () => {
    assert.deepEqual(cardOrder(arrival, { serverFirst: false, sort: 'name' }), ['agent:Attic', 'agent:garage', 'server', 'agent:kitchen', 'agent:pi9', 'agent:pi10']);
  });

  it('keeps the arrival order, with the server first or last', () => {
    assert.deepEqual(cardOrder(arrival, { serverFirst: true, sort: 'arrival' }), ['server', 'agent:kitchen', 'agent:Attic', 'agent:garage', 'agent:pi10', 'agent:pi9']);
    assert.deepEqual(cardOrder(arrival, { serverFirst: false, sort: 'arrival' }), ['agent:kitchen', 'agent:Attic', 'agent:garage', 'agent:pi10', 'agent:pi9', 'server']);
  });

  it('orders names that differ only in case the same way every time', () => {
    const a = cardOrder(cards('pi', 'PI', 'Pi'), { serverFirst: true, sort: 'name' });
    const b = cardOrder(cards('Pi', 'pi', 'PI'), { serverFirst: true, sort: 'name' });
    assert.deepEqual(a, b);
  });
});

describe('agent cards', () => {
  it('carries what the card shows, with the health by the clock, and not the address', () => {
    const r = new Registry();
    r.report('kitchen', health({ hostname: 'pi-kitchen', events: 12 }), { transport: 'ws', address: '10.0.0.7' }, new Date(Date.UTC(2025, 0, 1, 12, 0, 0)));
    const card = agentCard(r.get('kitchen')!, Date.UTC(2025, 0, 1, 12, 0, 45), DEFAULT_THRESHOLDS);
    assert.equal(card.id, 'agent:kitchen');
    assert.equal(card.health, 'warning');
    assert.deepEqual([card.hostname, card.osRelease, card.platform, card.arch, card.events, card.motion], ['pi-kitchen', 'Raspbian GNU/Linux 12 (bookworm)', 'linux', 'arm64', 12, 'running']);
    assert.equal(card.uptimeAt, card.lastReport);
    assert.ok(!JSON.stringify(card).includes('10.0.0.7'));
  });

  it('hides a missing agent only when told to', () => {
    assert.equal(isShown('missing', 'hide'), false);
    assert.equal(isShown('missing', 'show'), true);
    assert.equal(isShown('danger', 'hide'), true);
  });
});

describe('presence list', () => {
  it('lists each device once: home if any source says so, away over unknown', () => {
    const merged = mergePresence([
      { name: "Alice's phone", present: false },
      { name: "Bob's phone", present: null },
      { name: "Alice's phone", present: true },
      { name: "Bob's phone", present: false },
      { name: 'Tablet', present: null },
      { name: "Alice's phone", present: false },
    ]);
    assert.deepEqual(merged, [
      { name: "Alice's phone", present: true },
      { name: "Bob's phone", present: false },
      { name: 'Tablet', present: null },
    ]);
  });
});
