// Dashboard sign-in. A session is a random id in the cookie and a record on the server, so "Sign out"
// ends it for good. The records (digests of the ids, never the ids) are kept in a small file under
// Node-RED's user directory, written atomically, so a redeploy or restart keeps people signed in; the
// file also holds a salted scrypt fingerprint of the secrets one signs in with, so changing the
// dashboard password or the hub token ends every session. Failed sign-ins are slowed hub-wide.
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname } from 'node:path';

export const COOKIE = 'dms3_session';
export const SESSION_MS = 30 * 24 * 3600 * 1000;
/** Live sessions kept at most; a new sign-in beyond this ends the oldest. */
export const MAX_SESSIONS = 100;
/**
 * A browser that has signed in gets a second cookie, "a known device": it opens nothing, but lets its
 * sign-ins pass the hub-wide limiter (with a few failures of its own), so a guesser cannot lock the
 * owner out. It outlives sign-out and ends with a change of secrets, like sessions.
 */
export const DEVICE_COOKIE = 'dms3_device';
export const DEVICE_MS = 365 * 24 * 3600 * 1000;
export const MAX_DEVICES = 20;
export const DEVICE_FAILURES = 5;
const FILE_LIMIT = 256 * 1024;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function cookieValue(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** The addresses whose X-Forwarded-* headers are believed (the reverse proxy); none by default. */
export class TrustedProxies {
  private readonly addresses: Set<string>;

  constructor(list: string | undefined) {
    this.addresses = new Set(
      (list ?? '')
        .split(/[\s,]+/)
        .filter((a) => a !== '')
        .map((a) => a.replace(/^::ffff:/, '')),
    );
  }

  private trusted(req: IncomingMessage): boolean {
    return this.addresses.has((req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''));
  }

  /** The client's address: the socket's, or the proxy's X-Forwarded-For (its last entry, which the proxy added). */
  client(req: IncomingMessage): string {
    const socket = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const forwarded = req.headers['x-forwarded-for'];
    if (!this.trusted(req) || typeof forwarded !== 'string') return socket;
    const last = forwarded.split(',').pop()!.trim().replace(/^::ffff:/, '');
    return /^[0-9A-Fa-f.:]{2,45}$/.test(last) ? last : socket;
  }

  /** Whether the request reached the hub over HTTPS (directly, or as a trusted proxy says). */
  https(req: IncomingMessage): boolean {
    if ((req.socket as { encrypted?: boolean }).encrypted === true) return true;
    return this.trusted(req) && req.headers['x-forwarded-proto'] === 'https';
  }
}

interface Stored {
  v: 1;
  /** scrypt of the secrets, so that a change of password or hub token ends every session. */
  salt: string;
  fingerprint: string;
  /** SHA-256 of each session id (hex) → when it expires (ms). */
  sessions: Record<string, number>;
  devices?: Record<string, number>;
}

export interface SessionOptions {
  /** The cookie's Path. */
  path: string;
  /** Where the sessions are kept across restarts; null: in memory only. */
  file?: string | null;
  lifetimeMs?: number;
  max?: number;
  proxies?: TrustedProxies;
  now?: () => number;
  /** Told when the file cannot be read or written (the sessions then live in memory only). */
  warn?: (msg: string) => void;
}

export class Sessions {
  private readonly secrets: Buffer[];
  private readonly secretText: string;
  /** Digest of the id (hex) → expiry, in issue order (oldest first). */
  private readonly live = new Map<string, number>();
  private readonly devices = new Map<string, number>();
  private readonly deviceFailures = new Map<string, number>();
  private salt = '';
  private fingerprint = '';
  private readonly lifetimeMs: number;
  private readonly max: number;
  private readonly now: () => number;
  readonly proxies: TrustedProxies;

  /** `secrets`: what a person may sign in with (the dashboard password, the hub token); empty ones are ignored. */
  constructor(
    secrets: string[],
    private readonly opts: SessionOptions,
  ) {
    const given = secrets.filter((s) => s !== '');
    this.secrets = given.map(digest);
    this.secretText = given.join('\0');
    this.lifetimeMs = opts.lifetimeMs ?? SESSION_MS;
    this.max = opts.max ?? MAX_SESSIONS;
    this.now = opts.now ?? Date.now;
    this.proxies = opts.proxies ?? new TrustedProxies(undefined);
    this.load();
  }

  /** Whether anybody can sign in at all. */
  get enabled(): boolean {
    return this.secrets.length > 0;
  }

  /** How many sessions are live. */
  get size(): number {
    this.prune();
    return this.live.size;
  }

  /** Compares against every secret (no early exit). */
  checkSecret(text: string): boolean {
    const d = digest(text);
    let ok = false;
    for (const s of this.secrets) if (timingSafeEqual(d, s)) ok = true;
    return ok;
  }

  /** A new session: its id, for the cookie. */
  issue(): string {
    return this.add(this.live, this.max, this.lifetimeMs);
  }

  verify(id: string | null): boolean {
    return this.holds(this.live, id);
  }

  /** Whether the request comes from a browser that signed in before (see DEVICE_COOKIE). */
  knownDevice(req: IncomingMessage): boolean {
    return this.holds(this.devices, cookieValue(req, DEVICE_COOKIE));
  }

  /** A failed sign-in from a known device; after DEVICE_FAILURES it is a stranger again. */
  deviceFailed(req: IncomingMessage): void {
    const id = cookieValue(req, DEVICE_COOKIE);
    if (!id || !this.holds(this.devices, id)) return;
    const k = this.key(id);
    const n = (this.deviceFailures.get(k) ?? 0) + 1;
    this.deviceFailures.set(k, n);
    if (n >= DEVICE_FAILURES) {
      this.devices.delete(k);
      this.deviceFailures.delete(k);
      this.save();
    }
  }

  private add(map: Map<string, number>, max: number, lifetimeMs: number): string {
    const id = randomBytes(32).toString('base64url');
    this.prune();
    while (map.size >= max) map.delete(map.keys().next().value!);
    map.set(this.key(id), this.now() + lifetimeMs);
    this.save();
    return id;
  }

  private holds(map: Map<string, number>, id: string | null): boolean {
    if (!this.enabled || !id || id.length > 100) return false;
    const expires = map.get(this.key(id));
    return expires !== undefined && expires > this.now();
  }

  /** Ends one session (nothing happens for an unknown id). */
  revoke(id: string | null): void {
    if (id && this.live.delete(this.key(id))) this.save();
  }

  /** Ends every session (and forgets every known device). */
  revokeAll(): void {
    this.live.clear();
    this.devices.clear();
    this.save();
  }

  /** Whether the request carries a live session cookie. */
  readonly check = (req: IncomingMessage): boolean => this.verify(cookieValue(req, COOKIE));

  signIn(req: IncomingMessage, res: ServerResponse): void {
    const cookies = [this.cookie(req, COOKIE, this.issue(), this.lifetimeMs)];
    const device = cookieValue(req, DEVICE_COOKIE);
    if (this.holds(this.devices, device)) this.deviceFailures.delete(this.key(device!));
    else cookies.push(this.cookie(req, DEVICE_COOKIE, this.add(this.devices, MAX_DEVICES, DEVICE_MS), DEVICE_MS));
    res.setHeader('Set-Cookie', cookies);
  }

  /** Ends the request's session on the server and clears the cookie. */
  signOut(req: IncomingMessage, res: ServerResponse): void {
    this.revoke(cookieValue(req, COOKIE));
    res.setHeader('Set-Cookie', this.cookie(req, COOKIE, '', 0));
  }

  private cookie(req: IncomingMessage, name: string, value: string, lifetimeMs: number): string {
    const attrs = [`${name}=${value}`, `Path=${this.opts.path}`, `Max-Age=${Math.floor(lifetimeMs / 1000)}`, 'HttpOnly', 'SameSite=Strict'];
    if (this.proxies.https(req)) attrs.push('Secure');
    return attrs.join('; ');
  }

  private key(id: string): string {
    return digest(id).toString('hex');
  }

  private prune(): void {
    const now = this.now();
    for (const map of [this.live, this.devices]) for (const [k, expires] of map) if (expires <= now) map.delete(k);
  }

  private fingerprintWith(salt: string): string {
    // scrypt, not a bare hash: the file must not help anyone guess the password offline.
    return scryptSync(this.secretText, Buffer.from(salt, 'hex'), 32).toString('hex');
  }

  /** Takes the sessions of the file if they were issued under the same secrets; otherwise starts empty. */
  private load(): void {
    const file = this.opts.file;
    let stored: Stored | null = null;
    if (file && this.enabled) {
      try {
        const text = readFileSync(file, 'utf8');
        if (text.length <= FILE_LIMIT) stored = JSON.parse(text) as Stored;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.warn?.(`dashboard sessions not restored (${(err as Error).message.split('\n')[0]}): everybody signs in again`);
      }
    }
    if (stored && stored.v === 1 && typeof stored.salt === 'string' && /^[0-9a-f]{32}$/.test(stored.salt) && typeof stored.fingerprint === 'string' && stored.sessions && typeof stored.sessions === 'object') {
      const expected = Buffer.from(this.fingerprintWith(stored.salt));
      const given = Buffer.from(stored.fingerprint);
      if (given.length === expected.length && timingSafeEqual(given, expected)) {
        this.salt = stored.salt;
        this.fingerprint = stored.fingerprint;
        const now = this.now();
        const restore = (map: Map<string, number>, from: unknown, max: number) => {
          if (!from || typeof from !== 'object') return;
          const entries = Object.entries(from as Record<string, unknown>)
            .filter((kv): kv is [string, number] => /^[0-9a-f]{64}$/.test(kv[0]) && typeof kv[1] === 'number' && kv[1] > now)
            .sort((a, b) => a[1] - b[1])
            .slice(-max);
          for (const [k, e] of entries) map.set(k, e);
        };
        restore(this.live, stored.sessions, this.max);
        restore(this.devices, stored.devices, MAX_DEVICES);
      }
    }
    if (!this.fingerprint) {
      // New secrets (or none kept): every earlier session ends, and the file says so at once.
      this.salt = randomBytes(16).toString('hex');
      this.fingerprint = this.enabled ? this.fingerprintWith(this.salt) : '';
      if (file && this.enabled) this.save();
    }
  }

  private save(): void {
    const file = this.opts.file;
    if (!file) return;
    const stored: Stored = { v: 1, salt: this.salt, fingerprint: this.fingerprint, sessions: Object.fromEntries(this.live), devices: Object.fromEntries(this.devices) };
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(tmp, JSON.stringify(stored), { mode: 0o600 });
      renameSync(tmp, file);
    } catch (err) {
      this.opts.warn?.(`dashboard sessions not kept on disk (${(err as Error).message.split('\n')[0]}): a restart signs everybody out`);
    }
  }
}

