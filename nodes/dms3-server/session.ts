// Dashboard sign-in. A session is a signed, expiring cookie rather than server-side state, so a redeploy
// or restart keeps people signed in, and changing the dashboard password or the hub token signs
// everybody out. Secrets are compared in constant time over digests; failed sign-ins are throttled.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const COOKIE = 'dms3_session';
export const SESSION_MS = 30 * 24 * 3600 * 1000;

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

function isHttps(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true || req.headers['x-forwarded-proto'] === 'https';
}

export class Sessions {
  private readonly secrets: Buffer[];
  private readonly key: Buffer;

  /** `secrets`: what a person may sign in with (the dashboard password, the hub token); empty ones are ignored. */
  constructor(
    secrets: string[],
    private readonly path: string,
    private readonly lifetimeMs = SESSION_MS,
  ) {
    const given = secrets.filter((s) => s !== '');
    this.secrets = given.map(digest);
    this.key = digest(`dms3-dashboard-session\0${given.join('\0')}`);
  }

  /** Whether anybody can sign in at all. */
  get enabled(): boolean {
    return this.secrets.length > 0;
  }

  /** Compares against every secret (no early exit). */
  checkSecret(text: string): boolean {
    const d = digest(text);
    let ok = false;
    for (const s of this.secrets) if (timingSafeEqual(d, s)) ok = true;
    return ok;
  }

  issue(now = Date.now()): string {
    const expires = (now + this.lifetimeMs).toString(36);
    return `${expires}.${this.sign(expires)}`;
  }

  verify(value: string | null, now = Date.now()): boolean {
    if (!this.enabled || !value) return false;
    const dot = value.indexOf('.');
    if (dot <= 0) return false;
    const expires = value.slice(0, dot);
    const given = Buffer.from(value.slice(dot + 1));
    const expected = Buffer.from(this.sign(expires));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
    return parseInt(expires, 36) > now;
  }

  /** Whether the request carries a valid session cookie. */
  readonly check = (req: IncomingMessage): boolean => this.verify(cookieValue(req, COOKIE));

  signIn(req: IncomingMessage, res: ServerResponse, now = Date.now()): void {
    this.setCookie(req, res, this.issue(now), Math.floor(this.lifetimeMs / 1000));
  }

  signOut(req: IncomingMessage, res: ServerResponse): void {
    this.setCookie(req, res, '', 0);
  }

  private setCookie(req: IncomingMessage, res: ServerResponse, value: string, maxAge: number): void {
    const attrs = [`${COOKIE}=${value}`, `Path=${this.path}`, `Max-Age=${maxAge}`, 'HttpOnly', 'SameSite=Strict'];
    if (isHttps(req)) attrs.push('Secure');
    res.setHeader('Set-Cookie', attrs.join('; '));
  }

  private sign(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }
}

/** Refuses sign-in from an address after `limit` failures within `windowMs`, until the window passes. */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly limit = 10,
    private readonly windowMs = 15 * 60 * 1000,
  ) {}

  blocked(address: string, now = Date.now()): boolean {
    const f = this.failures.get(address);
    if (f && now - f.since >= this.windowMs) this.failures.delete(address);
    return (this.failures.get(address)?.count ?? 0) >= this.limit;
  }

  failed(address: string, now = Date.now()): void {
    const f = this.failures.get(address);
    if (f && now - f.since < this.windowMs) f.count++;
    else this.failures.set(address, { count: 1, since: now });
    if (this.failures.size > 10_000) this.prune(now);
  }

  succeeded(address: string): void {
    this.failures.delete(address);
  }

  private prune(now: number): void {
    for (const [address, f] of this.failures) if (now - f.since >= this.windowMs) this.failures.delete(address);
  }
}
