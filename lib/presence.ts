// Presence debouncing: turns individual sightings of the family's phones into a stable
// home/away answer. A device is gone only after it has been unseen for the grace period in
// successful scans; before the tracker knows, it says "unknown" (null) rather than "away".
import { FieldError } from './errors';

export interface DeviceSpec {
  name: string;
  macs: string[];
}

export interface Sighting {
  mac: string; // normalised, lower case
  ip: string;
}

export interface DeviceReport {
  name: string;
  macs: string[];
  ip: string | null;
  present: boolean | null;
  lastSeen: string | null; // ISO 8601
}

export interface PresenceReport {
  home: boolean | null;
  devices: DeviceReport[];
}

const MAC = /^([0-9a-f]{2})([:-]?[0-9a-f]{2}){5}$/i;

export function normaliseMac(field: string, text: unknown): string {
  if (typeof text !== 'string' || !MAC.test(text.trim())) {
    throw new FieldError(field, text, 'not a MAC address (e.g. a4:5e:60:12:34:56)');
  }
  const hex = text.trim().toLowerCase().replace(/[:-]/g, '');
  return hex.match(/../g)!.join(':');
}

/** A locally administered (randomised, "private Wi-Fi address") MAC may change over time. */
export function isLocallyAdministered(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 0x02) !== 0;
}

export function parseDevices(specs: unknown): DeviceSpec[] {
  if (!Array.isArray(specs)) throw new FieldError('devices', specs, 'expected a list of { name, macs }');
  return specs.map((spec, i) => {
    const s = spec as Partial<DeviceSpec> | null;
    const name = typeof s?.name === 'string' ? s.name.trim() : '';
    if (!name) throw new FieldError(`devices[${i}].name`, s?.name, 'a device needs a name');
    const macs = typeof s?.macs === 'string' ? (s.macs as string).split(/[\s,;]+/).filter(Boolean) : s?.macs;
    if (!Array.isArray(macs) || macs.length === 0) throw new FieldError(`devices[${i}].macs`, s?.macs, 'a device needs at least one MAC address');
    return { name, macs: macs.map((m, j) => normaliseMac(`devices[${i}].macs[${j}]`, m)) };
  });
}

interface DeviceState {
  spec: DeviceSpec;
  last: Sighting | null;
  lastSeen: number | null;
  missedSince: number | null; // first successful scan that missed it since it was last seen
  present: boolean | null;
}

export class PresenceTracker {
  private readonly devices: DeviceState[];

  constructor(
    devices: DeviceSpec[],
    private readonly graceMs: number,
  ) {
    this.devices = devices.map((spec) => ({ spec, last: null, lastSeen: null, missedSince: null, present: null }));
  }

  /** The last sighting (MAC and address) of each device seen so far, to probe directly in the next scan. */
  knownAddresses(): Sighting[] {
    return this.devices.map((d) => d.last).filter((s): s is Sighting => s !== null);
  }

  /**
   * Apply the sightings of one successful scan. Returns true when the report changed.
   * A device is gone only once successful scans have missed it for `graceMs`, counted from the first
   * scan that missed it; failed scans are never applied, so a broken scanner, a restart or a gap
   * between scans cannot make anyone "away". Until then a device never seen stays unknown (null).
   */
  update(sightings: Sighting[], now: number): boolean {
    let changed = false;
    for (const d of this.devices) {
      const hit = sightings.find((s) => d.spec.macs.includes(s.mac));
      let present: boolean | null;
      if (hit) {
        d.last = { mac: hit.mac, ip: hit.ip };
        d.lastSeen = now;
        d.missedSince = null;
        present = true;
      } else {
        d.missedSince ??= now;
        present = now - d.missedSince >= this.graceMs ? false : d.present;
      }
      if (present !== d.present) {
        d.present = present;
        changed = true;
      }
    }
    return changed;
  }

  report(): PresenceReport {
    const devices = this.devices.map((d) => ({
      name: d.spec.name,
      macs: [...d.spec.macs],
      ip: d.last?.ip ?? null,
      present: d.present,
      lastSeen: d.lastSeen === null ? null : new Date(d.lastSeen).toISOString(),
    }));
    let home: boolean | null;
    if (devices.some((d) => d.present === true)) home = true;
    else if (devices.length > 0 && devices.every((d) => d.present === false)) home = false;
    else home = null;
    return { home, devices };
  }
}
