// A small LAN of network namespaces for the presence scan's system tests and benchmark: a bridge in a
// namespace of its own, one namespace per host (veth pair to the bridge, fixed MAC, optional IPv4).
// Nothing here touches the machine's own interfaces; every name starts with the caller's prefix.
import { execFileSync } from 'node:child_process';

export interface HostSpec {
  name: string; // namespace `${prefix}-${name}`; at most 10 characters
  mac: string;
  ipv4?: string; // with /24; absent: IPv6 link-local only
  asleep?: boolean; // ignores ping (IPv4 and IPv6), still answers ARP and ND, like a dozing phone
  randomLinkLocal?: boolean; // link-local address not derived from the MAC
}

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

/** Delete every namespace whose name starts with `${prefix}-` (left over from an interrupted run). */
export function removeNamespaces(prefix: string): void {
  for (const line of ip(['netns', 'list']).split('\n')) {
    const name = line.split(' ')[0];
    if (name.startsWith(`${prefix}-`)) ip(['netns', 'delete', name]);
  }
}

export class NamespaceLan {
  readonly bridge: string;
  private readonly created: string[] = [];

  constructor(readonly prefix: string) {
    this.bridge = `${prefix}-lan`;
  }

  ns(host: string): string {
    return `${this.prefix}-${host}`;
  }

  create(hosts: HostSpec[]): void {
    removeNamespaces(this.prefix);
    this.addNamespace(this.bridge);
    ip(['-n', this.bridge, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', this.bridge, 'link', 'set', 'br0', 'up']);
    for (const h of hosts) this.addHost(h);
  }

  private addNamespace(name: string): void {
    ip(['netns', 'add', name]);
    this.created.push(name);
    ip(['-n', name, 'link', 'set', 'lo', 'up']);
  }

  private addHost(h: HostSpec): void {
    const ns = this.ns(h.name);
    this.addNamespace(ns);
    // No duplicate address detection: a link-local address is usable at once, also after link up.
    this.exec(h.name, 'sysctl', ['-qw', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0']);
    ip(['link', 'add', `v${h.name}`, 'netns', this.bridge, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    ip(['-n', this.bridge, 'link', 'set', `v${h.name}`, 'master', 'br0', 'up']);
    ip(['-n', ns, 'link', 'set', 'eth0', 'address', h.mac]);
    if (h.randomLinkLocal) ip(['-n', ns, 'link', 'set', 'eth0', 'addrgenmode', 'random']);
    if (h.asleep) this.exec(h.name, 'sysctl', ['-qw', 'net.ipv4.icmp_echo_ignore_all=1', 'net.ipv6.icmp.echo_ignore_all=1']);
    if (h.ipv4) ip(['-n', ns, 'addr', 'add', `${h.ipv4}/24`, 'dev', 'eth0']);
    ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
  }

  link(host: string, state: 'up' | 'down'): void {
    ip(['-n', this.ns(host), 'link', 'set', 'eth0', state]);
  }

  /** Run a command inside a host's namespace; returns stdout, throws on a non-zero exit. */
  exec(host: string, cmd: string, args: string[], timeout = 10_000): string {
    return execFileSync('ip', ['netns', 'exec', this.ns(host), cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout });
  }

  destroy(): void {
    for (const name of this.created.reverse()) {
      try {
        ip(['netns', 'delete', name]);
      } catch {
        // already gone
      }
    }
    this.created.length = 0;
  }
}
