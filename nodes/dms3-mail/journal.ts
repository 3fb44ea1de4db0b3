// What dms3-mail has put into mails, kept across restarts: one JSON line per mail (when, which event,
// which messages by id), synced before the inputs it carries complete. After a restart it tells which
// events (delivered again by the hub) are already in a mail, and it rebuilds the cooldowns and the
// day's count. Lines older than RETAIN_MS are dropped when the journal is opened.
import { closeSync, fdatasyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MailedBefore } from '../../lib/mail/aggregate';

// Longer than the hub keeps an unfinished event (7 days by default), so a late replay is still known.
export const RETAIN_MS = 8 * 24 * 3600 * 1000;

export interface JournalEntry extends MailedBefore {
  ids: string[];
}

function parse(line: string): JournalEntry | null {
  try {
    const e = JSON.parse(line) as JournalEntry;
    const ok = Number.isFinite(e.at) && typeof e.key === 'string' && typeof e.agent === 'string' && typeof e.camera === 'string' && Array.isArray(e.ids);
    return ok ? e : null;
  } catch {
    return null; // a line a crash cut short
  }
}

export class MailJournal {
  private readonly kept: JournalEntry[] = [];
  private readonly ids = new Set<string>();
  private fd: number | null = null;

  /** Reads and compacts the journal; `alsoMailed` are entries known otherwise (the outbox's mails). */
  constructor(
    file: string,
    alsoMailed: readonly JournalEntry[] = [],
    now = Date.now(),
  ) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const entries = text.split('\n').map(parse).filter((e) => e !== null);
    // A mail stored just before a crash may be in the outbox without its journal line.
    const known = new Set(entries.flatMap((e) => e.ids));
    for (const m of alsoMailed) if (m.ids.some((id) => !known.has(id))) entries.push(m);
    for (const e of entries.sort((a, b) => a.at - b.at)) if (now - e.at <= RETAIN_MS) this.remember(e);
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, this.kept.map((e) => `${JSON.stringify(e)}\n`).join(''), { mode: 0o600 });
    renameSync(tmp, file);
    this.fd = openSync(file, 'a');
  }

  private remember(e: JournalEntry): void {
    this.kept.push(e);
    for (const id of e.ids) this.ids.add(id);
  }

  /** The mails of earlier runs, oldest first. */
  list(): readonly JournalEntry[] {
    return this.kept;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** Records a mail durably; throws when the disk refuses (the caller logs it: the mail itself is stored). */
  add(e: JournalEntry): void {
    this.remember(e);
    if (this.fd === null) return;
    writeSync(this.fd, `${JSON.stringify(e)}\n`);
    fdatasyncSync(this.fd);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
