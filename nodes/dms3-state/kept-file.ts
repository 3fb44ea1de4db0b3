// The state node's own small file: written to a temporary name, synced, renamed over the old one, and
// the directory synced, so that a decision or override that was answered survives a kill or a power
// cut (Node-RED's context store flushes only every ~30 s). Synchronous on purpose: the state node
// answers and publishes only after the write, and changes of decision are rare.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export class KeptFile {
  constructor(readonly path: string) {}

  /** The parsed content, or undefined when there is no file yet. Throws on unreadable or bad JSON. */
  read(): unknown {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return JSON.parse(text) as unknown;
  }

  write(value: unknown): void {
    const dir = dirname(this.path);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(value)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd); // the rename itself is durable only once the directory is
    } finally {
      closeSync(dfd);
    }
  }
}
