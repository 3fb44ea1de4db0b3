// The presence scan's I/O. Runs ip, arp-scan, arping, ndisc6 and ping with argument arrays (no shell)
// and a timeout each, and turns their output into sightings with lib/neigh. A scan that cannot be made
// (interface missing or down, command missing, permission denied) throws a ScanError naming the cause:
// it is never read as "nobody home".
import { execFile, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import ping from 'ping';
import { cidrHosts, eui64LinkLocal, parseCidr, subnetOf } from '../../lib/iprange';
import { answeredSightings, freshSightings, mergeSightings, parseArping, parseArpScan, parseIpAddrJson, parseIpNeigh, parseNdisc6, type InterfaceInfo } from '../../lib/neigh';
import type { Sighting } from '../../lib/presence';

/** IPv4 sweep methods, best first: arp-scan and arping need CAP_NET_RAW; ping fills the kernel table. */
export type Method = 'arp-scan' | 'arping' | 'ping';
const METHODS: readonly Method[] = ['arp-scan', 'arping', 'ping'];

export class ScanError extends Error {
  name = 'ScanError';
}

/** The tool exists but may not open a raw socket: try the next method. */
class Denied extends ScanError {}

export interface ScanRequest {
  iface: string;
  range: string | null; // CIDR; null: the interface's subnet
  ipv6: boolean;
  macs: string[]; // every configured MAC (IPv6 candidates)
  known: Sighting[]; // last sightings, probed directly (unicast)
  freshSec: number; // a DELAY/PROBE neighbour entry confirmed this long before the scan still counts
}

export interface ScanResult {
  sightings: Sighting[];
  method: Method | null; // null when IPv4 was not swept (IPv6 only)
  hosts: number; // IPv4 addresses swept
  ms: number;
}

export interface ScannerOptions {
  methods?: readonly Method[]; // restrict or reorder (benchmarks, tests)
  notice?: (text: string) => void; // a method found unusable, a fallback taken
}

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

const DENIED = /permission|not permitted|CAP_NET_RAW|run as root/i;
const MAX_FRESH_SEC = 30;
const CONCURRENCY = 64; // arping/ping/ndisc6 processes at a time
const LINK_DOWN = /\bis down\b|network is down/i;
const NO_DEVICE = /no such device|does not exist|cannot find device|name or service not known/i;
// Debian keeps arp-scan and arping in /usr/sbin, which an ordinary user's PATH may lack.
const EXTRA_PATH = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

function findCommand(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_PATH];
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not in this directory
    }
  }
  return null;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() || 'no message';
}

export class Scanner {
  private readonly methods: readonly Method[];
  private readonly notice: (text: string) => void;
  private readonly denied = new Set<Method>();
  private readonly children = new Set<ChildProcess>();
  private closed = false;

  constructor(opts: ScannerOptions = {}) {
    this.methods = opts.methods ?? METHODS;
    this.notice = opts.notice ?? (() => {});
  }

  /** Stop: kill running commands and refuse new ones. (ping's own children end by their 1 s deadline.) */
  close(): void {
    this.closed = true;
    for (const child of this.children) child.kill('SIGKILL');
    this.children.clear();
  }

  async scan(req: ScanRequest): Promise<ScanResult> {
    const started = Date.now();
    const info = await this.interfaceInfo(req.iface);
    const range = req.range ?? (info.ipv4[0] ? subnetOf(info.ipv4[0].address, info.ipv4[0].prefix) : null);
    if (!range && !req.ipv6) throw new ScanError(`interface "${req.iface}" has no IPv4 address: set a range or turn IPv6 on`);
    // Capped below the 60 s by which the kernel back-dates a neighbour it never confirmed.
    const fresh = () => Math.min(req.freshSec + Math.ceil((Date.now() - started) / 1000), MAX_FRESH_SEC);
    const [v4, v6] = await Promise.all([
      range ? this.scan4(req, range, info, fresh) : null,
      req.ipv6 ? this.scan6(req, fresh) : [],
    ]);
    return { sightings: mergeSightings(v4?.sightings ?? [], v6), method: v4?.method ?? null, hosts: v4?.hosts ?? 0, ms: Date.now() - started };
  }

