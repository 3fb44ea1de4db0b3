// What an agent tells the hub about its machine. The media file count is refreshed at each report
// (one directory walk) and served from a cache in between.
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { prettyName } from '../lib/os-release';
import type { Health } from '../lib/protocol';
import type { Logger } from './log';

export type SystemHealth = Pick<Health, 'hostname' | 'platform' | 'osRelease' | 'arch' | 'kernel' | 'uptime' | 'agentVersion'>;

let version: string | undefined;
/** The package version, read from package.json (two levels above dist/agent/). */
export function agentVersion(): string {
  if (version === undefined) {
    try {
      version = String((JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: unknown }).version ?? 'unknown');
    } catch {
      version = 'unknown';
    }
  }
  return version;
}

/** PRETTY_NAME from os-release, e.g. "Raspbian GNU/Linux 12 (bookworm)". */
export function osRelease(file = '/etc/os-release'): string {
  try {
    const name = prettyName(readFileSync(file, 'utf8'));
    if (name) return name;
  } catch {
    // not Linux, or no os-release
  }
  return `${os.type()} ${os.release()}`.slice(0, 256);
}

let release: string | undefined;
export function systemHealth(): SystemHealth {
  release ??= osRelease();
  return {
    hostname: os.hostname().slice(0, 256),
    platform: os.platform(),
    osRelease: release,
    arch: os.arch(),
    kernel: os.release().slice(0, 256),
    uptime: Math.floor(os.uptime()),
    agentVersion: agentVersion(),
  };
}

/** Counts the files Motion wrote under its media directory (subfolders included). */
export class MediaCounter {
  private count = 0;
  private pending: Promise<number> | null = null;
  private warned = false;

  constructor(
    private readonly dir: string | undefined,
    private readonly log?: Logger,
  ) {}

  get value(): number {
    return this.count;
  }

  refresh(): Promise<number> {
    if (!this.dir) return Promise.resolve(0);
    const dir = this.dir;
    this.pending ??= readdir(dir, { recursive: true, withFileTypes: true })
      .then((entries) => (this.count = entries.filter((e) => e.isFile()).length))
      .catch((err: Error) => {
        // Missing or unreadable: say so once, keep the last count.
        if (!this.warned) this.log?.warn(`media_dir ${JSON.stringify(dir)}: ${err.message}`);
        this.warned = true;
        return this.count;
      })
      .finally(() => (this.pending = null));
    return this.pending;
  }
}
