import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { answeredSightings, freshSightings, mergeSightings, parseArping, parseArpScan, parseIpAddrJson, parseIpNeigh, parseNdisc6 } from '../../lib/neigh';

// Outputs captured from iproute2 6.1, arp-scan 1.10, arping 2.23, ndisc6 1.0.5 and iputils ping on Debian 12.
const NEIGH_S = [
  '10.213.0.11 lladdr 02:00:00:00:00:01  ref 1 used 1/1/1probes 4 REACHABLE ',
  '10.213.0.12 lladdr 02:00:00:00:00:02  ref 1 used 40/35/30 probes 1 STALE ',
  '10.213.0.13 lladdr 02:00:00:00:00:03  used 2/2/2 probes 1 DELAY',
  '10.213.0.14  used 3/63/0probes 6 FAILED ',
  '10.213.0.15 lladdr 02:00:00:00:00:05 used 9/62/9 probes 0 PROBE',
  '',
].join('\n');

const NEIGH6_S = [
  'fe80::ff:fe00:1 lladdr 02:00:00:00:00:01  ref 1 used 1/61/1probes 0 DELAY ',
  'fe80::ff:fe00:2 lladdr 02:00:00:00:00:02 router ref 1 used 0/0/0probes 1 REACHABLE ',
].join('\n');

describe('neighbour table parser', () => {
  it('reads address, MAC, state and confirmation age (also with the "1/1/1probes" quirk)', () => {
    const e = parseIpNeigh(NEIGH_S);
    assert.equal(e.length, 5);
    assert.deepEqual(e[0], { ip: '10.213.0.11', dev: null, mac: '02:00:00:00:00:01', states: ['REACHABLE'], confirmedAgeSec: 1 });
    assert.deepEqual(e[1].states, ['STALE']);
    assert.equal(e[1].confirmedAgeSec, 35);
    assert.deepEqual(e[3], { ip: '10.213.0.14', dev: null, mac: null, states: ['FAILED'], confirmedAgeSec: 63 });
    const unfiltered = parseIpNeigh('10.0.0.2 dev eth0 lladdr A4:5E:60:12:34:56 REACHABLE');
    assert.deepEqual(unfiltered, [{ ip: '10.0.0.2', dev: 'eth0', mac: 'a4:5e:60:12:34:56', states: ['REACHABLE'], confirmedAgeSec: null }]);
    assert.equal(parseIpNeigh(NEIGH6_S)[1].mac, '02:00:00:00:00:02');
  });

  it('counts REACHABLE, and DELAY/PROBE/STALE only with a fresh confirmation', () => {
    assert.deepEqual(freshSightings(parseIpNeigh(NEIGH_S), 15), [
      { mac: '02:00:00:00:00:01', ip: '10.213.0.11' },
      { mac: '02:00:00:00:00:03', ip: '10.213.0.13' },
    ]);
    // STALE confirmed 35 s ago: it answered within the last 35 s (e.g. during a slow sweep), not since.
    assert.deepEqual(
      freshSightings(parseIpNeigh(NEIGH_S), 35).map((x) => x.ip),
      ['10.213.0.11', '10.213.0.12', '10.213.0.13'],
    );
    // PROBE confirmed 62 s ago: the neighbour is being re-checked, not seen.
    assert.equal(freshSightings(parseIpNeigh(NEIGH_S), 61).length, 3);
    assert.equal(freshSightings(parseIpNeigh(NEIGH_S), 62).length, 4);
    // A DELAY entry created from the neighbour's own solicitation is back-dated: not fresh.
    assert.deepEqual(freshSightings(parseIpNeigh(NEIGH6_S), 15), [{ mac: '02:00:00:00:00:02', ip: 'fe80::ff:fe00:2' }]);
    // The REACHABLE state itself is the kernel's fresh confirmation, also without `-s` statistics.
    assert.deepEqual(freshSightings(parseIpNeigh('10.0.0.2 dev eth0 lladdr 02:00:00:00:00:01 REACHABLE'), 0), [{ mac: '02:00:00:00:00:01', ip: '10.0.0.2' }]);
    assert.deepEqual(freshSightings(parseIpNeigh('10.0.0.2 dev eth0 lladdr 02:00:00:00:00:01 DELAY'), 1000), []);
  });

  it('counts an entry of an address that answered a ping, even STALE (the echo went to that MAC)', () => {
    const entries = parseIpNeigh(NEIGH_S);
    assert.deepEqual(answeredSightings(entries, new Set(['10.213.0.12', '10.213.0.14', '10.213.0.99'])), [{ mac: '02:00:00:00:00:02', ip: '10.213.0.12' }]);
    assert.deepEqual(answeredSightings(entries, new Set()), []);
  });

  it('round-trips generated lines; only REACHABLE or freshly confirmed DELAY/PROBE/STALE are sightings (property)', () => {
    const state = fc.constantFrom('REACHABLE', 'STALE', 'DELAY', 'PROBE', 'FAILED', 'INCOMPLETE', 'PERMANENT', 'NOARP');
    const mac = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }).map((b) => b.map((x) => x.toString(16).padStart(2, '0')).join(':'));
    const entry = fc.record({ ip: fc.ipV4(), mac, state, age: fc.nat(500), space: fc.boolean(), dev: fc.boolean() });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 20 }), fc.nat(60), (list, maxAge) => {
        const text = list.map((x) => `${x.ip}${x.dev ? ' dev wlan0' : ''} lladdr ${x.mac.toUpperCase()} ref 1 used 3/${x.age}/3${x.space ? ' ' : ''}probes 1 ${x.state}`).join('\n');
        const parsed = parseIpNeigh(text);
        assert.deepEqual(
          parsed.map((p) => [p.ip, p.mac, p.states[0], p.confirmedAgeSec, p.dev]),
          list.map((x) => [x.ip, x.mac, x.state, x.age, x.dev ? 'wlan0' : null]),
        );
        const expected = list.filter((x) => x.state === 'REACHABLE' || (['DELAY', 'PROBE', 'STALE'].includes(x.state) && x.age <= maxAge)).map((x) => ({ mac: x.mac, ip: x.ip }));
        assert.deepEqual(freshSightings(parsed, maxAge), expected);
      }),
    );
  });
});