/**
 * Slows password guessing for the whole hub, whatever address the guesses come from. Every failure
 * fills a bucket that leaks one failure per `slotMs`; while the bucket holds more than `free` - 1,
 * only one attempt per `slotMs` is checked and the others are refused unchecked (429). So a guesser
 * gets at most `free` guesses at once and then one per slot, and anybody, the owner included, gets a
 * checked attempt within one slot of trying.
 */
export class LoginLimiter {
  private level = 0;
  private at = 0;
  private lastChecked = -Infinity;

  constructor(
    readonly free = 10,
    readonly slotMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  private leak(now: number): void {
    this.level = Math.max(0, this.level - (now - this.at) / this.slotMs);
    this.at = now;
  }

  /** Whether an attempt may be checked now; otherwise the milliseconds until one may. */
  take(): { ok: true } | { ok: false; retryMs: number } {
    const now = this.now();
    this.leak(now);
    if (this.full()) {
      const wait = this.lastChecked + this.slotMs - now;
      if (wait > 0) return { ok: false, retryMs: wait };
    }
    this.lastChecked = now;
    return { ok: true };
  }

  failed(): void {
    this.leak(this.now());
    this.level += 1;
  }

  /** Whether attempts are being refused unchecked now. */
  get engaged(): boolean {
    this.leak(this.now());
    return this.full();
  }

  /** Within one leak of `free`: a failure now would make the bucket hold `free` or more. */
  private full(): boolean {
    return this.level > this.free - 1 + 1e-9;
  }
}
