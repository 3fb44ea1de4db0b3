import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  EntityTable,
  HaPresence,
  overrideFromChange,
  overrideOf,
  parseEntityId,
  parseEntityIds,
  parseStateMessage,
  presenceOf,
  presenceText,
  supportsCoalescing,
  websocketUrl,
  type EntityState,
} from '../../lib/ha';

const T0 = 1_700_000_000; // seconds, as Home Assistant sends lc/lu
const at = (s: number) => new Date(s * 1000).toISOString();

function entity(id: string, state: string, extra: Partial<EntityState> = {}): EntityState {
  return { entity_id: id, state, attributes: {}, context: { id: 'c', parent_id: null, user_id: null }, last_changed: at(T0), last_updated: at(T0), ...extra };
}

describe('websocketUrl', () => {
  it('turns the Home Assistant address into its WebSocket API address', () => {
    assert.equal(websocketUrl('http://homeassistant.local:8123'), 'ws://homeassistant.local:8123/api/websocket');
    assert.equal(websocketUrl(' https://ha.example.org/ '), 'wss://ha.example.org/api/websocket');
    assert.equal(websocketUrl('https://example.org/ha/'), 'wss://example.org/ha/api/websocket');
    assert.equal(websocketUrl('ws://127.0.0.1:8123/api/websocket'), 'ws://127.0.0.1:8123/api/websocket');
    assert.equal(websocketUrl('http://[::1]:8123'), 'ws://[::1]:8123/api/websocket');
  });

  it('refuses what is not an http(s) address, naming the field and value', () => {
    assert.throws(() => websocketUrl('homeassistant:8123'), /url "homeassistant:8123": expected http/);
    assert.throws(() => websocketUrl('ftp://x'), /url "ftp:\/\/x"/);
    assert.throws(() => websocketUrl(''), /url "": not a URL/);
    assert.throws(() => websocketUrl(undefined), /url undefined: not a URL/);
    assert.throws(() => websocketUrl('http://me:secret@ha:8123'), /token field/);
  });
});

describe('entity ids', () => {
  it('accepts ids of the allowed domains, from a list or a text', () => {
    assert.deepEqual(parseEntityIds('entities', ['person.alice', ' device_tracker.bob_phone '], ['person', 'device_tracker']), ['person.alice', 'device_tracker.bob_phone']);
    assert.deepEqual(parseEntityIds('entities', 'person.alice, person.bob\nperson.alice', ['person']), ['person.alice', 'person.bob']);
    assert.equal(parseEntityId('override', 'input_select.dms3_mode', ['input_select', 'input_boolean']), 'input_select.dms3_mode');
  });

  it('names the field and value of a bad id', () => {
    assert.throws(() => parseEntityIds('entities', ['person.alice', 'light.kitchen'], ['person', 'device_tracker']), /entities\[1\] "light\.kitchen": expected an entity of person\.\* or device_tracker\.\*/);
    assert.throws(() => parseEntityIds('entities', ['Person Alice'], ['person']), /entities\[0\] "Person Alice": not an entity id/);
    assert.throws(() => parseEntityIds('entities', [], ['person']), /entities \[\]: expected a list/);
    assert.throws(() => parseEntityId('boolean', 'switch.siren', ['input_boolean']), /boolean "switch\.siren"/);
  });
});