describe('tool output parsers', () => {
  it('reads arp-scan replies, with or without header and footer', () => {
    const full = [
      'Interface: eth0, type: EN10MB, MAC: 02:00:00:00:00:fe, IPv4: 10.213.0.1',
      'Starting arp-scan 1.10.0 with 16 hosts (https://github.com/royhills/arp-scan)',
      '10.213.0.11\t02:00:00:00:00:01\t(Unknown: locally administered)',
      '10.213.0.12\tA4:5E:60:12:34:56\tApple, Inc.',
      '10.213.0.12\ta4:5e:60:12:34:56\tApple, Inc. (DUP: 2)',
      '',
      '2 packets received by filter, 0 packets dropped by kernel',
      'Ending arp-scan 1.10.0: 16 hosts scanned in 0.375 seconds (42.67 hosts/sec). 2 responded',
    ].join('\n');
    assert.deepEqual(parseArpScan(full), [
      { ip: '10.213.0.11', mac: '02:00:00:00:00:01' },
      { ip: '10.213.0.12', mac: 'a4:5e:60:12:34:56' },
    ]);
    assert.deepEqual(parseArpScan('10.0.0.9\t00:11:22:33:44:55'), [{ ip: '10.0.0.9', mac: '00:11:22:33:44:55' }]);
    assert.deepEqual(parseArpScan('pcap_activate: eth0: You don\'t have permission to perform this capture on that device'), []);
  });

  it('reads arping replies and ignores timeouts', () => {
    const up = 'ARPING 10.213.0.12\n42 bytes from 02:00:00:00:00:02 (10.213.0.12): index=0 time=9.534 usec\n\n--- 10.213.0.12 statistics ---\n1 packets transmitted, 1 packets received,   0% unanswered (0 extra)\n';
    assert.deepEqual(parseArping(up), [{ mac: '02:00:00:00:00:02', ip: '10.213.0.12' }]);
    assert.deepEqual(parseArping('ARPING 10.213.0.99\nTimeout\n\n--- 10.213.0.99 statistics ---\n1 packets transmitted, 0 packets received, 100% unanswered (0 extra)\n'), []);
  });

  it('reads the ndisc6 answer', () => {
    const out = 'Soliciting fe80::ff:fe00:1 (fe80::ff:fe00:1) on eth0...\nTarget link-layer address: 02:00:00:00:00:01\n from fe80::ff:fe00:1\n';
    assert.deepEqual(parseNdisc6(out, 'fe80::ff:fe00:1'), [{ mac: '02:00:00:00:00:01', ip: 'fe80::ff:fe00:1' }]);
    assert.deepEqual(parseNdisc6('Soliciting fe80::9 (fe80::9) on eth0...\nTimed out.\nNo response.\n', 'fe80::9'), []);
  });

  it('reads the interface state and IPv4 subnets from `ip -j addr`', () => {
    const json = JSON.stringify([
      {
        ifindex: 2,
        ifname: 'eth0',
        flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
        operstate: 'UP',
        addr_info: [
          { family: 'inet', local: '10.213.0.1', prefixlen: 24, scope: 'global' },
          { family: 'inet6', local: 'fe80::ff:fe00:fe', prefixlen: 64, scope: 'link' },
        ],
      },
    ]);
    assert.deepEqual(parseIpAddrJson(json, 'eth0'), { name: 'eth0', up: true, carrier: true, ipv4: [{ address: '10.213.0.1', prefix: 24 }] });
    assert.equal(parseIpAddrJson(json, 'wlan0'), null);
    const down = JSON.stringify([{ ifname: 'wlan0', flags: ['NO-CARRIER', 'BROADCAST', 'UP'], addr_info: [] }]);
    assert.deepEqual(parseIpAddrJson(down, 'wlan0'), { name: 'wlan0', up: true, carrier: false, ipv4: [] });
  });

  it('merges sightings without duplicates, first source first', () => {
    const a = { mac: '02:00:00:00:00:01', ip: '10.0.0.2' };
    const b = { mac: '02:00:00:00:00:01', ip: 'fe80::ff:fe00:1' };
    assert.deepEqual(mergeSightings([a], [b, { ...a }]), [a, b]);
  });
});
