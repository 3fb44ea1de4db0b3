// The Home Assistant stand-in checked against home-assistant-js-websocket's own client (its own
// createSocket, auth and entity decoder), and our entity decoder checked against the library's.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { callService, createConnection, createLongLivedTokenAuth, ERR_INVALID_AUTH, subscribeEntities, type Connection, type HassEntities } from 'home-assistant-js-websocket';
import WebSocket from 'ws';
import { EntityTable } from '../../lib/ha';
import { HaTestServer } from '../support/ha-server';
import { waitFor } from '../support/red';

const TOKEN = 'llat-protocol-test';

describe('Home Assistant stand-in vs. home-assistant-js-websocket', () => {
  const ha = new HaTestServer({ tokens: [TOKEN] });
  let conn: Connection;
  const g = globalThis as { WebSocket?: unknown };
  const hadWebSocket = g.WebSocket;

  before(async () => {
    await ha.start();
    g.WebSocket = WebSocket; // the library's own createSocket wants a browser-style WebSocket
    conn = await createConnection({ auth: createLongLivedTokenAuth(ha.url, TOKEN) });
  });
  after(async () => {
    conn?.close();
    await ha.stop();
    g.WebSocket = hadWebSocket;
  });

  it('the library authenticates with a good token and is refused with a wrong one', async () => {
    assert.equal(conn.haVersion, ha.haVersion);
    await assert.rejects(createConnection({ auth: createLongLivedTokenAuth(ha.url, 'wrong') }), (err) => err === ERR_INVALID_AUTH);
    assert.equal(ha.authInvalid, 1);
    await conn.ping();
  });

  it('call_service changes the entity under the call\'s context; unknown services and bad options are errors', async () => {
    ha.setState('input_boolean.away_mode', 'off', { friendly_name: 'Away mode' });
    ha.setState('input_select.mode', 'auto', { options: ['auto', 'start', 'stop'] });
    const res = (await callService(conn, 'input_boolean', 'turn_on', undefined, { entity_id: 'input_boolean.away_mode' })) as { context: { id: string; user_id: string } };
    assert.equal(ha.states.get('input_boolean.away_mode')!.state, 'on');
    assert.equal(ha.states.get('input_boolean.away_mode')!.context.id, res.context.id);
    assert.equal(res.context.user_id, ha.userId);
    await assert.rejects(callService(conn, 'light', 'turn_on', {}, { entity_id: 'light.x' }), (e: any) => e.code === 'not_found' && /light\.turn_on not found/.test(e.message));
    await assert.rejects(callService(conn, 'input_select', 'select_option', { option: 'maybe' }, { entity_id: 'input_select.mode' }), (e: any) => e.code === 'service_validation_error');
    await assert.rejects(conn.sendMessagePromise({ type: 'no_such_command' }), (e: any) => e.code === 'unknown_command');
    const states = await conn.sendMessagePromise<{ entity_id: string }[]>({ type: 'get_states' });
    assert.deepEqual(states.map((s) => s.entity_id).sort(), ['input_boolean.away_mode', 'input_select.mode']);
  });

  it('fire_event reaches subscribe_events subscribers, with the REMOTE origin', async () => {
    const seen: any[] = [];
    const unsub = await conn.subscribeEvents((ev) => seen.push(ev), 'dms3_test');
    const res = await conn.sendMessagePromise<{ context: { id: string } }>({ type: 'fire_event', event_type: 'dms3_test', event_data: { n: 1 } });
    await waitFor(() => seen.length === 1, 5000, 'the event');
    assert.deepEqual(seen[0].data, { n: 1 });
    assert.equal(seen[0].origin, 'REMOTE');
    assert.equal(seen[0].context.id, res.context.id);
    await unsub();
    await conn.sendMessagePromise({ type: 'fire_event', event_type: 'dms3_test' });
    await conn.ping();
    assert.equal(seen.length, 1, 'no events after unsubscribe');
  });

  it('coalesces messages into arrays after supported_features, ids must increase', async () => {
    const ws = new WebSocket(`${ha.url.replace('http', 'ws')}/api/websocket`);
    const frames: unknown[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    await waitFor(() => frames.length === 1, 5000, 'auth_required');
    assert.deepEqual(frames[0], { type: 'auth_required', ha_version: ha.haVersion });
    ws.send(JSON.stringify({ type: 'auth', access_token: TOKEN }));
    await waitFor(() => frames.length === 2, 5000, 'auth_ok');
    ws.send(JSON.stringify({ id: 1, type: 'supported_features', features: { coalesce_messages: 1 } }));
    ws.send(JSON.stringify({ id: 2, type: 'subscribe_entities', entity_ids: ['input_boolean.away_mode'] }));
    const flat = () => frames.flat() as any[];
    await waitFor(() => flat().some((f) => f.id === 2 && f.type === 'event'), 5000, 'the snapshot');
    const framesBefore = frames.length;
    ws.send(JSON.stringify({ id: 3, type: 'call_service', domain: 'input_boolean', service: 'turn_off', target: { entity_id: 'input_boolean.away_mode' } }));
    ws.send(JSON.stringify({ id: 3, type: 'ping' }));
    await waitFor(() => flat().some((f) => f.id === 3 && f.error?.code === 'id_reuse'), 5000, 'id_reuse');
    const batch = frames.slice(framesBefore).find((f) => Array.isArray(f)) as any[];
    assert.ok(batch, 'a coalesced array');
    // The state change comes before the call's result, as in Home Assistant.
    assert.deepEqual(batch.slice(0, 2).map((m) => [m.type, m.id, m.success]), [['event', 2, undefined], ['result', 3, true]]);
    assert.equal(batch[0].event.c['input_boolean.away_mode']['+'].s, 'off');
    assert.equal(batch[0].event.c['input_boolean.away_mode']['+'].c.id ?? batch[0].event.c['input_boolean.away_mode']['+'].c, batch[1].result.context.id);
    ws.close();
  });

  it('our decoder of subscribe_entities agrees with the library\'s on random histories', async () => {
    const ids = ['person.alice', 'person.bob', 'device_tracker.phone'];
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), id: fc.constantFrom(...ids), state: fc.constantFrom('home', 'not_home', 'work', 'unknown'), attrs: fc.dictionary(fc.constantFrom('friendly_name', 'latitude', 'gps_accuracy', 'source'), fc.oneof(fc.integer(), fc.string({ maxLength: 4 }))), user: fc.option(fc.constantFrom('u1', 'u2')) }),
      fc.record({ kind: fc.constant('remove' as const), id: fc.constantFrom(...ids) }),
    );
    let libState: HassEntities = {};
    const stopLib = subscribeEntities(conn, (e) => (libState = e));
    const ours = new EntityTable();
    let first = true;
    const unsub = await conn.subscribeMessage((ev) => {
      ours.apply(ev, first);
      first = false;
    }, { type: 'subscribe_entities', entity_ids: ids });
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 12 }), async (ops) => {
          for (const o of ops) {
            if (o.kind === 'remove') ha.removeState(o.id);
            else ha.setState(o.id, o.state, o.attrs, ha.newContext(o.user));
          }
          await conn.ping(); // everything sent before the pong has been handled
          for (const id of ids) assert.deepEqual(ours.get(id), libState[id], id);
        }),
        { numRuns: 40 },
      );
    } finally {
      stopLib();
      await unsub();
    }
  });
});
