// A rename is durable only once its directory is synced: the outbox and the event store both need that.
import { open } from 'node:fs/promises';

export async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
