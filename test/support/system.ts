// System tests need root, Debian packages or network namespaces. Where they are missing the test
// reports "skipped: <reason>"; under CI=true (where .ci/run installs them) a missing prerequisite fails.
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Returns the reason the prerequisites are missing, or null when all are present. */
export function missing(opts: { root?: boolean; commands?: string[] }): string | null {
  if (opts.root && !isRoot()) return 'needs root';
  const absent = (opts.commands ?? []).filter((c) => !hasCommand(c));
  return absent.length ? `missing ${absent.join(', ')}` : null;
}

/** Call at the start of a system test; returns false when the test was skipped. */
export function requireSystem(t: TestContext, opts: { root?: boolean; commands?: string[] }): boolean {
  const why = missing(opts);
  if (!why) return true;
  if (process.env.CI === 'true') throw new Error(`prerequisite missing under CI: ${why}`);
  t.skip(`skipped: ${why}`);
  return false;
}