describe('EntityTable (subscribe_entities stream)', () => {
  it('decodes a snapshot: a context without parent or user comes as its id alone, lu only when it differs', () => {
    const t = new EntityTable();
    const changes = t.apply({
      a: {
        'person.alice': { s: 'home', a: { friendly_name: 'Alice' }, c: '01HCTX', lc: T0 },
        'person.bob': { s: 'not_home', a: {}, c: { id: '01HCTY', parent_id: null, user_id: 'u1' }, lc: T0, lu: T0 + 5 },
      },
    }, true);
    assert.equal(changes.length, 2);
    assert.deepEqual(t.get('person.alice'), entity('person.alice', 'home', { attributes: { friendly_name: 'Alice' }, context: { id: '01HCTX', parent_id: null, user_id: null } }));
    assert.equal(t.get('person.bob')!.last_updated, at(T0 + 5));
    assert.equal(t.get('person.bob')!.context.user_id, 'u1');
  });

  it('applies changes ("+" and "-"), additions and removals, and reports what changed', () => {
    const t = new EntityTable();
    t.apply({ a: { 'person.alice': { s: 'home', a: { friendly_name: 'Alice', gps_accuracy: 10 }, c: 'c1', lc: T0 } } }, true);
    let changes = t.apply({ c: { 'person.alice': { '+': { s: 'not_home', lc: T0 + 60, c: 'c2', a: { latitude: 1 } }, '-': { a: ['gps_accuracy'] } } } });
    assert.equal(changes.length, 1);
    assert.equal(changes[0].before!.state, 'home');
    const alice = t.get('person.alice')!;
    assert.equal(alice.state, 'not_home');
    assert.equal(alice.last_changed, at(T0 + 60));
    assert.equal(alice.last_updated, at(T0 + 60));
    assert.equal(alice.context.id, 'c2');
    assert.deepEqual(alice.attributes, { friendly_name: 'Alice', latitude: 1 });
    // Only an update: last_changed stays.
    t.apply({ c: { 'person.alice': { '+': { lu: T0 + 90, c: { user_id: 'u9', id: 'c3' } } } } });
    assert.equal(t.get('person.alice')!.last_changed, at(T0 + 60));
    assert.equal(t.get('person.alice')!.last_updated, at(T0 + 90));
    assert.deepEqual(t.get('person.alice')!.context, { id: 'c3', parent_id: null, user_id: 'u9' });
    changes = t.apply({ a: { 'person.bob': { s: 'home', a: {}, c: 'c4', lc: T0 } } });
    assert.deepEqual(changes.map((c) => [c.entityId, c.before, c.after?.state]), [['person.bob', undefined, 'home']]);
    changes = t.apply({ r: ['person.alice'] });
    assert.deepEqual(changes.map((c) => [c.entityId, c.after]), [['person.alice', undefined]]);
    assert.equal(t.get('person.alice'), undefined);
    // A change for an entity never seen, and garbage, change nothing.
    assert.deepEqual(t.apply({ c: { 'person.zoe': { '+': { s: 'home' } } } }), []);
    assert.deepEqual(t.apply('nonsense'), []);
    assert.equal(t.size, 1);
  });

  it('a fresh snapshot replaces everything held (an entity deleted while disconnected goes)', () => {
    const t = new EntityTable();
    t.apply({ a: { 'person.alice': { s: 'home', a: {}, c: 'c', lc: T0 }, 'person.bob': { s: 'home', a: {}, c: 'c', lc: T0 } } }, true);
    t.apply({ a: { 'person.alice': { s: 'not_home', a: {}, c: 'c', lc: T0 + 1 } } }, true);
    assert.equal(t.get('person.bob'), undefined);
    assert.equal(t.get('person.alice')!.state, 'not_home');
  });
});

describe('presence from entities', () => {
  it('home is home, unknown/unavailable/missing is unknown, anything else is away', () => {
    assert.equal(presenceOf('home'), true);
    assert.equal(presenceOf('not_home'), false);
    assert.equal(presenceOf('Work'), false);
    assert.equal(presenceOf('unknown'), null);
    assert.equal(presenceOf('unavailable'), null);
    assert.equal(presenceOf(undefined), null);
  });

  it('says nothing before the first snapshot, then home while any is home and never away from missing data', () => {
    const p = new HaPresence(['person.alice', 'device_tracker.bob_phone']);
    assert.equal(p.report(), null);
    assert.equal(presenceText(p.report()), 'unknown');
    const t = new EntityTable();
    t.apply({ a: { 'person.alice': { s: 'not_home', a: { friendly_name: 'Alice' }, c: 'c', lc: T0 } } }, true);
    p.update(t);
    // Bob's tracker does not exist: unknown, so the house is not "away".
    assert.equal(p.report()!.home, null);
    assert.equal(presenceText(p.report()), 'unknown (1 of 2 unavailable)');
    t.apply({ a: { 'device_tracker.bob_phone': { s: 'home', a: { mac: 'A4-5E-60-12-34-56', ip: '192.168.1.20', source_type: 'router' }, c: 'c', lc: T0 + 10 } } });
    p.update(t);
    const r = p.report()!;
    assert.equal(r.home, true);
    assert.equal(presenceText(r), '1/2 home');
    assert.deepEqual(r.devices[1], { name: 'device_tracker.bob_phone', entityId: 'device_tracker.bob_phone', macs: ['a4:5e:60:12:34:56'], ip: '192.168.1.20', present: true, lastSeen: at(T0 + 10) });
    assert.deepEqual(r.devices[0], { name: 'Alice', entityId: 'person.alice', macs: [], ip: null, present: false, lastSeen: null });
    // Bob leaves: last seen is the moment he left.
    t.apply({ c: { 'device_tracker.bob_phone': { '+': { s: 'not_home', lc: T0 + 99 } } } });
    p.update(t);
    assert.equal(p.report()!.home, false);
    assert.equal(p.report()!.devices[1].lastSeen, at(T0 + 99));
    assert.equal(presenceText(p.report()), 'away');
  });
});