  private async interfaceInfo(iface: string): Promise<InterfaceInfo> {
    const out = await this.run('ip', ['-j', 'addr', 'show', 'dev', iface], 5000);
    if (out.code !== 0 && !NO_DEVICE.test(out.stderr)) throw new ScanError(`ip addr show dev ${iface}: ${firstLine(out.stderr)}`);
    const info = out.code === 0 ? parseIpAddrJson(out.stdout, iface) : null;
    if (!info) throw new ScanError(`interface "${iface}" not found`);
    if (!info.up) throw new ScanError(`interface "${iface}" is down`);
    if (!info.carrier) throw new ScanError(`interface "${iface}" has no link (cable or Wi-Fi disconnected)`);
    return info;
  }

  private async scan4(req: ScanRequest, range: string, info: InterfaceInfo, fresh: () => number) {
    const cidr = (() => {
      try {
        return parseCidr('range', range);
      } catch (err) {
        throw new ScanError(`${(err as Error).message}${req.range ? '' : ` (the subnet of ${req.iface}): set a smaller range`}`);
      }
    })();
    const own = new Set(info.ipv4.map((a) => a.address));
    const targets = cidrHosts(cidr).filter((ip) => !own.has(ip));
    const known = req.known.filter((s) => s.ip.includes('.'));
    const replied = new Set<string>(); // addresses that answered a ping in this scan
    const [swept, probed] = await Promise.all([this.sweep4(req.iface, range, targets, known, replied), this.probeKnown4(req.iface, known, replied)]);
    const table = await this.run('ip', ['-4', '-s', 'neigh', 'show', 'dev', req.iface], 5000);
    if (table.code !== 0) throw new ScanError(`ip neigh: ${firstLine(table.stderr)}`);
    const entries = parseIpNeigh(table.stdout);
    return { method: swept.method, hosts: targets.length, sightings: mergeSightings(swept.sightings, probed, freshSightings(entries, fresh()), answeredSightings(entries, replied)) };
  }

  private async sweep4(iface: string, range: string, targets: string[], known: Sighting[], replied: Set<string>): Promise<{ method: Method; sightings: Sighting[] }> {
    const reasons: string[] = [];
    for (const method of this.methods) {
      if (this.denied.has(method)) {
        reasons.push(`${method} not permitted`);
        continue;
      }
      if (!findCommand(method)) {
        reasons.push(`${method} not installed`);
        continue;
      }
      try {
        if (method === 'arp-scan') {
          // Known addresses outside the range are asked too.
          const extra = known.map((s) => s.ip).filter((ip) => !targets.includes(ip));
          return { method, sightings: await this.arpScan(iface, [range, ...extra]) };
        }
        if (method === 'arping') return { method, sightings: (await this.pool(targets, (ip) => this.arping(iface, ip))).flat() };
        await this.pingSweep(targets, replied);
        return { method, sightings: [] }; // the kernel table, read next, holds the answers
      } catch (err) {
        if (!(err instanceof Denied)) throw err;
        this.denied.add(method);
        reasons.push(err.message);
        this.notice(`${err.message}; trying the next method`);
      }
    }
    throw new ScanError(`no usable scan method (${reasons.join('; ')})`);
  }

  /** Unicast ARP to each device's last address and MAC: a dozing phone may skip broadcasts. */
  private async probeKnown4(iface: string, known: Sighting[], replied: Set<string>): Promise<Sighting[]> {
    const useArping = this.methods.includes('arping') && !this.denied.has('arping') && findCommand('arping') !== null;
    if (useArping) {
      try {
        return (await this.pool(known, (s) => this.arping(iface, s.ip, s.mac))).flat();
      } catch (err) {
        if (!(err instanceof Denied)) throw err;
        this.denied.add('arping');
        this.notice(`${err.message}; probing known addresses with ping`);
      }
    }
    // ping makes the kernel resolve (or re-probe, unicast) the address; the table shows the answer.
    await this.pingSweep(known.map((s) => s.ip), replied);
    return [];
  }

  private async arpScan(iface: string, targets: string[]): Promise<Sighting[]> {
    const out = await this.run('arp-scan', ['--interface', iface, '--retry=2', '--timeout=300', '--plain', '--numeric', ...targets], 60_000);
    if (out.code !== 0) this.fail('arp-scan', iface, out);
    return parseArpScan(out.stdout);
  }

