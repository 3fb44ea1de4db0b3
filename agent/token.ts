// What the daemon (agent/config.ts) and the hook (agent/hook-config.ts) share about files they read:
// the token's one resolution (DMS3_TOKEN, then token_file, then token), and bounded reads, so that a
// config or token file can never be a FIFO that blocks, a device that never ends, or gigabytes.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

export const MAX_CONFIG_BYTES = 1024 * 1024;
export const MAX_TOKEN_FILE_BYTES = 4096;
/** YAML aliases (*name) expanded at most this many times: a config needs a handful, a "billion laughs" millions. */
export const MAX_ALIAS_COUNT = 50;

/** A problem with one key of the config; never carries a secret's value. */
export class KeyProblem extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads a regular file of at most `max` bytes. Opened non-blocking (a FIFO without a writer would
 * block the open), checked on the descriptor (no race with a swapped path), read at most max+1 bytes.
 * Errors are short texts without the path: "not a regular file", "ENOENT", "larger than 4 KB".
 */
export function readSmallFile(path: string, max: number): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw new Error((err as NodeJS.ErrnoException).code ?? (err as Error).message, { cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    const limit = `larger than ${max >= 1024 * 1024 ? `${max / 1024 / 1024} MB` : `${max / 1024} KB`}`;
    if (st.size > max) throw new Error(limit);
    const buf = Buffer.alloc(max + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n <= max; n += got) got = readSync(fd, buf, n, buf.length - n, null);
    if (n > max) throw new Error(limit); // it grew while we read
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** DMS3_TOKEN wins over token_file, which wins over token. Null: none given. Throws KeyProblem. */
export function resolveToken(keys: { token?: unknown; token_file?: unknown }, env: NodeJS.ProcessEnv): string | null {
  const fromEnv = (env.DMS3_TOKEN ?? '').trim();
  if (fromEnv) return fromEnv;
  if (keys.token_file !== undefined) {
    const file = keys.token_file;
    if (typeof file !== 'string' || !file.trim()) throw new KeyProblem('token_file', 'must be a file path');
    let text: string;
    try {
      text = readSmallFile(file.trim(), MAX_TOKEN_FILE_BYTES);
    } catch (err) {
      throw new KeyProblem('token_file', `${JSON.stringify(file)}: cannot read: ${(err as Error).message}`);
    }
    const token = text.trim();
    if (!token) throw new KeyProblem('token_file', `${JSON.stringify(file)}: the file is empty`);
    return token;
  }
  if (keys.token !== undefined) {
    // The value is a secret: name the key, never echo what was written.
    if (typeof keys.token !== 'string' || !keys.token.trim()) throw new KeyProblem('token', 'must be a text (the value is not shown: it is a secret)');
    return keys.token.trim();
  }
  return null;
}
