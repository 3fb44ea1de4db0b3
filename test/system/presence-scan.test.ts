// The dms3-presence-scan node on a LAN of network namespaces: the node runs on the real Node-RED runtime
// inside a "server" namespace on the bridge (ip netns exec), so its scans reach only the test's hosts.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, it } from 'node:test';
import { waitFor } from '../support/red';
import { NamespaceLan, type HostSpec } from '../support/presence-lan';
import { requireSystem } from '../support/system';

const PREFIX = 'dps';
// Documentation MACs (RFC 7042), universally administered: no "random MAC" warning.
const MAC = { srv: '00:00:5e:00:53:fe', ph1: '00:00:5e:00:53:01', ph2: '00:00:5e:00:53:02', ph3: '00:00:5e:00:53:03', tv: '00:00:5e:00:53:20' };
const HOSTS: HostSpec[] = [
  { name: 'srv', mac: MAC.srv, ipv4: '10.213.0.1' },
  { name: 'ph1', mac: MAC.ph1, ipv4: '10.213.0.11' },
  { name: 'ph2', mac: MAC.ph2, ipv4: '10.213.0.12', asleep: true },
  { name: 'ph3', mac: MAC.ph3, randomLinkLocal: true }, // IPv6 only, link-local not derived from its MAC
  { name: 'tv', mac: MAC.tv, ipv4: '10.213.0.20' }, // on the LAN, not a configured device
];
const INTERVAL_S = 2;
const GRACE_S = 6;
const DEVICES = [
  { name: 'Phone', macs: [MAC.ph1] },
  { name: 'Asleep', macs: [MAC.ph2] },
  { name: 'IPv6 only', macs: [MAC.ph3] },
];

interface Record {
  t: number;
  msg?: { topic: string; payload: { home: boolean; source: string; devices: { name: string; ip: string | null; present: boolean | null; lastSeen: string | null }[] } };
  status?: { fill: string; text: string };
  warn?: string;
  error?: string;
  ready?: boolean;
}

/** The node driver (test/support/presence-node-driver) running in a namespace; its JSON lines as records. */
class Driver {
  readonly records: Record[] = [];
  private readonly child: ChildProcessWithoutNullStreams;
  private stderr = '';

