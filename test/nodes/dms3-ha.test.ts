// The Home Assistant nodes on the real Node-RED runtime, talking through home-assistant-js-websocket
// to the protocol-faithful stand-in (test/support/ha-server.ts) on 127.0.0.1.
import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import serverNode from '../../nodes/dms3-ha-server/dms3-ha-server';
import presenceNode from '../../nodes/dms3-ha-presence/dms3-ha-presence';
import stateNode from '../../nodes/dms3-ha-state/dms3-ha-state';
import { HaTestServer } from '../support/ha-server';
import { collect, delay, helper, nextMessage, waitFor } from '../support/red';

const TOKEN = 'llat-node-test';
const NODES = [serverNode, presenceNode, stateNode];
const WAIT = 15_000;

function statuses(node: any): any[] {
  const seen: any[] = [];
  node.on('call:status', (call: any) => seen.push(call.args[0]));
  return seen;
}

const lastText = (seen: any[]) => seen.at(-1)?.text;

/** Status calls of one node so far (the helper spies on the shared Node prototype). */
const statusOf = (node: any): any[] => node.status.getCalls().filter((c: any) => c.thisValue.id === node.id).map((c: any) => c.args[0]);

describe('Home Assistant nodes', () => {
  let ha: HaTestServer;

  beforeEach(async () => {
    ha = new HaTestServer({ tokens: [TOKEN] });
    await ha.start();
  });
  afterEach(async () => {
    await helper.unload();
    await ha.stop();
  });
  after(() => helper.stopServer());

  function load(nodes: Record<string, unknown>[], opts: { token?: string; keepalive?: number } = {}) {
    const flow = [{ id: 'srv', type: 'dms3-ha-server', url: ha.url, keepalive: opts.keepalive ?? 30 }, ...nodes, { id: 'out', type: 'helper' }];
    return helper.load(NODES, flow, { srv: { token: opts.token ?? TOKEN } });
  }
  const presence = (entities: string[], extra: Record<string, unknown> = {}) => ({ id: 'p', type: 'dms3-ha-presence', server: 'srv', entities, wires: [['out']], ...extra });
  const state = (extra: Record<string, unknown> = {}) => ({ id: 's', type: 'dms3-ha-state', server: 'srv', boolean: '', override: '', wires: [['out']], ...extra });
  const statePayload = (s: 'start' | 'stop', reason = s === 'start' ? 'nobody-home' : 'someone-home') => ({ state: s, reason, since: new Date().toISOString(), override: 'auto' });

  describe('dms3-ha-presence', () => {
    it('a person going not_home → home flips presence', async () => {
      ha.setState('person.alice', 'not_home', { friendly_name: 'Alice', source: 'device_tracker.alice_phone' });
      await load([presence(['person.alice'])]);
      const out = helper.getNode('out');
      const first = await nextMessage(out, WAIT);
      assert.equal(first.topic, 'presence');
      assert.deepEqual(first.payload, { home: false, source: 'home-assistant', devices: [{ name: 'Alice', entityId: 'person.alice', macs: [], ip: null, present: false, lastSeen: null }] });
      const seen = statuses(helper.getNode('p'));
      const next = nextMessage(out, WAIT);
      ha.setState('person.alice', 'home');
      const msg = await next;
      assert.equal(msg.payload.home, true);
      assert.equal(msg.payload.devices[0].present, true);
      assert.ok(!Number.isNaN(Date.parse(msg.payload.devices[0].lastSeen)));
      await waitFor(() => lastText(seen) === '1/1 home', WAIT, 'status "1/1 home"');
    });

    it('reports unknown and sends nothing until the first states have arrived, then answers on demand', async () => {
      ha.setState('person.alice', 'home');
      ha.holdSnapshots = true;
      await load([presence(['person.alice'])]);
      const p = helper.getNode('p');
      const seen = statuses(p);
      const msgs = collect(helper.getNode('out'));
      await waitFor(() => ha.authOk === 1, WAIT, 'the connection');
      await waitFor(() => lastText(seen) === 'unknown', WAIT, 'status "unknown"');
      p.receive({ topic: 'tick' }); // on demand: still nothing to say
      await delay(300);
      assert.equal(msgs.length, 0);
      ha.releaseSnapshots();
      await waitFor(() => msgs.length === 1, WAIT, 'the first report');
      assert.equal(msgs[0].payload.home, true);
      p.receive({ topic: 'tick', _ask: 1 });
      await waitFor(() => msgs.length === 2, WAIT, 'the report on demand');
      assert.equal(msgs[1].topic, 'presence');
      assert.equal(msgs[1]._ask, 1, 'the asking message is answered');
      assert.equal(msgs[1].payload.home, true);
    });

    it('two entities: home while any is home; a missing or unavailable entity is unknown, never away', async () => {
      ha.setState('person.alice', 'not_home');
      ha.setState('device_tracker.bob_phone', 'unavailable');
      await load([presence(['person.alice', 'device_tracker.bob_phone'], { source: 'ha-upstairs' })]);
      const msgs = collect(helper.getNode('out'));
      const seen = statuses(helper.getNode('p'));
      await waitFor(() => msgs.length === 1, WAIT, 'first report');
      assert.equal(msgs[0].payload.home, null, 'one away and one unavailable is not "away"');
      assert.equal(msgs[0].payload.source, 'ha-upstairs');
      ha.setState('device_tracker.bob_phone', 'home', { mac: '02:00:00:00:00:07', ip: '127.0.0.7' });
      await waitFor(() => msgs.length === 2, WAIT, 'bob home');
      assert.equal(msgs[1].payload.home, true);
      assert.deepEqual(msgs[1].payload.devices[1].macs, ['02:00:00:00:00:07']);
      await waitFor(() => lastText(seen) === '1/2 home', WAIT, 'status "1/2 home"');
      ha.setState('person.alice', 'home');
      await waitFor(() => lastText(seen) === '2/2 home', WAIT, 'status "2/2 home"');
      ha.setState('device_tracker.bob_phone', 'not_home');
      await waitFor(() => msgs.length === 4, WAIT, 'bob away');
      assert.equal(msgs[3].payload.home, true, 'alice is still home');
      ha.setState('person.alice', 'Work'); // a zone is away
      await waitFor(() => msgs.length === 5, WAIT, 'alice at work');
      assert.equal(msgs[4].payload.home, false);
      await waitFor(() => lastText(seen) === 'away', WAIT, 'status "away"');
      // A GPS update of a person away is not a change.
      ha.setState('person.alice', 'Work', { latitude: 1 });
      ha.removeState('device_tracker.bob_phone');
      await waitFor(() => msgs.length === 6, WAIT, 'bob\'s tracker deleted');
      assert.equal(msgs[5].payload.home, null);
    });

    it('a wrong token shows "auth invalid", sends nothing and does not retry', async () => {
      ha.setState('person.alice', 'home');
      await load([presence(['person.alice'])], { token: 'not-the-token' });
      const p = helper.getNode('p');
      const msgs = collect(helper.getNode('out'));
      await waitFor(() => statusOf(p).some((st) => st.text === 'auth invalid' && st.fill === 'red'), WAIT, 'red "auth invalid"');
      p.receive({ topic: 'tick' });
      await delay(1500);
      assert.equal(msgs.length, 0);
      assert.equal(ha.authInvalid, 1, 'a refused token is not tried again (Home Assistant bans such hosts)');
      assert.equal(ha.authOk, 0);
    });

    it('reconnects after Home Assistant restarts and delivers the state found after the restart', async () => {
      ha.setState('person.alice', 'not_home');
      await load([presence(['person.alice'])]);
      const p = helper.getNode('p');
      const seen = statuses(p);
      const msgs = collect(helper.getNode('out'));
      await waitFor(() => msgs.length === 1, WAIT, 'first report');
      await ha.restart(() => ha.setState('person.alice', 'home'), 500);
      await waitFor(() => msgs.length === 2, 20_000, 'the report after the restart');
      assert.equal(msgs[1].payload.home, true);
      assert.ok(seen.some((s) => s.text === 'disconnected'), 'showed "disconnected" meanwhile');
      assert.equal(ha.authOk, 2);
      assert.equal(ha.openConnections, 1);
      // And it follows live changes again.
      ha.setState('person.alice', 'not_home');
      await waitFor(() => msgs.length === 3, WAIT, 'a live change after the restart');
      assert.equal(msgs[2].payload.home, false);
    });

    it('a Home Assistant that stops answering is dropped by the keep-alive and reconnected', async () => {
      ha.setState('person.alice', 'not_home');
      await load([presence(['person.alice'])], { keepalive: 1 });
      const msgs = collect(helper.getNode('out'));
      await waitFor(() => msgs.length === 1, WAIT, 'first report');
      ha.freeze();
      await waitFor(() => ha.authOk === 2, 20_000, 'a new connection');
      await waitFor(() => ha.openConnections === 1, WAIT, 'the frozen connection closed');
      ha.setState('person.alice', 'home');
      await waitFor(() => msgs.length === 2, WAIT, 'a change over the new connection');
      assert.equal(msgs[1].payload.home, true);
    });

    it('connects once Home Assistant comes up after the deploy', async () => {
      ha.setState('person.alice', 'home');
      await ha.stop();
      await load([presence(['person.alice'])]);
      const p = helper.getNode('p');
      const msgs = collect(helper.getNode('out'));
      await waitFor(() => statusOf(p).some((st) => st.text === 'disconnected'), WAIT, 'status "disconnected"');
      await ha.start();
      await waitFor(() => msgs.length === 1, 20_000, 'the first report');
      assert.equal(msgs[0].payload.home, true);
    });

    it('warns about chosen entities that do not exist in Home Assistant', async () => {
      ha.setState('person.alice', 'home');
      await load([presence(['person.alice', 'person.alcie']), state({ boolean: 'input_boolean.dms3_armd', wires: [[]] })]);
      const warnings: string[] = [];
      helper.getNode('p').on('call:warn', (c: any) => warnings.push(String(c.args[0])));
      helper.getNode('s').on('call:warn', (c: any) => warnings.push(String(c.args[0])));
      await waitFor(() => warnings.length === 2, WAIT, 'two warnings');
      assert.deepEqual(warnings.sort(), ['input_boolean.dms3_armd does not exist in Home Assistant', 'person.alcie does not exist in Home Assistant']);
    });

    it('refuses bad settings with an error naming the field and value', async () => {
      await helper.load(NODES, [
        { id: 'srv', type: 'dms3-ha-server', url: 'homeassistant:8123' },
        { id: 'p', type: 'dms3-ha-presence', server: 'srv', entities: ['person.alice'], wires: [[]] },
        { id: 'q', type: 'dms3-ha-presence', server: 'srv', entities: ['light.kitchen'], wires: [[]] },
      ], { srv: { token: TOKEN } });
      const p = helper.getNode('p');
      const q = helper.getNode('q');
      assert.match(statusOf(p).at(-1).text, /url "homeassistant:8123"/);
      assert.equal(statusOf(p).at(-1).fill, 'red');
      assert.match(statusOf(q).at(-1).text, /entities\[0\] "light\.kitchen"/);
      const errors: string[] = [];
      p.on('call:error', (call: any) => errors.push(String(call.args[0])));
      p.receive({ topic: 'tick', _id: 'asked' });
      await waitFor(() => errors.some((e) => e.startsWith('Error: url "homeassistant:8123"')), WAIT, 'the input refused');
      assert.equal(ha.connectionsAccepted, 0);
    });
  });

  describe('dms3-ha-state', () => {
    it('fires dms3_state_changed with the payload and turns the input_boolean on and off', async () => {
      ha.setState('input_boolean.dms3_armed', 'off', { friendly_name: 'Surveillance' });
      await load([state({ boolean: 'input_boolean.dms3_armed' })]);
      const s = helper.getNode('s');
      await waitFor(() => ha.authOk === 1, WAIT, 'the connection');
      const start = statePayload('start');
      s.receive({ topic: 'state', payload: start });
      await waitFor(() => ha.states.get('input_boolean.dms3_armed')!.state === 'on', WAIT, 'boolean on');
      const fired = ha.events.filter((e) => e.event_type === 'dms3_state_changed');
      assert.equal(fired.length, 1);
      assert.deepEqual(fired[0].data, start);
      assert.equal(fired[0].origin, 'REMOTE');
      assert.deepEqual(ha.serviceCalls.map((c) => [c.domain, c.service, c.target?.entity_id]), [['input_boolean', 'turn_on', 'input_boolean.dms3_armed']]);
      // The same state again is not a change.
      s.receive({ topic: 'state', payload: start });
      const stop = statePayload('stop');
      s.receive({ topic: 'state', payload: stop });
      await waitFor(() => ha.states.get('input_boolean.dms3_armed')!.state === 'off', WAIT, 'boolean off');
      assert.deepEqual(ha.events.filter((e) => e.event_type === 'dms3_state_changed').map((e) => e.data), [start, stop]);
      assert.equal(ha.serviceCalls.at(-1)!.service, 'turn_off');
    });

    it('holds the state while Home Assistant is away and sends it on reconnect', async () => {
      ha.setState('input_boolean.dms3_armed', 'off');
      await load([state({ boolean: 'input_boolean.dms3_armed' })]);
      const s = helper.getNode('s');
      await waitFor(() => ha.authOk === 1, WAIT, 'the connection');
      await ha.stop();
      const start = statePayload('start');
      const done = new Promise<void>((resolve) => s.on('call:status', (c: any) => /will send start/.test(c.args[0].text) && resolve()));
      s.receive({ topic: 'state', payload: start });
      await done;
      await ha.start();
      await waitFor(() => ha.states.get('input_boolean.dms3_armed')!.state === 'on', 20_000, 'boolean on after reconnect');
      assert.deepEqual(ha.events.filter((e) => e.event_type === 'dms3_state_changed').map((e) => e.data), [start]);
    });

    it('turns a user\'s input_select choice into an override; the value at deploy is not a request', async () => {
      ha.setState('input_select.dms3_mode', 'start', { options: ['auto', 'start', 'stop'] });
      await load([state({ override: 'input_select.dms3_mode' })]);
      const msgs = collect(helper.getNode('out'));
      await waitFor(() => ha.authOk === 1, WAIT, 'the connection');
      const user = ha.newContext('someone-in-the-ui');
      await delay(300);
      ha.setState('input_select.dms3_mode', 'stop', undefined, user);
      await waitFor(() => msgs.length === 1, WAIT, 'an override');
      assert.equal(msgs[0].topic, 'override');
      assert.equal(msgs[0].payload, 'stop');
      ha.setState('input_select.dms3_mode', 'auto');
      await waitFor(() => msgs.length === 2, WAIT, 'back to auto');
      assert.equal(msgs[1].payload, 'auto');
      // Home Assistant restarting with the helper unavailable first, then restored, is not a request.
      await ha.restart(() => ha.setState('input_select.dms3_mode', 'unavailable'), 300);
      await waitFor(() => ha.authOk === 2, 20_000, 'reconnected');
      await delay(300);
      ha.setState('input_select.dms3_mode', 'start');
      ha.setState('input_select.dms3_mode', 'stop');
      await waitFor(() => msgs.length === 3, WAIT, 'the live change after the restart');
      assert.deepEqual(msgs.map((m) => m.payload), ['stop', 'auto', 'stop']);
    });

    it('an input_boolean override: on → start, off → auto; mirroring the state never makes an override', async () => {
      ha.setState('input_boolean.dms3_force', 'off');
      ha.setState('input_boolean.dms3_armed', 'off');
      await load([state({ override: 'input_boolean.dms3_force', boolean: 'input_boolean.dms3_armed' })]);
      const s = helper.getNode('s');
      const msgs = collect(helper.getNode('out'));
      await waitFor(() => ha.authOk === 1, WAIT, 'the connection');
      await delay(300);
      s.receive({ topic: 'state', payload: statePayload('start') });
      await waitFor(() => ha.states.get('input_boolean.dms3_armed')!.state === 'on', WAIT, 'mirror on');
      ha.setState('input_boolean.dms3_force', 'on', undefined, ha.newContext('ui'));
      await waitFor(() => msgs.length === 1, WAIT, 'override start');
      assert.deepEqual([msgs[0].topic, msgs[0].payload], ['override', 'start']);
      ha.setState('input_boolean.dms3_force', 'off', undefined, ha.newContext('ui'));
      await waitFor(() => msgs.length === 2, WAIT, 'override auto');
      assert.equal(msgs[1].payload, 'auto');
      s.receive({ topic: 'state', payload: statePayload('stop') });
      await waitFor(() => ha.states.get('input_boolean.dms3_armed')!.state === 'off', WAIT, 'mirror off');
      await delay(300);
      assert.equal(msgs.length, 2, 'the mirror writes produced no override');
    });

    it('refuses the same entity as mirror and override, and a bad state message', async () => {
      await load([state({ boolean: 'input_boolean.dms3', override: 'input_boolean.dms3' }), { id: 't', type: 'dms3-ha-state', server: 'srv', wires: [[]] }]);
      const s = helper.getNode('s');
      assert.match(statusOf(s).at(-1).text, /override "input_boolean\.dms3": must not be/);
      const t = helper.getNode('t');
      const errors: string[] = [];
      t.on('call:error', (call: any) => errors.push(String(call.args[0])));
      t.receive({ topic: 'state', payload: { state: 'armed' } });
      t.receive({ topic: 'presence', payload: {} });
      await waitFor(() => errors.length === 2, WAIT, 'two refusals');
      assert.match(errors[0], /msg\.payload\.state "armed"/);
      assert.match(errors[1], /msg\.topic "presence"/);
    });

    it('reports a Home Assistant error (a missing service) on the message', async () => {
      ha.disabledServices.add('input_boolean.turn_on'); // as without the input_boolean integration
      await load([state({ boolean: 'input_boolean.dms3_armed' })]);
      const s = helper.getNode('s');
      await waitFor(() => ha.authOk === 1, WAIT, 'the connection');
      const errors: string[] = [];
      s.on('call:error', (call: any) => errors.push(String(call.args[0])));
      s.receive({ topic: 'state', payload: statePayload('start') });
      await waitFor(() => errors.length === 1, WAIT, 'the error');
      assert.match(errors[0], /Service input_boolean\.turn_on not found\. \(not_found\)/);
      assert.equal(statusOf(s).at(-1).fill, 'red');
      // The event itself went out before the service call failed.
      assert.equal(ha.events.filter((e) => e.event_type === 'dms3_state_changed').length, 1);
    });
  });

  describe('lifecycle', () => {
    it('closing the flow closes the socket, also while reconnecting', async () => {
      ha.setState('person.alice', 'home');
      await load([presence(['person.alice']), state({ override: 'input_select.x' })]);
      const msgs = collect(helper.getNode('out'));
      await waitFor(() => msgs.length === 1, WAIT, 'a report');
      assert.equal(ha.openConnections, 1, 'one connection shared by both nodes');
      assert.equal(ha.authOk, 1);
      await helper.unload();
      await waitFor(() => ha.openConnections === 0, WAIT, 'no open sockets');
      // Now with Home Assistant down: the retry loop must stop too.
      await ha.stop();
      await load([presence(['person.alice'])]);
      await delay(1200);
      await helper.unload();
      await ha.start();
      const accepted = ha.connectionsAccepted;
      await delay(6000);
      assert.equal(ha.connectionsAccepted, accepted, 'no connection attempt after close');
      assert.equal(ha.openConnections, 0);
    });
  });
});
