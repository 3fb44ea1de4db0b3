import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLocallyAdministered, normaliseMac, parseDevices } from '../../lib/presence';

const phone = { name: 'Ann', macs: ['a4:5e:60:00:00:01', '02:11:22:33:44:55'] };

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
