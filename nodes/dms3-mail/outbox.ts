// The durable outbox: one JSON file per unsent mail plus one side file per attachment, in a directory
// of the node's own. Every file is written to a temporary name, synced and renamed, so a crash leaves
// either the whole mail or nothing; side files without their JSON are leftovers and are removed.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutgoingMail } from '../../lib/mail/compose';
import type { Recipient } from '../../lib/mail/options';
import { syncDirectory } from '../shared/sync-dir';
import type { JournalEntry } from './journal';

export interface StoredMail {
  version: 1;
  id: string;
  createdAt: number;
  attempts: number;
  lastError: string | null;
  to: Recipient[];
  subject: string;
  html: string;
  text: string;
  attachments: { filename: string; contentType: string; cid?: string; file: string }[];
  meta: OutgoingMail['meta'];
}

const ID = /^[0-9a-z]+-[0-9a-f]{8}$/;

async function writeAtomic(path: string, data: string | Buffer): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

export class Outbox {
  constructor(readonly dir: string) {}

  /** The absolute path of a stored attachment. */
  file(name: string): string {
    return join(this.dir, name);
  }

  async put(mail: OutgoingMail, now = Date.now()): Promise<StoredMail> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // Time first, so names sort by age; the random part keeps two mails in one millisecond apart.
    const id = `${now.toString(36).padStart(9, '0')}-${randomBytes(4).toString('hex')}`;
    const attachments: StoredMail['attachments'] = [];
    for (const [i, a] of mail.attachments.entries()) {
      const file = `${id}.${i}.bin`;
      await writeAtomic(this.file(file), a.content);
      attachments.push({ filename: a.filename, contentType: a.contentType, ...(a.cid ? { cid: a.cid } : {}), file });
    }
    const stored: StoredMail = {
      version: 1,
      id,
      createdAt: now,
      attempts: 0,
      lastError: null,
      to: mail.to,
      subject: mail.subject,
      html: mail.html,
      text: mail.text,
      attachments,
      meta: mail.meta,
    };
    await writeAtomic(this.file(`${id}.json`), JSON.stringify(stored));
    // The rename itself must survive a crash: the events in this mail are finished once it is stored.
    await syncDirectory(this.dir);
    return stored;
  }

  /** The events of the mails kept here (waiting or failed), read at once so a restart knows them before any input. */
  mailedSync(): JournalEntry[] {
    const found: JournalEntry[] = [];
    for (const dir of [this.dir, join(this.dir, 'failed')]) {
      let names: string[];
      try {
        names = readdirSync(dir).filter((n) => n.endsWith('.json'));
      } catch {
        continue;
      }
      for (const name of names) {
        try {
          const m = JSON.parse(readFileSync(join(dir, name), 'utf8')) as StoredMail;
          if (m.meta.key && Array.isArray(m.meta.events)) found.push({ at: m.createdAt, key: m.meta.key, agent: m.meta.agent, camera: m.meta.camera, ids: m.meta.events });
        } catch {
          // unreadable: list() leaves it for inspection
        }
      }
    }
    return found;
  }

  /** Rewrite a mail's record (attempts, last error). */
  async update(mail: StoredMail): Promise<void> {
    await writeAtomic(this.file(`${mail.id}.json`), JSON.stringify(mail));
  }

  async exists(mail: StoredMail): Promise<boolean> {
    return access(this.file(`${mail.id}.json`)).then(
      () => true,
      () => false,
    );
  }

  /** Delete a sent mail: the record first, so a crash in between leaves only leftovers, never a half mail. */
  async remove(mail: StoredMail): Promise<void> {
    await removeQuietly(this.file(`${mail.id}.json`));
    for (const a of mail.attachments) await removeQuietly(this.file(a.file));
  }

  /** Move a mail given up into failed/ (kept for inspection, never retried). */
  async fail(mail: StoredMail): Promise<void> {
    const failed = join(this.dir, 'failed');
    await mkdir(failed, { recursive: true, mode: 0o700 });
    for (const a of mail.attachments) await rename(this.file(a.file), join(failed, a.file)).catch(() => undefined);
    await writeAtomic(join(failed, `${mail.id}.json`), JSON.stringify(mail));
    await removeQuietly(this.file(`${mail.id}.json`));
  }

  /** Every stored mail, oldest first; temporary files and orphaned attachments are cleaned up. */
  async list(): Promise<StoredMail[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const mails: StoredMail[] = [];
    const ids = new Set<string>();
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      const id = name.slice(0, -'.json'.length);
      if (!ID.test(id)) continue;
      try {
        const m = JSON.parse(await readFile(this.file(name), 'utf8')) as StoredMail;
        if (m.version === 1 && m.id === id) {
          mails.push(m);
          ids.add(id);
        }
      } catch {
        // A record that cannot be read is left alone for inspection.
        ids.add(id);
      }
    }
    for (const name of names) {
      const id = name.split('.')[0];
      if (name.endsWith('.tmp') || (name.endsWith('.bin') && ID.test(id) && !ids.has(id))) await removeQuietly(this.file(name));
    }
    return mails.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }
}
