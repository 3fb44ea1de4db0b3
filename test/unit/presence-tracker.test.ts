import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isLocallyAdministered, normaliseMac, parseDevices, PresenceTracker } from '../../lib/presence';
import { FieldError } from '../../lib/errors';

const ANNA = { name: 'Anna', macs: ['02:00:00:00:00:01', 'a4:5e:60:12:34:56'] };
const BEN = { name: 'Ben', macs: ['02:00:00:00:00:02'] };
const GRACE = 300_000;
const seen = (mac: string, ip = '10.0.0.9') => ({ mac, ip });

describe('presence devices', () => {
  it('normalises MACs and refuses bad ones naming the field and value', () => {
    assert.equal(normaliseMac('m', 'A4-5E-60-12-34-56'), 'a4:5e:60:12:34:56');
    assert.equal(normaliseMac('m', 'a45e60123456'), 'a4:5e:60:12:34:56');
    assert.throws(() => parseDevices([{ name: 'Anna', macs: ['a4:5e:60:12:34'] }]), (e: unknown) => e instanceof FieldError && e.message === 'devices[0].macs[0] "a4:5e:60:12:34": not a MAC address (e.g. a4:5e:60:12:34:56)');
    assert.throws(() => parseDevices([{ name: ' ', macs: ['a4:5e:60:12:34:56'] }]), /devices\[0\]\.name/);
    assert.deepEqual(parseDevices([{ name: 'Ben', macs: '02:00:00:00:00:02, 02-00-00-00-00-03' }]), [{ name: 'Ben', macs: ['02:00:00:00:00:02', '02:00:00:00:00:03'] }]);
  });

  it('recognises locally administered (randomised) MACs', () => {
    assert.equal(isLocallyAdministered('02:00:00:00:00:01'), true);
    assert.equal(isLocallyAdministered('da:a1:19:00:00:01'), true);
    assert.equal(isLocallyAdministered('a4:5e:60:12:34:56'), false);
  });
});

describe('PresenceTracker', () => {
  it('is unknown until a device is seen, and home as soon as one is', () => {
    const t = new PresenceTracker([ANNA, BEN], GRACE);
    assert.equal(t.report().home, null);
    assert.equal(t.update([], 0), false);
    assert.equal(t.report().home, null);
    assert.equal(t.update([seen('a4:5e:60:12:34:56', '10.0.0.7')], 10_000), true);
    const r = t.report();
    assert.equal(r.home, true);
    assert.deepEqual(r.devices[0], { name: 'Anna', macs: ANNA.macs, ip: '10.0.0.7', present: true, lastSeen: new Date(10_000).toISOString() });
    assert.deepEqual(t.knownAddresses(), [seen('a4:5e:60:12:34:56', '10.0.0.7')]);
  });

  it('says away only after the grace, counted from the first scan that missed each device', () => {
    const t = new PresenceTracker([ANNA, BEN], GRACE);
    t.update([seen(ANNA.macs[0]), seen(BEN.macs[0])], 0);
    t.update([seen(BEN.macs[0])], 10_000); // Anna missed from 10 s
    t.update([], 20_000); // Ben missed from 20 s
    assert.equal(t.update([], 309_999), false);
    assert.equal(t.update([], 310_000), true);
    assert.deepEqual(t.report().devices.map((d) => d.present), [false, true]);
    assert.equal(t.report().home, true);
    t.update([], 320_000);
    assert.equal(t.report().home, false);
    // The one who comes back is home at once.
    assert.equal(t.update([seen(BEN.macs[0])], 330_000), true);
    assert.equal(t.report().home, true);
  });

  it('does not turn a gap between successful scans (failed scans, restart) into "away"', () => {
    const t = new PresenceTracker([ANNA], GRACE);
    t.update([seen(ANNA.macs[0])], 0);
    // Scans failed for an hour and were not applied; the first successful one misses her.
    t.update([], 3_600_000);
    assert.equal(t.report().home, true);
    t.update([], 3_600_000 + GRACE);
    assert.equal(t.report().home, false);
  });

  it('matches a reference model over random scan histories (property)', () => {
    const scan = fc.record({ dt: fc.integer({ min: 1, max: 120_000 }), hits: fc.subarray([0, 1, 2]) });
    fc.assert(
      fc.property(fc.array(scan, { maxLength: 60 }), fc.integer({ min: 0, max: 400_000 }), (scans, grace) => {
        const specs = [ANNA, BEN, { name: 'Cleo', macs: ['00:11:22:33:44:55'] }];
        const t = new PresenceTracker(specs, grace);
        const model = specs.map(() => ({ ever: false, missedSince: null as number | null, present: null as boolean | null }));
        let now = 0;
        for (const s of scans) {
          now += s.dt;
          const before = t.report().devices.map((d) => d.present);
          const changed = t.update(s.hits.map((i) => seen(specs[i].macs.at(-1)!)), now);
          model.forEach((m, i) => {
            if (s.hits.includes(i)) [m.ever, m.missedSince, m.present] = [true, null, true];
            else {
              m.missedSince ??= now;
              m.present = now - m.missedSince >= grace ? false : m.ever ? m.present : null;
            }
          });
          const r = t.report();
          assert.deepEqual(r.devices.map((d) => d.present), model.map((m) => m.present));
          assert.equal(changed, r.devices.some((d, i) => d.present !== before[i]));
          const expectHome = model.some((m) => m.present === true) ? true : model.every((m) => m.present === false) ? false : null;
          assert.equal(r.home, expectHome);
        }
      }),
    );
  });
});