describe('override from a helper entity', () => {
  const change = (id: string, before: string | undefined, after: string | undefined) => ({
    entityId: id,
    before: before === undefined ? undefined : entity(id, before),
    after: after === undefined ? undefined : entity(id, after),
  });

  it('maps input_select options and input_boolean on/off', () => {
    assert.equal(overrideOf('input_select.mode', 'Start'), 'start');
    assert.equal(overrideOf('input_select.mode', 'stop'), 'stop');
    assert.equal(overrideOf('input_select.mode', 'auto'), 'auto');
    assert.equal(overrideOf('input_select.mode', 'holiday'), null);
    assert.equal(overrideOf('input_boolean.force', 'on'), 'start');
    assert.equal(overrideOf('input_boolean.force', 'off'), 'auto');
    assert.equal(overrideOf('input_boolean.force', 'unavailable'), null);
  });

  it('only a live change between two real values asks for an override', () => {
    assert.equal(overrideFromChange(change('input_select.mode', 'auto', 'stop')), 'stop');
    assert.equal(overrideFromChange(change('input_boolean.force', 'off', 'on')), 'start');
    assert.equal(overrideFromChange(change('input_boolean.force', 'on', 'off')), 'auto');
    assert.equal(overrideFromChange(change('input_boolean.force', undefined, 'on')), null, 'an entity appearing');
    assert.equal(overrideFromChange(change('input_boolean.force', 'unavailable', 'on')), null, 'Home Assistant starting up');
    assert.equal(overrideFromChange(change('input_boolean.force', 'on', 'unavailable')), null);
    assert.equal(overrideFromChange(change('input_boolean.force', 'on', undefined)), null, 'removed');
    assert.equal(overrideFromChange(change('input_select.mode', 'auto', 'auto')), null, 'attributes only');
  });
});

describe('protocol details', () => {
  it('message coalescing is offered to Home Assistant 2022.9 and later', () => {
    assert.equal(supportsCoalescing('2022.9.0'), true);
    assert.equal(supportsCoalescing('2025.1.0b1'), true);
    assert.equal(supportsCoalescing('2022.8.7'), false);
    assert.equal(supportsCoalescing('0.118.0'), false);
    assert.equal(supportsCoalescing(undefined), false);
  });

  it('checks the dms3-state message before it becomes event data', () => {
    const payload = { state: 'start', reason: 'nobody-home', since: '2025-01-01T10:00:00.000Z', override: 'auto' };
    assert.deepEqual(parseStateMessage('state', payload), payload);
    assert.throws(() => parseStateMessage('presence', payload), /msg\.topic "presence"/);
    assert.throws(() => parseStateMessage('state', { ...payload, state: 'armed' }), /msg\.payload\.state "armed"/);
    assert.throws(() => parseStateMessage('state', { ...payload, since: 'yesterday' }), /msg\.payload\.since "yesterday"/);
    assert.throws(() => parseStateMessage('state', { ...payload, override: 'maybe' }), /msg\.payload\.override "maybe"/);
    assert.throws(() => parseStateMessage('state', 'start'), /msg\.payload "start"/);
  });
});