  private async arping(iface: string, ip: string, mac?: string): Promise<Sighting[]> {
    // Two requests half a second apart, stop at the first reply; exit code 1 only means "no reply".
    const target = mac ? ['-t', mac] : [];
    const out = await this.run('arping', ['-i', iface, ...target, '-C', '1', '-c', '2', '-W', '0.5', '-w', '1.5', ip], 10_000);
    if (out.code > 1 || (out.code === 1 && out.stderr.trim())) this.fail('arping', iface, out);
    return parseArping(out.stdout);
  }

  private async pingSweep(targets: string[], replied: Set<string>): Promise<void> {
    if (!findCommand('ping')) throw new ScanError('ping: command not found');
    await this.pool(targets, async (ip) => {
      if (this.closed) throw new ScanError('scanner closed');
      const res = await ping.promise.probe(ip, { timeout: 1, deadline: 1, min_reply: 1 });
      if (DENIED.test(res.output)) throw new Denied('ping not permitted (needs CAP_NET_RAW or net.ipv4.ping_group_range)');
      if (res.alive) replied.add(ip);
    });
  }

  private async scan6(req: ScanRequest, fresh: () => number): Promise<Sighting[]> {
    if (!findCommand('ndisc6')) throw new ScanError('ndisc6: command not found (install ndisc6, or turn IPv6 off)');
    // Everyone who answers the all-nodes ping solicits our address, which puts their MAC in the table.
    const all = await this.run('ping', ['-6', '-n', '-w', '2', `ff02::1%${req.iface}`], 10_000);
    if (all.code > 1) this.fail('ping -6', req.iface, all);
    const table = await this.run('ip', ['-6', '-s', 'neigh', 'show', 'dev', req.iface], 5000);
    if (table.code !== 0) throw new ScanError(`ip -6 neigh: ${firstLine(table.stderr)}`);
    const entries = parseIpNeigh(table.stdout);
    const macs = new Set(req.macs);
    const candidates = new Set([
      ...entries.filter((e) => e.mac !== null && macs.has(e.mac)).map((e) => e.ip),
      ...req.macs.map(eui64LinkLocal),
      ...req.known.filter((s) => s.ip.includes(':')).map((s) => s.ip),
    ]);
    const answers = await this.pool([...candidates], async (ip) => {
      const out = await this.run('ndisc6', ['-1', '-r', '2', '-w', '400', ip, req.iface], 5000);
      if (out.code === 1) this.fail('ndisc6', req.iface, out);
      return parseNdisc6(out.stdout, ip);
    });
    return mergeSightings(answers.flat(), freshSightings(entries, fresh()));
  }

  private fail(cmd: string, iface: string, out: Output): never {
    const text = `${out.stderr}\n${out.stdout}`;
    if (DENIED.test(text)) throw new Denied(`${cmd} not permitted (needs CAP_NET_RAW)`);
    if (NO_DEVICE.test(text)) throw new ScanError(`interface "${iface}" not found (${cmd})`);
    if (LINK_DOWN.test(text)) throw new ScanError(`interface "${iface}" is down (${cmd})`);
    throw new ScanError(`${cmd} failed (exit ${out.code}): ${firstLine(out.stderr || out.stdout)}`);
  }

  /** Run fn over items, at most `concurrency` at a time; the first failure stops new starts. */
  private async pool<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<R[]> {
    const results: R[] = [];
    let next = 0;
    let failed = false;
    const worker = async () => {
      while (!failed && next < items.length) {
        const i = next++;
        try {
          results[i] = await fn(items[i]);
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
    return results;
  }

  private run(cmd: string, args: string[], timeoutMs: number): Promise<Output> {
    if (this.closed) return Promise.reject(new ScanError('scanner closed'));
    const file = findCommand(cmd);
    if (!file) return Promise.reject(new ScanError(`${cmd}: command not found`));
    return new Promise((resolve, reject) => {
      const child = execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
        this.children.delete(child);
        if (this.closed) reject(new ScanError('scanner closed'));
        else if (!err) resolve({ code: 0, stdout, stderr });
        else if (typeof err.code === 'number') resolve({ code: err.code, stdout, stderr });
        else if (err.killed) reject(new ScanError(`${cmd} timed out after ${timeoutMs} ms`));
        else reject(new ScanError(`${cmd}: ${err.message}`));
      });
      this.children.add(child);
    });
  }
}
