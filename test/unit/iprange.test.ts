import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cidrHosts, eui64LinkLocal, formatIPv4, formatIPv6, inCidr, parseCidr, parseIPv4, subnetOf, WIDEST_PREFIX } from '../../lib/iprange';
import { FieldError } from '../../lib/errors';

describe('iprange', () => {
  it('parses and formats dotted IPv4', () => {
    assert.equal(parseIPv4('ip', '10.213.0.1'), 0x0ad50001);
    assert.equal(formatIPv4(0xc0a80117), '192.168.1.23');
    fc.assert(fc.property(fc.ipV4(), (ip) => formatIPv4(parseIPv4('ip', ip)) === ip));
  });

  it('refuses malformed addresses and ranges with a FieldError naming the field and value', () => {
    for (const bad of ['10.0.0.256', '10.0.0', 'a.b.c.d', '', 42]) {
      assert.throws(() => parseIPv4('range', bad), (e: unknown) => e instanceof FieldError && e.field === 'range' && e.message.startsWith(`range ${JSON.stringify(bad)}`));
    }
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/24/1', '10.0.0.0/x', '10.0.0.300/24', '10.0.0/24', null]) {
      assert.throws(() => parseCidr('range', bad), { name: 'FieldError', message: `range ${JSON.stringify(bad)}: not an IPv4 range in CIDR notation (e.g. 192.168.1.0/24)` });
    }
  });

  it(`caps the sweep at /${WIDEST_PREFIX} with a clear error`, () => {
    assert.throws(() => parseCidr('range', '10.0.0.0/16'), /^FieldError: range "10\.0\.0\.0\/16": range too large to sweep: at most \/22 \(1022 hosts\)$/);
    assert.equal(cidrHosts(parseCidr('range', '10.0.0.0/22')).length, 1022);
  });

  it('lists the hosts of a range without network and broadcast address', () => {
    assert.deepEqual(cidrHosts(parseCidr('r', '192.168.1.17/29')), ['192.168.1.17', '192.168.1.18', '192.168.1.19', '192.168.1.20', '192.168.1.21', '192.168.1.22']);
    assert.deepEqual(cidrHosts(parseCidr('r', '10.0.0.4/31')), ['10.0.0.4', '10.0.0.5']);
    assert.deepEqual(cidrHosts(parseCidr('r', '10.0.0.4/32')), ['10.0.0.4']);
    const hosts = cidrHosts(parseCidr('r', '10.213.0.99/24'));
    assert.equal(hosts.length, 254);
    assert.equal(hosts[0], '10.213.0.1');
    assert.equal(hosts.at(-1), '10.213.0.254');
  });

  it('every listed host lies in the range, once, in order (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: WIDEST_PREFIX, max: 32 }), (ip, prefix) => {
        const cidr = parseCidr('r', `${ip}/${prefix}`);
        const hosts = cidrHosts(cidr);
        const size = 2 ** (32 - prefix);
        assert.equal(hosts.length, prefix >= 31 ? size : size - 2);
        assert.ok(hosts.every((h) => inCidr(cidr, h)));
        const nums = hosts.map((h) => parseIPv4('h', h));
        assert.ok(nums.every((n, i) => i === 0 || n === nums[i - 1] + 1));
        assert.equal(subnetOf(ip, prefix), `${formatIPv4(cidr.network)}/${prefix}`);
        assert.ok(inCidr(cidr, ip));
      }),
    );
  });

  it('formats IPv6 canonically (RFC 5952), as the WHATWG URL parser does', () => {
    assert.equal(formatIPv6([0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 1]), 'fe80::ff:fe00:1');
    assert.equal(formatIPv6([0x2001, 0xdb8, 0, 1, 0, 0, 0, 1]), '2001:db8:0:1::1');
    assert.equal(formatIPv6([0, 0, 0, 0, 0, 0, 0, 0]), '::');
    const group = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        const full = groups.map((g) => g.toString(16)).join(':');
        assert.equal(`[${formatIPv6(groups)}]`, new URL(`http://[${full}]/`).hostname);
      }),
    );
  });

  it('derives the EUI-64 link-local address of a MAC', () => {
    assert.equal(eui64LinkLocal('02:00:00:00:00:01'), 'fe80::ff:fe00:1');
    assert.equal(eui64LinkLocal('00:11:22:33:44:55'), 'fe80::211:22ff:fe33:4455');
    assert.equal(eui64LinkLocal('a4:5e:60:12:34:56'), 'fe80::a65e:60ff:fe12:3456');
  });
});
