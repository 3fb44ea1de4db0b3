// The node on the real Node-RED runtime (test helper). These tests never touch a real interface: a
// nonexistent interface name drives the error path, zero devices the idle path. child_process is
// watched (calls go through unchanged) to prove when no command runs at all.
import assert from 'node:assert/strict';
import cp from 'node:child_process';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import scanNode from '../../nodes/dms3-presence-scan/dms3-presence-scan';
import { collect, delay, helper, waitFor } from '../support/red';

const NO_IFACE = 'dps-nope0';

const flow = (extra: Record<string, unknown>) => [
  { id: 'p', type: 'dms3-presence-scan', name: '', iface: NO_IFACE, range: '', ipv6: false, interval: 1, grace: 0, devices: [{ name: 'Anna', macs: ['a4:5e:60:12:34:56'] }], wires: [['out']], ...extra },
  { id: 'out', type: 'helper' },
];

/** Every command the process starts, by executable name. */
const commands: string[] = [];
const real = { execFile: cp.execFile, spawn: cp.spawn };
function watchChildren() {
  (cp as any).execFile = (file: string, ...rest: unknown[]) => {
    commands.push(String(file));
    return (real.execFile as any)(file, ...rest);
  };
  (cp as any).spawn = (file: string, ...rest: unknown[]) => {
    commands.push(String(file));
    return (real.spawn as any)(file, ...rest);
  };
}

/** The calls a Node prototype method (status, error, warn) received from node `id`. */
function callsOf(method: 'status' | 'error' | 'warn', id: string): any[] {
  const spy = (helper.getNode(id) as any)[method];
  return spy.getCalls().filter((c: any) => c.thisValue.id === id).map((c: any) => c.args[0]);
}

describe('dms3-presence-scan node', () => {
  beforeEach(() => {
    commands.length = 0;
    watchChildren();
  });
  afterEach(async () => {
    await helper.unload();
    Object.assign(cp, real);
  });
  after(() => helper.stopServer());

  it('refuses a bad MAC with a red status and an error naming the field and value, and runs nothing', async () => {
    await helper.load(scanNode, flow({ devices: [{ name: 'Anna', macs: ['a4:5e:60:12:34:56'] }, { name: 'Ben', macs: ['a4:5e:60:12:34:zz'] }] }));
    const expected = 'devices[1].macs[0] "a4:5e:60:12:34:zz": not a MAC address (e.g. a4:5e:60:12:34:56)';
    await waitFor(() => callsOf('error', 'p').length > 0, 2000, 'an error');
    assert.equal(callsOf('error', 'p')[0], `invalid configuration: ${expected}`);
    assert.deepEqual(callsOf('status', 'p'), [{ fill: 'red', shape: 'ring', text: expected }]);
    // The input handler reports the same error through done().
    const p = helper.getNode('p');
    p.receive({ payload: 'now?' });
    await waitFor(() => callsOf('error', 'p').length === 2, 2000, 'the input error');
    assert.match(String(callsOf('error', 'p')[1]), /devices\[1\]\.macs\[0\] "a4:5e:60:12:34:zz"/);
    await delay(300);
    assert.deepEqual(commands, []);
  });

  it('refuses other bad settings by name: range wider than /22, interface, interval, grace', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ range: '10.0.0.0/16' }, /^range "10\.0\.0\.0\/16": range too large to sweep: at most \/22/],
      [{ range: '10.0.0/24' }, /^range "10\.0\.0\/24": not an IPv4 range/],
      [{ iface: '-i' }, /^iface "-i": not a network interface name/],
      [{ interval: 'soon' }, /^interval "soon": expected seconds from 1 to 3600/],
      [{ grace: -5 }, /^grace -5: expected seconds from 0 to 86400/],
    ];
    for (const [extra, pattern] of cases) {
      await helper.load(scanNode, flow(extra));
      await waitFor(() => callsOf('status', 'p').length > 0, 2000, 'a status');
      const status = callsOf('status', 'p')[0];
      assert.equal(status.fill, 'red');
      assert.match(status.text, pattern);
      await helper.unload();
    }
    await delay(300);
    assert.deepEqual(commands, []);
  });

  it('with no devices asks for them, answers input with nothing and sends nothing on the network', async () => {
    await helper.load(scanNode, flow({ devices: [] }));
    const seen = collect(helper.getNode('out'));
    await waitFor(() => callsOf('status', 'p').length > 0, 2000, 'a status');
    assert.deepEqual(callsOf('status', 'p'), [{ fill: 'yellow', shape: 'ring', text: 'add the phones to look for (devices)' }]);
    helper.getNode('p').receive({ payload: 1 });
    await delay(1500); // longer than the scan interval
    assert.deepEqual(seen, []);
    assert.deepEqual(commands, []);
    assert.deepEqual(callsOf('error', 'p'), []);
  });

  it('shows a missing interface in red, logs it once and never says "away" (even with zero grace)', async () => {
    await helper.load(scanNode, flow({}));
    const seen = collect(helper.getNode('out'));
    const failed = () => callsOf('status', 'p').filter((s) => s.fill === 'red');
    await waitFor(() => failed().length >= 3, 10_000, 'three failed scans');
    assert.equal(failed()[0].text, `interface "${NO_IFACE}" not found`);
    assert.deepEqual(callsOf('error', 'p'), [`interface "${NO_IFACE}" not found`]);
    assert.ok(commands.some((c) => c.endsWith('/ip')), 'the interface was looked up with ip');
    // On demand: presence is unknown, so nothing is sent.
    helper.getNode('p').receive({ payload: 'now?' });
    await delay(300);
    assert.deepEqual(seen, []);
  });

  it('warns about a locally administered (randomised) MAC in the log and the status', async () => {
    await helper.load(scanNode, flow({ devices: [{ name: 'Cleo', macs: ['DA:A1:19:00:00:01'] }] }));
    await waitFor(() => callsOf('warn', 'p').length > 0, 2000, 'a warning');
    assert.match(String(callsOf('warn', 'p')[0]), /^Cleo: da:a1:19:00:00:01 is a locally administered \(randomised/);
    assert.deepEqual(callsOf('status', 'p')[0], { fill: 'grey', shape: 'ring', text: 'scanning… · random MAC' });
  });

  it('stops scanning on close: the timer is cleared and no command or status follows', async () => {
    await helper.load(scanNode, flow({}));
    await waitFor(() => callsOf('status', 'p').some((s) => s.fill === 'red'), 5000, 'the first scan');
    const node = helper.getNode('p');
    const statusSpy = node.status;
    await helper.unload();
    const [ran, statuses] = [commands.length, statusSpy.getCalls().length];
    await delay(2500); // more than two scan intervals
    assert.equal(commands.length, ran, 'no command after close');
    assert.equal(statusSpy.getCalls().length, statuses, 'no status after close');
  });
});
