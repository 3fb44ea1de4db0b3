import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isLocallyAdministered, normaliseMac, parseDevices, PresenceTracker } from '../../lib/presence';

const GRACE = 5 * 60_000;
const phone = { name: 'Ann', macs: ['a4:5e:60:00:00:01', '02:11:22:33:44:55'] };
const other = { name: 'Bob', macs: ['a4:5e:60:00:00:02'] };

describe('MAC addresses and device lists', () => {
  it('normalises and validates MACs', () => {
    assert.equal(normaliseMac('m', 'A4-5E-60-12-34-56'), 'a4:5e:60:12:34:56');
    assert.equal(normaliseMac('m', 'a45e60123456'), 'a4:5e:60:12:34:56');
    assert.throws(() => normaliseMac('devices[0].macs[0]', 'a4:5e:60:12:34'), /devices\[0\]\.macs\[0\] "a4:5e:60:12:34"/);
    assert.ok(isLocallyAdministered('02:11:22:33:44:55'));
    assert.ok(isLocallyAdministered('da:a1:19:00:00:01'));
    assert.ok(!isLocallyAdministered('a4:5e:60:12:34:56'));
  });
  it('parses device lists, naming the bad field', () => {
    assert.deepEqual(parseDevices([{ name: ' Ann ', macs: 'A4:5E:60:00:00:01, 02:11:22:33:44:55' }]), [phone]);
    assert.throws(() => parseDevices([{ name: '', macs: ['a4:5e:60:00:00:01'] }]), /devices\[0\]\.name/);
    assert.throws(() => parseDevices([{ name: 'x', macs: [] }]), /devices\[0\]\.macs/);
  });
});

describe('PresenceTracker', () => {
  it('is unknown until a device is seen, then home', () => {
    const t = new PresenceTracker([phone, other], GRACE, 0);
    assert.equal(t.report().home, null);
    assert.equal(t.update([], 10_000), false);
    assert.equal(t.report().home, null, 'one empty scan is not "away"');
    assert.equal(t.update([{ mac: '02:11:22:33:44:55', ip: '10.0.0.5' }], 20_000), true);
    const r = t.report();
    assert.equal(r.home, true);
    assert.deepEqual([r.devices[0].present, r.devices[0].ip, r.devices[0].lastSeen], [true, '10.0.0.5', new Date(20_000).toISOString()]);
    assert.equal(r.devices[1].present, null);
    assert.deepEqual(t.knownAddresses(), ['10.0.0.5']);
  });

  it('goes away only after the grace period unseen, and comes back at once', () => {
    const t = new PresenceTracker([phone], GRACE, 0);
    t.update([{ mac: phone.macs[0], ip: '10.0.0.5' }], 1000);
    assert.equal(t.update([], 1000 + GRACE - 1), false);
    assert.equal(t.report().home, true);
    assert.equal(t.update([], 1000 + GRACE), true);
    assert.equal(t.report().home, false);
    assert.equal(t.update([{ mac: phone.macs[0], ip: '10.0.0.6' }], 1000 + GRACE + 10), true);
    assert.equal(t.report().home, true);
  });

  it('never flaps: with sightings at most grace/2 apart the answer stays home', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: GRACE / 2 }), { minLength: 1, maxLength: 50 }), fc.array(fc.boolean(), { minLength: 50, maxLength: 50 }), (gaps, seen) => {
        const t = new PresenceTracker([phone], GRACE, 0);
        t.update([{ mac: phone.macs[0], ip: '10.0.0.5' }], 0);
        let now = 0;
        let lastSeen = 0;
        for (let i = 0; i < gaps.length; i++) {
          now += gaps[i];
          const sightings = seen[i] || now - lastSeen >= GRACE / 2 ? [{ mac: phone.macs[0], ip: '10.0.0.5' }] : [];
          if (sightings.length) lastSeen = now;
          t.update(sightings, now);
          if (t.report().home !== true) return false;
        }
        return true;
      }),
    );
  });
});