  constructor(lan: NamespaceLan, host: string, config: object, unprivileged = false) {
    const user = unprivileged ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
    const script = join(__dirname, '../support/presence-node-driver.js');
    this.child = spawn('ip', ['netns', 'exec', lan.ns(host), ...user, process.execPath, script, JSON.stringify(config)], { stdio: 'pipe' });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      if (line.startsWith('{"t":')) this.records.push(JSON.parse(line) as Record);
    });
    this.child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  async find(pred: (r: Record) => boolean, ms: number, what: string): Promise<Record> {
    try {
      return await waitFor(() => this.records.find(pred), ms, what);
    } catch (err) {
      const tail = this.records.slice(-8).map((r) => JSON.stringify(r)).join('\n');
      const lastMsg = this.records.findLast((r) => r.msg);
      throw new Error(`${(err as Error).message}\nlast records:\n${tail}\nlast message: ${JSON.stringify(lastMsg)}\nstderr: ${this.stderr.slice(-2000)}`, { cause: err });
    }
  }

  query(): void {
    this.child.stdin.write('query\n');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

/** A LAN with the server's neighbour timers shortened (REACHABLE for 2-6 s), so the test runs in seconds. */
function createLan(): NamespaceLan {
  const lan = new NamespaceLan(PREFIX);
  lan.create(HOSTS);
  const timers = ['ipv4', 'ipv6'].flatMap((v) => [`net.${v}.neigh.eth0.base_reachable_time_ms=4000`, `net.${v}.neigh.eth0.delay_first_probe_time=1`]);
  lan.exec('srv', 'sysctl', ['-qw', ...timers]);
  return lan;
}

const device = (r: Record, name: string) => r.msg?.payload.devices.find((d) => d.name === name);

describe('dms3-presence-scan on a namespace LAN', () => {
  let lan: NamespaceLan | undefined;
  let driver: Driver | undefined;

  afterEach(async () => {
    await driver?.stop();
    lan?.destroy();
    [driver, lan] = [undefined, undefined];
  });

  it('sees a phone that ignores ping and an IPv6-only phone, waits the grace before "away", sees a returning phone within two scans', async (t) => {
    if (!requireSystem(t, { root: true, commands: ['ip', 'arping', 'arp-scan', 'ping', 'ndisc6', 'sysctl'] })) return;
    lan = createLan();
    // The sleeping phone really ignores ping.
    assert.throws(() => lan!.exec('srv', 'ping', ['-c', '1', '-W', '1', '10.213.0.12']));

    driver = new Driver(lan, 'srv', { devices: DEVICES, iface: 'eth0', range: '', ipv6: true, interval: INTERVAL_S, grace: GRACE_S });
    const all = await driver.find((r) => r.msg !== undefined && DEVICES.every((d) => device(r, d.name)?.present === true), 60_000, 'all three phones present');
    assert.equal(all.msg!.topic, 'presence');
    assert.equal(all.msg!.payload.home, true);
    assert.equal(all.msg!.payload.source, 'lan:eth0');
    assert.equal(device(all, 'Asleep')!.ip, '10.213.0.12');
    assert.match(device(all, 'IPv6 only')!.ip!, /^fe80:/);
    assert.ok(driver.records.filter((r) => r.msg).every((r) => r.msg!.payload.home === true), 'never "away" while starting');
    await driver.find((r) => r.status?.text === '3/3 home', 10_000, 'status 3/3 home');
    assert.deepEqual(driver.records.filter((r) => r.error), [], 'no scan errors');

    // A phone leaves: absent only after the grace, while the others keep the house "home".
    const downAt = Date.now();
    lan.link('ph1', 'down');
    const gone = await driver.find((r) => r.t > downAt && device(r, 'Phone')?.present === false, 60_000, 'Phone absent');
    assert.ok(gone.t - downAt >= GRACE_S * 1000, `absent after ${gone.t - downAt} ms, before the ${GRACE_S} s grace`);
    assert.equal(gone.msg!.payload.home, true);
    await driver.find((r) => r.t > downAt && r.status?.text === '2/3 home', 10_000, 'status 2/3 home');

    // It comes back: seen by the second scan that starts after it returned, at the latest.
    const upAt = Date.now();
    lan.link('ph1', 'up');
    const back = await driver.find((r) => r.t > upAt && device(r, 'Phone')?.present === true, 60_000, 'Phone back');
    const scansMissing = driver.records.filter((r) => r.t >= upAt && r.t <= back.t && r.status?.text === '2/3 home').length;
    assert.ok(scansMissing <= 2, `${scansMissing} scans after its return missed it`);

    // The server's own link fails: red status naming the cause, never "away", on-demand answer unchanged.
    const srvDownAt = Date.now();
    lan.link('srv', 'down');
    await driver.find((r) => r.t > srvDownAt && r.status?.fill === 'red', 30_000, 'red status');
    assert.match(driver.records.find((r) => r.t > srvDownAt && r.status?.fill === 'red')!.status!.text, /^interface "eth0" is down/);
    await new Promise((r) => setTimeout(r, (GRACE_S + 2 * INTERVAL_S) * 1000));
    assert.deepEqual(driver.records.filter((r) => r.t > srvDownAt && r.msg), [], 'nothing sent while the scan fails');
    driver.query();
    const answer = await driver.find((r) => r.t > srvDownAt && r.msg !== undefined, 10_000, 'on-demand answer');
    assert.equal(answer.msg!.payload.home, true);
    assert.ok(answer.msg!.payload.devices.every((d) => d.present === true));
    const srvUpAt = Date.now();
    lan.link('srv', 'up');
    await driver.find((r) => r.t > srvUpAt && r.status?.text === '3/3 home', 60_000, 'scanning again');
  });

  it('without CAP_NET_RAW falls back to a ping sweep that still sees a phone ignoring ping', async (t) => {
    if (!requireSystem(t, { root: true, commands: ['ip', 'arping', 'arp-scan', 'ping', 'sysctl', 'setpriv'] })) return;
    lan = createLan();
    // A longer grace: with ping, the kernel's own re-probing of a dozing phone leaves short gaps.
    driver = new Driver(lan, 'srv', { devices: DEVICES.slice(0, 2), iface: 'eth0', ipv6: false, interval: INTERVAL_S, grace: 2 * GRACE_S }, true);
    const seen = await driver.find((r) => device(r, 'Asleep')?.present === true && device(r, 'Phone')?.present === true, 60_000, 'both phones via the ping sweep');
    assert.equal(device(seen, 'Asleep')!.ip, '10.213.0.12');
    const warnings = driver.records.filter((r) => r.warn).map((r) => r.warn!);
    assert.ok(warnings.some((w) => /^arp-scan not permitted \(needs CAP_NET_RAW\)/.test(w)), warnings.join('\n'));
    assert.ok(warnings.some((w) => /^arping not permitted \(needs CAP_NET_RAW\)/.test(w)), warnings.join('\n'));
    assert.deepEqual(driver.records.filter((r) => r.error), []);
    // A phone that leaves is still noticed: STALE entries do not count.
    const downAt = Date.now();
    lan.link('ph1', 'down');
    const gone = await driver.find((r) => r.t > downAt && device(r, 'Phone')?.present === false, 90_000, 'Phone absent');
    assert.equal(gone.msg!.payload.home, true);
  });
});
