import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import alwaysOnNode from '../../nodes/dms3-always-on/dms3-always-on';
import { collect, helper, nextMessage, waitFor } from '../support/red';

function hhmm(d: Date): string {
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}
const flow = (windows: unknown) => [
  { id: 'a', type: 'dms3-always-on', name: '', windows, wires: [['out']] },
  { id: 'out', type: 'helper' },
];

describe('dms3-always-on node', () => {
  afterEach(() => helper.unload());
  after(() => helper.stopServer());

  it('announces an open window at deploy, with its label and next change', async () => {
    const now = new Date();
    const start = new Date(now.getTime() - 60 * 60_000);
    const end = new Date(now.getTime() + 60 * 60_000);
    await helper.load(alwaysOnNode, flow([{ start: hhmm(start), end: hhmm(end), days: [] }]));
    const msg = await nextMessage(helper.getNode('out'));
    assert.equal(msg.topic, 'always-on');
    assert.equal(msg.payload.active, true);
    assert.equal(msg.payload.window, `${hhmm(start)}–${hhmm(end)}`);
    assert.equal(hhmm(new Date(msg.payload.nextChange)), hhmm(end));
  });

  it('re-evaluates exactly at the window edge', async () => {
    // A window that opens at the next minute boundary.
    const now = new Date();
    const opens = new Date(now.getFullYear(), now.getMonth(), now.getDate(), now.getHours(), now.getMinutes() + 1);
    const closes = new Date(opens.getTime() + 2 * 60_000);
    await helper.load(alwaysOnNode, flow([{ start: hhmm(opens), end: hhmm(closes) }]));
    const seen = collect(helper.getNode('out'));
    await waitFor(() => seen.length >= 1, 2000, 'initial message');
    assert.equal(seen[0].payload.active, false);
    assert.equal(new Date(seen[0].payload.nextChange).getTime(), opens.getTime());
    await waitFor(() => seen.length >= 2, opens.getTime() - Date.now() + 5000, 'the edge');
    assert.equal(seen[1].payload.active, true);
    assert.ok(Date.now() >= opens.getTime(), 'not before the edge');
  });

  it('answers any input with the current state', async () => {
    await helper.load(alwaysOnNode, flow([]));
    const seen = collect(helper.getNode('out'));
    await waitFor(() => seen.length === 1);
    helper.getNode('a').receive({ payload: 'now?' });
    await waitFor(() => seen.length === 2);
    assert.deepEqual(seen[1].payload, { active: false, window: null, nextChange: null });
  });

  it('refuses an invalid window with a red status and an error naming it', async () => {
    await helper.load(alwaysOnNode, flow([{ start: '25:00', end: '05:00' }]));
    const a = helper.getNode('a');
    await waitFor(() => a.status.called, 2000, "status");
    const status = a.status.lastCall.args[0];
    assert.equal(status.fill, 'red');
    assert.match(status.text, /windows\[0\]\.start "25:00"/);
    const errors: string[] = [];
    a.on('call:error', (call: any) => errors.push(String(call.args[0])));
    a.receive({ payload: 1 });
    await waitFor(() => errors.length >= 1);
    assert.match(errors[0], /25:00/);
  });
});
