// The SMTP account (dms3-smtp config node) → nodemailer transport options.
import { FieldError } from '../errors';
import { parseAddresses, parseNumber, type Recipient } from './options';

export type Security = 'starttls' | 'tls' | 'none';

export interface SmtpSettings {
  host: string;
  port: number;
  security: Security;
  rejectUnauthorized: boolean;
  from: Recipient;
  user: string;
  password: string;
}

/** What the dms3-smtp config node offers to mail nodes. */
export interface SmtpAccount {
  settings: SmtpSettings | null;
  problem: string | null; // why the settings are unusable
}

export const DEFAULT_PORTS: Record<Security, number> = { starttls: 587, tls: 465, none: 25 };

const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$/;

export function parseSmtpSettings(def: Record<string, unknown>, credentials: Record<string, string | undefined> = {}): SmtpSettings {
  const host = typeof def.host === 'string' ? def.host.trim() : def.host;
  if (typeof host !== 'string' || !HOST.test(host)) throw new FieldError('host', host, 'expected a host name or IP address');
  const security = def.security ?? 'starttls';
  if (security !== 'starttls' && security !== 'tls' && security !== 'none') throw new FieldError('security', security, 'expected "starttls", "tls" or "none"');
  const port = parseNumber('port', def.port, DEFAULT_PORTS[security], { min: 1, max: 65535, integer: true });
  const from = parseAddresses('from', def.from ?? '');
  if (from.length !== 1) throw new FieldError('from', def.from, 'expected exactly one sender address');
  const user = (credentials.user ?? '').trim();
  const password = credentials.password ?? '';
  if (password && !user) throw new FieldError('user', user, 'a password is set, so a user name is needed');
  return { host, port, security, rejectUnauthorized: def.rejectUnauthorized !== false && def.rejectUnauthorized !== 'false', from: from[0], user, password };
}

/** Options for nodemailer.createTransport. Timeouts are short so a dead server shows up as a retry, not a hang. */
export function transportOptions(s: SmtpSettings) {
  return {
    host: s.host.replace(/^\[|\]$/g, ''),
    port: s.port,
    secure: s.security === 'tls',
    requireTLS: s.security === 'starttls',
    ignoreTLS: s.security === 'none',
    ...(s.user ? { auth: { user: s.user, pass: s.password } } : {}),
    tls: { rejectUnauthorized: s.rejectUnauthorized },
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 60_000,
  };
}

// The shipped server flow's stand-ins, which a user must replace before any mail can arrive.
const PLACEHOLDER_HOST = 'smtp.example.com';
const PLACEHOLDER_TO = 'you@example.com';

/** What still has the shipped flow's placeholder, as the fields a user must fill in (empty: none). */
export function unfilled(settings: Pick<SmtpSettings, 'host'>, to: readonly Recipient[]): string[] {
  const missing: string[] = [];
  if (settings.host.toLowerCase() === PLACEHOLDER_HOST) missing.push('SMTP server');
  if (to.some((r) => r.address.toLowerCase() === PLACEHOLDER_TO)) missing.push('recipients');
  return missing;
}
