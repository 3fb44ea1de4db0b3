// Address arithmetic for the presence scan: the IPv4 range to sweep (CIDR → host list, capped so a
// mistyped /16 cannot flood the LAN) and the IPv6 link-local address a MAC implies (EUI-64).
import { FieldError } from './errors';

/** The largest range a sweep accepts: a /22 is 1022 hosts. */
export const WIDEST_PREFIX = 22;

export interface Cidr {
  network: number; // unsigned 32-bit
  prefix: number;
}

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIPv4(field: string, text: unknown): number {
  const m = typeof text === 'string' ? DOTTED.exec(text.trim()) : null;
  const octets = m ? m.slice(1).map(Number) : [];
  if (!m || octets.some((o) => o > 255)) throw new FieldError(field, text, 'not an IPv4 address (e.g. 192.168.1.10)');
  return ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parse "a.b.c.d/n" (host bits are dropped); refuses ranges wider than /22. */
export function parseCidr(field: string, text: unknown): Cidr {
  const [addr, bits, extra] = typeof text === 'string' ? text.trim().split('/') : [];
  let address: number | null = null;
  try {
    address = parseIPv4(field, addr);
  } catch {
    // reported below, with the whole range as the value
  }
  if (address === null || bits === undefined || extra !== undefined || !/^\d{1,2}$/.test(bits) || Number(bits) > 32) {
    throw new FieldError(field, text, 'not an IPv4 range in CIDR notation (e.g. 192.168.1.0/24)');
  }
  const prefix = Number(bits);
  const network = (address & mask(prefix)) >>> 0;
  if (prefix < WIDEST_PREFIX) {
    throw new FieldError(field, text, `range too large to sweep: at most /${WIDEST_PREFIX} (${hostCount(WIDEST_PREFIX)} hosts)`);
  }
  return { network, prefix };
}

function hostCount(prefix: number): number {
  const size = 2 ** (32 - prefix);
  return prefix >= 31 ? size : size - 2;
}

/** The addresses a sweep probes: all but the network and broadcast address (a /31 or /32 keeps all). */
export function cidrHosts(cidr: Cidr): string[] {
  const first = cidr.prefix >= 31 ? 0 : 1;
  const hosts: string[] = [];
  for (let i = first; i < first + hostCount(cidr.prefix); i++) hosts.push(formatIPv4(cidr.network + i));
  return hosts;
}

/** The subnet an interface address lies in, as CIDR text: ("192.168.1.23", 24) → "192.168.1.0/24". */
export function subnetOf(address: string, prefix: number): string {
  return `${formatIPv4((parseIPv4('address', address) & mask(prefix)) >>> 0)}/${prefix}`;
}

export function inCidr(cidr: Cidr, address: string): boolean {
  return ((parseIPv4('address', address) & mask(cidr.prefix)) >>> 0) === cidr.network;
}

/** Canonical IPv6 text (RFC 5952) of eight 16-bit groups: lower case, longest zero run as "::". */
export function formatIPv6(groups: number[]): string {
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never compressed
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** The EUI-64 link-local address of a MAC: 02:00:00:00:00:01 → fe80::ff:fe00:1. */
export function eui64LinkLocal(mac: string): string {
  const b = mac.split(':').map((h) => parseInt(h, 16));
  b[0] ^= 0x02;
  return formatIPv6([0xfe80, 0, 0, 0, (b[0] << 8) | b[1], (b[2] << 8) | 0xff, 0xfe00 | b[3], (b[4] << 8) | b[5]]);
}
