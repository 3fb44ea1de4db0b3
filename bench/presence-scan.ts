// Benchmark: the time of one full presence scan of a /24 with each IPv4 method (arp-scan, the arping
// fallback, the ping fallback) and of the IPv6 part, on a LAN of network namespaces (root needed).
// Usage: npm run build && node dist/bench/presence-scan.js   → bench/results-presence.json
// The scanner runs inside the LAN's server namespace (this file again, with --inner).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Scanner, type Method } from '../nodes/dms3-presence-scan/scanner';
import { NamespaceLan, type HostSpec } from '../test/support/presence-lan';

const RUNS = 5;
const ALIVE = 12; // hosts answering on the /24 besides the server
const PHONES = ['00:00:5e:00:53:01', '00:00:5e:00:53:02', '00:00:5e:00:53:03']; // the second one ignores ping

interface Case {
  name: string;
  methods: Method[];
  ipv6: boolean;
}

const CASES: Case[] = [
  { name: 'arp-scan', methods: ['arp-scan'], ipv6: false },
  { name: 'arping', methods: ['arping'], ipv6: false },
  { name: 'ping', methods: ['ping'], ipv6: false },
  { name: 'arp-scan + IPv6', methods: ['arp-scan'], ipv6: true },
];

interface Measured {
  runs_ms: number[];
  median_ms: number;
  hosts_swept: number;
  phones_found: number;
  sightings: number;
}

/** Inside the namespace: RUNS scans with one method, the phones' last addresses known as in the node. */
async function inner(c: Case): Promise<Measured> {
  const scanner = new Scanner({ methods: c.methods });
  const runs: number[] = [];
  let known: { mac: string; ip: string }[] = [];
  let last = { hosts: 0, sightings: [] as { mac: string; ip: string }[] };
  for (let i = 0; i < RUNS; i++) {
    const r = await scanner.scan({ iface: 'eth0', range: null, ipv6: c.ipv6, macs: PHONES, known, freshSec: 10 });
    runs.push(r.ms);
    known = r.sightings.filter((s) => PHONES.includes(s.mac) && s.ip.includes('.'));
    last = r;
  }
  const sorted = [...runs].sort((a, b) => a - b);
  return {
    runs_ms: runs,
    median_ms: sorted[Math.floor(sorted.length / 2)],
    hosts_swept: last.hosts,
    phones_found: new Set(last.sightings.filter((s) => PHONES.includes(s.mac)).map((s) => s.mac)).size,
    sightings: last.sightings.length,
  };
}

function hosts(): HostSpec[] {
  const list: HostSpec[] = [{ name: 'srv', mac: '00:00:5e:00:53:fe', ipv4: '10.213.0.1' }];
  for (let i = 1; i <= ALIVE; i++) {
    const mac = i <= PHONES.length ? PHONES[i - 1] : `00:00:5e:00:53:${(0x10 + i).toString(16)}`;
    list.push({ name: `h${i}`, mac, ipv4: `10.213.0.${10 + i * 7}`, asleep: i === 2 });
  }
  return list;
}

async function outer(): Promise<void> {
  const lan = new NamespaceLan('dpsb');
  const results: Record<string, Measured> = {};
  try {
    lan.create(hosts());
    for (const c of CASES) {
      const out = execFileSync('ip', ['netns', 'exec', lan.ns('srv'), process.execPath, __filename, '--inner', JSON.stringify(c)], { encoding: 'utf8', timeout: 300_000 });
      results[c.name] = JSON.parse(out) as Measured;
      console.log(`${c.name.padEnd(16)} median ${results[c.name].median_ms} ms  runs ${results[c.name].runs_ms.join(', ')}  phones ${results[c.name].phones_found}/${PHONES.length}`);
    }
  } finally {
    lan.destroy();
  }
  const file = join(__dirname, '../../bench/results-presence.json');
  const report = {
    benchmark: 'presence-scan: one full scan of a /24 (254 addresses) on a namespace LAN',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
    lan: { range: '10.213.0.0/24', alive: ALIVE, phones: PHONES.length, asleep: 1, runs: RUNS },
    results,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`written ${file}`);
}

if (process.argv[2] === '--inner') {
  inner(JSON.parse(process.argv[3]) as Case).then(
    (m) => process.stdout.write(JSON.stringify(m)),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
} else if (process.getuid?.() !== 0) {
  console.error('presence-scan benchmark: needs root (network namespaces)');
  process.exit(1);
} else {
  outer().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
