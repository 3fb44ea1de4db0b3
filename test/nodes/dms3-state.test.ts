import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import stateNode from '../../nodes/dms3-state/dms3-state';
import { collect, helper, nextMessage, waitFor } from '../support/red';

const flow = (extra: Record<string, unknown> = {}) => [
  { id: 's', type: 'dms3-state', name: '', startup: 'start', wires: [['out']], ...extra },
  { id: 'out', type: 'helper' },
];

describe('dms3-state node', () => {
  afterEach(() => helper.unload());
  after(() => helper.stopServer());

  it('announces the start-up state at deploy (fail-secure default)', async () => {
    await helper.load(stateNode, flow());
    const msg = await nextMessage(helper.getNode('out'));
    assert.equal(msg.topic, 'state');
    assert.equal(msg.payload.state, 'start');
    assert.equal(msg.payload.reason, 'startup');
    assert.equal(msg.payload.override, 'auto');
    assert.ok(!Number.isNaN(Date.parse(msg.payload.since)));
  });

  it('stops when someone is home, starts when the last one leaves, and Always On wins', async () => {
    await helper.load(stateNode, flow({ startup: 'stop' }));
    const seen = collect(helper.getNode('out'));
    const s = helper.getNode('s');
    await waitFor(() => seen.length === 1, 2000, 'initial state');
    s.receive({ topic: 'presence', payload: { home: true } });
    await waitFor(() => seen.length === 2);
    assert.deepEqual([seen[1].payload.state, seen[1].payload.reason], ['stop', 'someone-home']);
    s.receive({ topic: 'always-on', payload: { active: true } });
    await waitFor(() => seen.length === 3);
    assert.deepEqual([seen[2].payload.state, seen[2].payload.reason], ['start', 'always-on']);
    s.receive({ topic: 'always-on', payload: { active: false } });
    s.receive({ topic: 'presence', payload: { home: false } });
    await waitFor(() => seen.length === 5);
    assert.deepEqual([seen[4].payload.state, seen[4].payload.reason], ['start', 'nobody-home']);
    // A repeated, unchanged input sends nothing.
    s.receive({ topic: 'presence', payload: { home: false } });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(seen.length, 5);
  });

  it('combines presence sources: home while any says home', async () => {
    await helper.load(stateNode, flow());
    const seen = collect(helper.getNode('out'));
    const s = helper.getNode('s');
    await waitFor(() => seen.length === 1);
    s.receive({ topic: 'presence', payload: { home: false, source: 'lan' } });
    s.receive({ topic: 'presence', payload: { home: true, source: 'ha' } });
    await waitFor(() => seen.at(-1)?.payload.reason === 'someone-home');
    s.receive({ topic: 'presence', payload: { home: false, source: 'ha' } });
    await waitFor(() => seen.at(-1)?.payload.reason === 'nobody-home');
  });

  it('obeys a manual override until "auto"', async () => {
    await helper.load(stateNode, flow());
    const seen = collect(helper.getNode('out'));
    const s = helper.getNode('s');
    await waitFor(() => seen.length === 1);
    s.receive({ topic: 'presence', payload: { home: true } });
    s.receive({ topic: 'override', payload: 'start' });
    await waitFor(() => seen.at(-1)?.payload.override === 'start');
    assert.deepEqual([seen.at(-1)!.payload.state, seen.at(-1)!.payload.reason], ['start', 'override']);
    s.receive({ topic: 'override', payload: 'auto' });
    await waitFor(() => seen.at(-1)?.payload.override === 'auto');
    assert.equal(seen.at(-1)!.payload.state, 'stop');
  });

  it('refuses bad input with an error naming the field and value, and a red status', async () => {
    await helper.load(stateNode, flow());
    const s = helper.getNode('s');
    const statuses: any[] = [];
    s.on('call:status', (call: any) => statuses.push(call.args[0]));
    const errors: string[] = [];
    s.on('call:error', (call: any) => errors.push(String(call.args[0])));
    s.receive({ topic: 'override', payload: 'sometimes' });
    s.receive({ topic: 'weather', payload: 1 });
    s.receive({ topic: 'presence', payload: { home: 'yes' } });
    await waitFor(() => errors.length === 3, 2000, 'three errors');
    assert.match(errors[0], /msg\.payload "sometimes"/);
    assert.match(errors[1], /msg\.topic "weather"/);
    assert.match(errors[2], /msg\.payload\.home "yes"/);
    assert.ok(statuses.some((st) => st.fill === 'red'));
  });
});
