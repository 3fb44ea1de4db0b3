// A test LAN made of network namespaces: one bridge namespace and one namespace per host, joined by
// veth pairs with fixed MACs. Nothing touches the machine's own interfaces; the test process reaches
// services inside the LAN through Unix sockets (see ns-proxy), which network namespaces do not isolate.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

function ip(...args: string[]): string {
  return execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

export interface HostSpec {
  mac: string;
  /** Last octet of the host's IPv4 address; omit for an IPv6-only (link-local) host. */
  octet?: number;
  /** Ignore ICMP echo, as a sleeping phone does. */
  ignorePing?: boolean;
}

export class Lan {
  readonly bridgeNs: string;
  private readonly hosts = new Map<string, HostSpec & { ns: string; veth: string }>();
  private readonly children = new Set<ChildProcess>();

  /** `prefix` names every namespace and interface (keep it ≤ 6 characters); `subnet` like "10.213.0". */
  constructor(
    readonly prefix: string,
    readonly subnet: string,
  ) {
    this.bridgeNs = `${prefix}-br`;
  }

  /** Remove namespaces left behind by an earlier, interrupted run with the same prefix. */
  static cleanup(prefix: string): void {
    for (const line of ip('netns', 'list').split('\n')) {
      const name = line.split(' ')[0];
      if (name.startsWith(`${prefix}-`)) ip('netns', 'del', name);
    }
  }

  create(): void {
    Lan.cleanup(this.prefix);
    ip('netns', 'add', this.bridgeNs);
    ip('-n', this.bridgeNs, 'link', 'set', 'lo', 'up');
    ip('-n', this.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', this.bridgeNs, 'link', 'set', 'br0', 'up');
  }

  ns(host: string): string {
    const h = this.hosts.get(host);
    if (!h) throw new Error(`no host ${host} in the test LAN`);
    return h.ns;
  }

  address(host: string): string {
    const h = this.hosts.get(host);
    if (h?.octet === undefined) throw new Error(`host ${host} has no IPv4 address`);
    return `${this.subnet}.${h.octet}`;
  }

  addHost(name: string, spec: HostSpec): string {
    const ns = `${this.prefix}-${name}`;
    const veth = `${this.prefix}${this.hosts.size}`;
    ip('netns', 'add', ns);
    this.hosts.set(name, { ...spec, ns, veth });
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', this.bridgeNs, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    // Neighbour entries age quickly, so absent hosts are noticed in seconds, not minutes; no DAD delay
    // for link-local addresses after a link comes back.
    this.sysctl(ns, 'net.ipv4.neigh.eth0.base_reachable_time_ms=5000', 'net.ipv4.neigh.eth0.delay_first_probe_time=1', 'net.ipv6.conf.eth0.accept_dad=0');
    ip('-n', this.bridgeNs, 'link', 'set', veth, 'master', 'br0');
    ip('-n', this.bridgeNs, 'link', 'set', veth, 'up');
    ip('-n', ns, 'link', 'set', 'eth0', 'address', spec.mac);
    if (spec.octet !== undefined) ip('-n', ns, 'addr', 'add', `${this.subnet}.${spec.octet}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    if (spec.ignorePing) this.sysctl(ns, 'net.ipv4.icmp_echo_ignore_all=1', 'net.ipv6.icmp.echo_ignore_all=1');
    return ns;
  }

  private sysctl(ns: string, ...settings: string[]): void {
    for (const s of settings) execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', s], { stdio: 'ignore' });
  }

  /** Cut or restore a host's cable (its bridge-side veth). */
  link(host: string, up: boolean): void {
    const h = this.hosts.get(host)!;
    ip('-n', this.bridgeNs, 'link', 'set', h.veth, up ? 'up' : 'down');
  }

  exec(host: string, cmd: string[]): string {
    return execFileSync('ip', ['netns', 'exec', this.ns(host), ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  }

  /** Start a long-running process inside a host; it is killed by destroy(). */
  spawn(host: string, cmd: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns(host), ...cmd], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  destroy(): void {
    for (const child of this.children) child.kill('SIGKILL');
    for (const h of this.hosts.values()) {
      try {
        ip('netns', 'del', h.ns);
      } catch {
        /* already gone */
      }
    }
    try {
      ip('netns', 'del', this.bridgeNs);
    } catch {
      /* already gone */
    }
    this.hosts.clear();
    Lan.cleanup(this.prefix);
  }
}
