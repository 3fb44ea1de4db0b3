// Parsers for what the presence scan reads: the kernel neighbour table (`ip -s neigh`), replies
// printed by arp-scan, arping and ndisc6, and the interface as `ip -j addr` shows it.
// Pure text in, plain data out; which entries prove presence is decided here too.
import type { Sighting } from './presence';

export interface NeighEntry {
  ip: string;
  dev: string | null; // absent when the listing was filtered by device
  mac: string | null; // absent for INCOMPLETE/FAILED entries
  states: string[]; // e.g. ["REACHABLE"], ["STALE"]
  confirmedAgeSec: number | null; // seconds since the neighbour last answered; needs `ip -s`
}

const MAC = '[0-9a-f]{2}(?::[0-9a-f]{2}){5}';
const IPV4 = '\\d{1,3}(?:\\.\\d{1,3}){3}';

/**
 * One entry per line of `ip [-4|-6] -s neigh show`, e.g.
 * `10.0.0.2 dev eth0 lladdr 02:00:00:00:00:01 ref 1 used 3/1/3 probes 1 REACHABLE`.
 * iproute2 6.1 prints "used 1/1/1probes 4" without a space, so fields are matched, not split.
 */
export function parseIpNeigh(text: string): NeighEntry[] {
  const entries: NeighEntry[] = [];
  for (const line of text.split('\n')) {
    const ip = line.trim().split(/\s+/)[0];
    if (!/[.:]/.test(ip)) continue;
    const used = /\bused (\d+)\/(\d+)\/(\d+)/.exec(line);
    entries.push({
      ip,
      dev: /\bdev (\S+)/.exec(line)?.[1] ?? null,
      mac: new RegExp(`\\blladdr (${MAC})\\b`, 'i').exec(line)?.[1].toLowerCase() ?? null,
      states: line.trim().split(/\s+/).slice(1).filter((w) => /^[A-Z_]{4,}$/.test(w)),
      confirmedAgeSec: used ? Number(used[2]) : null,
    });
  }
  return entries;
}

/**
 * Entries that prove presence. REACHABLE does: the kernel holds that state only for its reachable
 * time (15-45 s by default) after the neighbour last answered. DELAY, PROBE and STALE do only with a
 * confirmation at most `maxAgeSec` old: an ARP answer during this scan confirms the entry even if it has
 * gone STALE by the time the table is read (a slow sweep, a short reachable time), while an entry the
 * kernel created from a neighbour's own request carries a back-dated confirmation. An old STALE entry
 * never counts: the kernel keeps it for as long as nobody asks.
 */
export function freshSightings(entries: NeighEntry[], maxAgeSec: number): Sighting[] {
  const confirmed = (e: NeighEntry) => e.confirmedAgeSec !== null && e.confirmedAgeSec <= maxAgeSec;
  const proves = (e: NeighEntry) => e.states.includes('REACHABLE') || (['DELAY', 'PROBE', 'STALE'].some((s) => e.states.includes(s)) && confirmed(e));
  return entries.filter((e) => e.mac !== null && proves(e)).map((e) => ({ mac: e.mac!, ip: e.ip }));
}

/**
 * Entries of addresses that just answered a ping, whatever their state. A ping sent while the entry
 * is STALE goes to the entry's MAC without a new ARP request and its reply confirms nothing in the
 * kernel; but only that MAC can have received it, so the reply is a sighting of it.
 */
export function answeredSightings(entries: NeighEntry[], replied: Set<string>): Sighting[] {
  return entries.filter((e) => e.mac !== null && replied.has(e.ip) && !e.states.includes('FAILED')).map((e) => ({ mac: e.mac!, ip: e.ip }));
}

/** Replies in arp-scan's output: "10.0.0.2<TAB>02:00:00:00:00:01<TAB>vendor" (header and footer ignored). */
export function parseArpScan(text: string): Sighting[] {
  const line = new RegExp(`^(${IPV4})\\s+(${MAC})(?:\\s|$)`, 'i');
  return dedupe(text.split('\n').flatMap((l) => {
    const m = line.exec(l.trim());
    return m ? [{ ip: m[1], mac: m[2].toLowerCase() }] : [];
  }));
}

/** Replies in (Habets') arping's output: "42 bytes from 02:00:00:00:00:01 (10.0.0.2): index=0 time=9 usec". */
export function parseArping(text: string): Sighting[] {
  const reply = new RegExp(`bytes from (${MAC}) \\((${IPV4})\\)`, 'gi');
  return dedupe([...text.matchAll(reply)].map((m) => ({ mac: m[1].toLowerCase(), ip: m[2] })));
}

/** The answer in ndisc6's output ("Target link-layer address: 02:00:..." then " from fe80::..."). */
export function parseNdisc6(text: string, target: string): Sighting[] {
  const mac = new RegExp(`Target link-layer address: (${MAC})`, 'i').exec(text)?.[1];
  if (!mac) return [];
  const from = /^\s*from (\S+)/m.exec(text)?.[1] ?? target;
  return [{ mac: mac.toLowerCase(), ip: from }];
}

export interface InterfaceInfo {
  name: string;
  up: boolean; // administratively up
  carrier: boolean; // link detected (LOWER_UP)
  ipv4: { address: string; prefix: number }[];
}

interface IpAddrJson {
  ifname?: string;
  flags?: string[];
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

/** The named interface in `ip -j addr show` output, or null when it is not listed. */
export function parseIpAddrJson(text: string, iface: string): InterfaceInfo | null {
  const links = JSON.parse(text || '[]') as IpAddrJson[];
  const link = Array.isArray(links) ? links.find((l) => l.ifname === iface) : undefined;
  if (!link) return null;
  const flags = link.flags ?? [];
  return {
    name: iface,
    up: flags.includes('UP'),
    carrier: flags.includes('LOWER_UP'),
    ipv4: (link.addr_info ?? [])
      .filter((a) => a.family === 'inet' && typeof a.local === 'string' && typeof a.prefixlen === 'number')
      .map((a) => ({ address: a.local!, prefix: a.prefixlen! })),
  };
}

function dedupe(sightings: Sighting[]): Sighting[] {
  const seen = new Set<string>();
  return sightings.filter((s) => {
    const key = `${s.mac} ${s.ip}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Merge sightings from several sources, keeping the first of each (MAC, address) pair. */
export function mergeSightings(...lists: Sighting[][]): Sighting[] {
  return dedupe(lists.flat());
}
