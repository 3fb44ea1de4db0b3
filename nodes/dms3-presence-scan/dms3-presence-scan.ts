// dms3-presence-scan: senses the family's phones on the LAN (ARP, not ping) and emits
// { home, devices } on every change. A scan that fails shows a red status and changes nothing;
// after a (re)deploy nothing is emitted until presence is known.
import { parseScanConfig, randomisedMacs, type ScanConfig } from '../../lib/presence-scan';
import { PresenceTracker, type PresenceReport } from '../../lib/presence';
import type { Node, NodeAPI, NodeDef, NodeStatus } from '../shared/red';
import { Scanner, ScanError, type Method } from './scanner';

interface PresenceScanDef extends NodeDef {
  devices?: unknown;
  iface?: unknown;
  range?: unknown;
  ipv6?: unknown;
  interval?: unknown;
  grace?: unknown;
}

function clock(d: Date, now: Date): string {
  const hhmm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  return d.toDateString() === now.toDateString() ? hhmm : `${d.getDate()} ${d.toLocaleString('en', { month: 'short' })} ${hhmm}`;
}

/** "2/3 home", "away since 14:02" or "unknown …" (before the grace after a (re)start has passed). */
function statusOf(report: PresenceReport): NodeStatus {
  const now = new Date();
  const present = report.devices.filter((d) => d.present === true).length;
  const total = report.devices.length;
  if (report.home === true) return { fill: 'green', shape: 'dot', text: `${present}/${total} home` };
  if (report.home === false) {
    const last = report.devices.map((d) => d.lastSeen).filter((t): t is string => t !== null).sort().at(-1);
    return { fill: 'blue', shape: 'dot', text: last ? `away since ${clock(new Date(last), now)}` : 'away (none seen since start)' };
  }
  const unseen = report.devices.filter((d) => d.present === null).length;
  return { fill: 'grey', shape: 'ring', text: `unknown: ${unseen}/${total} not seen yet` };
}

export = function (RED: NodeAPI) {
  function PresenceScanNode(this: Node, def: PresenceScanDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    let config: ScanConfig;
    try {
      config = parseScanConfig(def);
    } catch (err) {
      const text = `invalid configuration: ${(err as Error).message}`;
      node.status({ fill: 'red', shape: 'ring', text: (err as Error).message });
      node.error(text);
      node.on('input', (_msg, _send, done) => done(new Error(text)));
      return;
    }

    if (config.devices.length === 0) {
      // Nothing to look for: send nothing on the network.
      node.status({ fill: 'yellow', shape: 'ring', text: 'add the phones to look for (devices)' });
      node.on('input', (_msg, _send, done) => done());
      return;
    }

    const randomised = randomisedMacs(config.devices);
    for (const r of randomised) {
      node.warn(`${r.name}: ${r.mac} is a locally administered (randomised, "private Wi-Fi") address and may change; turn the private address off for this network or add each address the phone uses`);
    }
    const suffix = randomised.length ? ' · random MAC' : '';
    const show = (s: NodeStatus) => node.status({ ...s, text: `${s.text}${suffix}` });

    const tracker = new PresenceTracker(config.devices, config.graceMs);
    const scanner = new Scanner({ notice: (text) => node.warn(text) });
    const source = `lan:${config.iface}`;
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    let lastError: string | null = null;
    let method: Method | null = null;

    const message = () => ({ topic: 'presence', payload: { ...tracker.report(), source } });

    async function scanOnce() {
      const result = await scanner.scan({
        iface: config.iface,
        range: config.range,
        ipv6: config.ipv6,
        macs: config.devices.flatMap((d) => d.macs),
        known: tracker.knownAddresses(),
        freshSec: Math.ceil(config.intervalMs / 1000),
      });
      if (closed) return;
      if (lastError) node.log(`scan works again (${result.method ?? 'IPv6'})`);
      if (result.method !== method) node.log(`scanning ${result.hosts} addresses on ${config.iface} with ${result.method ?? 'IPv6 only'}`);
      [lastError, method] = [null, result.method];
      const changed = tracker.update(result.sightings, Date.now());
      const report = tracker.report();
      show(statusOf(report));
      if (changed && report.home !== null) node.send(message());
    }

    async function tick() {
      const started = Date.now();
      try {
        await scanOnce();
      } catch (err) {
        if (closed) return;
        // Never "nobody home": the tracker is left as it was, the cause is shown.
        const text = err instanceof ScanError ? err.message : `scan failed: ${(err as Error).message}`;
        node.status({ fill: 'red', shape: 'ring', text });
        if (text !== lastError) node.error(text);
        lastError = text;
      }
      if (!closed) timer = setTimeout(tick, Math.max(0, config.intervalMs - (Date.now() - started)));
    }

    node.on('input', (msg, send, done) => {
      const m = message();
      if (m.payload.home !== null) send({ ...msg, ...m });
      done();
    });

    node.on('close', (_removed, done) => {
      closed = true;
      clearTimeout(timer);
      scanner.close();
      done();
    });

    show({ fill: 'grey', shape: 'ring', text: 'scanning…' });
    timer = setTimeout(tick, 0);
  }
  RED.nodes.registerType('dms3-presence-scan', PresenceScanNode);
};
