import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import vm from 'node:vm';
import fc from 'fast-check';
import { parseScanConfig, randomisedMacs } from '../../lib/presence-scan';

const ANNA = { name: 'Anna', macs: ['A4-5E-60-12-34-56'] };

/** The property definitions the editor registers (its validators run here as they do in the browser). */
function editorDefaults(): Record<string, { value: unknown; validate?: (v: unknown, opt: object) => true | string }> {
  const html = readFileSync(join(__dirname, '../../nodes/dms3-presence-scan/dms3-presence-scan.html'), 'utf8');
  const code = /<script type="text\/javascript">([\s\S]*?)<\/script>/.exec(html)![1];
  let def: any;
  vm.runInNewContext(code, { RED: { nodes: { registerType: (_t: string, d: unknown) => (def = d) }, _: (k: string) => k } });
  return def.defaults;
}

describe('presence scan configuration', () => {
  it('applies defaults: interface subnet, IPv6 off, 10 s interval, 5 min grace', () => {
    assert.deepEqual(parseScanConfig({ devices: [ANNA], iface: 'wlan0' }), {
      devices: [{ name: 'Anna', macs: ['a4:5e:60:12:34:56'] }],
      iface: 'wlan0',
      range: null,
      ipv6: false,
      intervalMs: 10_000,
      graceMs: 300_000,
    });
    const c = parseScanConfig({ devices: [], iface: ' eth0 ', range: '192.168.1.77/24', ipv6: true, interval: '2.5', grace: 0 });
    assert.deepEqual([c.iface, c.range, c.ipv6, c.intervalMs, c.graceMs], ['eth0', '192.168.1.0/24', true, 2500, 0]);
  });

  it('names the field and value of each bad setting', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ iface: '' }, 'iface "": not a network interface name (e.g. eth0 or wlan0)'],
      [{ iface: 'averyveryverylongname' }, 'iface "averyveryverylongname": not a network interface name (e.g. eth0 or wlan0)'],
      [{ range: '10.0.0.0/8' }, 'range "10.0.0.0/8": range too large to sweep: at most /22 (1022 hosts)'],
      [{ range: 24 }, 'range 24: not an IPv4 range in CIDR notation (e.g. 192.168.1.0/24)'],
      [{ interval: 0 }, 'interval 0: expected seconds from 1 to 3600'],
      [{ grace: '5 min' }, 'grace "5 min": expected seconds from 0 to 86400'],
      [{ devices: [{ name: 'Ben', macs: [] }] }, 'devices[0].macs []: a device needs at least one MAC address'],
    ];
    for (const [extra, message] of bad) {
      assert.throws(() => parseScanConfig({ devices: [ANNA], iface: 'eth0', ...extra }), { name: 'FieldError', message });
    }
  });

  it('lists locally administered MACs to warn about', () => {
    const devices = parseScanConfig({ devices: [ANNA, { name: 'Cleo', macs: ['da:a1:19:00:00:01', '00:11:22:33:44:55'] }], iface: 'eth0' }).devices;
    assert.deepEqual(randomisedMacs(devices), [{ name: 'Cleo', mac: 'da:a1:19:00:00:01' }]);
  });

  it('the editor accepts exactly what the runtime accepts (property)', () => {
    const d = editorDefaults();
    assert.deepEqual([d.iface.value, d.range.value, d.ipv6.value, d.interval.value, d.grace.value], ['eth0', '', false, 10, 300]);
    const ok = (field: string, v: unknown) => d[field].validate!(v, {}) === true;
    const runtime = (input: Record<string, unknown>) => {
      try {
        parseScanConfig({ devices: [], iface: 'eth0', ...input });
        return true;
      } catch {
        return false;
      }
    };
    const hex = fc.integer({ min: 0, max: 255 }).map((b) => b.toString(16).padStart(2, '0'));
    const mac = fc.oneof(
      fc.tuple(fc.array(hex, { minLength: 6, maxLength: 6 }), fc.constantFrom(':', '-', '')).map(([b, sep]) => b.join(sep)),
      fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/[\s,;]/.test(s)),
    );
    const device = fc.record({ name: fc.constantFrom('Anna', '', ' ', 'Ben'), macs: fc.oneof(fc.array(mac, { maxLength: 3 }), fc.array(mac, { maxLength: 3 }).map((m) => m.join(', '))) });
    const octet = fc.oneof({ arbitrary: fc.integer({ min: 0, max: 255 }).map(String), weight: 8 }, fc.constantFrom('256', '300', 'x'));
    const range = fc.oneof(
      fc.tuple(octet, octet, octet, octet, fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 20, max: 24 }))).map(([a, b, c, e, p]) => `${a}.${b}.${c}.${e}/${p}`),
      fc.constantFrom('', '10.0.0.0', '10.0.0.0/24/1', ' 10.1.2.0/24 '),
    );
    const secs = fc.oneof(fc.integer({ min: -10, max: 100_000 }), fc.double({ noNaN: false }), fc.constantFrom('10', ' 5 ', 'x', '1e3'));
    const iface = fc.oneof(fc.constantFrom('eth0', ' wlan0 ', '-i', 'br-lan.10', 'a'.repeat(15), 'a'.repeat(16), 'en p0', ''), fc.string({ maxLength: 16 }));
    fc.assert(
      fc.property(fc.array(device, { maxLength: 3 }), range, secs, secs, iface, (devices, r, interval, grace, name) => {
        assert.equal(ok('devices', devices), runtime({ devices }), `devices ${JSON.stringify(devices)}`);
        assert.equal(ok('range', r), runtime({ range: r }), `range ${r}`);
        assert.equal(ok('interval', interval), runtime({ interval }), `interval ${interval}`);
        assert.equal(ok('grace', grace), runtime({ grace }), `grace ${grace}`);
        assert.equal(ok('iface', name), runtime({ iface: name }), `iface ${JSON.stringify(name)}`);
      }),
    );
  });
});
