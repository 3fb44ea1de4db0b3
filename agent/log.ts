// Plain-text logging for journald or a file. Under systemd (JOURNAL_STREAM set) each line starts
// with a syslog priority "<N>" that journald turns into the entry's level; elsewhere lines carry an
// ISO timestamp. Secrets are redacted from every line before it is written.
import { createWriteStream, type WriteStream } from 'node:fs';

export const LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type Level = (typeof LEVELS)[number];

const PRIORITY: Record<Level, number> = { error: 3, warn: 4, info: 6, debug: 7 };
const REDACTED = '***';

export interface Logger {
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
}

export class Log implements Logger {
  private readonly secrets = new Set<string>();
  private stream: WriteStream | null = null;
  private readonly journal = Boolean(process.env.JOURNAL_STREAM);

  constructor(
    private level: Level = 'info',
    file?: string,
  ) {
    if (file) this.toFile(file);
  }

  setLevel(level: Level): void {
    this.level = level;
  }

  /** Route output to a file (appended); timestamps are always written there. */
  toFile(file: string): void {
    this.stream = createWriteStream(file, { flags: 'a', mode: 0o640 });
    this.stream.on('error', (err) => process.stderr.write(`dms3-agent: cannot write log file ${file}: ${err.message}\n`));
  }

  /** Never print this value (the token). */
  addSecret(secret: string): void {
    if (secret) this.secrets.add(secret);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join(REDACTED);
    return out
      .replace(/(authorization["']?\s*[:=]\s*["']?(?:bearer|basic)?\s*)[^\s"',}]+/gi, `$1${REDACTED}`)
      .replace(/(bearer\s+)[^\s"',}]+/gi, `$1${REDACTED}`);
  }

  error(msg: string): void {
    this.write('error', msg);
  }
  warn(msg: string): void {
    this.write('warn', msg);
  }
  info(msg: string): void {
    this.write('info', msg);
  }
  debug(msg: string): void {
    this.write('debug', msg);
  }

  async close(): Promise<void> {
    const s = this.stream;
    this.stream = null;
    if (s) await new Promise<void>((resolve) => s.end(resolve));
  }

  private write(level: Level, msg: string): void {
    if (LEVELS.indexOf(level) > LEVELS.indexOf(this.level)) return;
    const text = this.redact(msg).replace(/\n/g, '\n  ');
    if (this.stream) {
      this.stream.write(`${new Date().toISOString()} ${level.toUpperCase()} ${text}\n`);
    } else if (this.journal) {
      process.stdout.write(`<${PRIORITY[level]}>${text}\n`);
    } else {
      process.stdout.write(`${new Date().toISOString()} ${level.toUpperCase()} ${text}\n`);
    }
  }
}
