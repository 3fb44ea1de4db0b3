// Configuration of the LAN presence scan, checked once at deploy: every bad value is refused with a
// FieldError naming the field and the value, before any command runs.
import { FieldError } from './errors';
import { formatIPv4, parseCidr } from './iprange';
import { isLocallyAdministered, parseDevices, type DeviceSpec } from './presence';

export interface ScanConfig {
  devices: DeviceSpec[];
  iface: string;
  range: string | null; // null: the interface's subnet
  ipv6: boolean;
  intervalMs: number;
  graceMs: number;
}

export interface ScanConfigInput {
  devices?: unknown;
  iface?: unknown;
  range?: unknown;
  ipv6?: unknown;
  interval?: unknown; // seconds
  grace?: unknown; // seconds
}

export const DEFAULT_INTERVAL_S = 10;
export const DEFAULT_GRACE_S = 300;

// Linux interface names: at most 15 bytes; refusing a leading "-" keeps them from reading as options.
const IFACE = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,14}$/;

function seconds(field: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback * 1000;
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw new FieldError(field, value, `expected seconds from ${min} to ${max}`);
  return Math.round(n * 1000);
}

export function parseScanConfig(def: ScanConfigInput): ScanConfig {
  const devices = parseDevices(def.devices ?? []);
  const iface = typeof def.iface === 'string' ? def.iface.trim() : def.iface;
  if (typeof iface !== 'string' || !IFACE.test(iface)) throw new FieldError('iface', def.iface, 'not a network interface name (e.g. eth0 or wlan0)');
  let range: string | null = null;
  if (typeof def.range === 'string' && def.range.trim() !== '') {
    const cidr = parseCidr('range', def.range);
    range = `${formatIPv4(cidr.network)}/${cidr.prefix}`;
  } else if (def.range !== undefined && def.range !== null && def.range !== '') {
    throw new FieldError('range', def.range, 'not an IPv4 range in CIDR notation (e.g. 192.168.1.0/24)');
  }
  return {
    devices,
    iface,
    range,
    ipv6: def.ipv6 === true || def.ipv6 === 'true',
    intervalMs: seconds('interval', def.interval, DEFAULT_INTERVAL_S, 1, 3600),
    graceMs: seconds('grace', def.grace, DEFAULT_GRACE_S, 0, 86_400),
  };
}

/** Configured MACs that are locally administered ("private Wi-Fi address"), which may change. */
export function randomisedMacs(devices: DeviceSpec[]): { name: string; mac: string }[] {
  return devices.flatMap((d) => d.macs.filter(isLocallyAdministered).map((mac) => ({ name: d.name, mac })));
}
