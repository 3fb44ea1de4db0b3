// The dms3-mail node's settings, checked once at deploy: every bad value is refused with its field name.
import addressparser from 'nodemailer/lib/addressparser';
import { FieldError } from '../errors';
import { parseRules, type Rule } from './rules';

export interface Recipient {
  name: string;
  address: string;
}

export interface MailOptions {
  to: Recipient[];
  subject: string;
  quietMs: number; // gather pictures until this long after the last one …
  maxWaitMs: number; // … but no longer than this after the first
  extraPictures: number; // pictures attached besides the inline one
  movies: boolean; // mail movie clips (attached to the event's mail, or as a follow-up)
  maxClipBytes: number; // larger clips are only mentioned by name and size
  cooldownMs: number; // per camera; 0 = off
  dailyCap: number; // mails per local day; 0 = unlimited
  rules: Rule[];
  retryFirstMs: number; // first retry delay; doubles per failure
  giveUpMs: number; // a mail still unsent this long after it was queued is given up
}

export const DEFAULT_SUBJECT = 'DMS3 {{hostname}}: motion on camera {{camera}} at {{localTime}}{{#followUp}} (clip){{/followUp}}';

const LOCAL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+$/;
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function isMailAddress(text: string): boolean {
  const at = text.lastIndexOf('@');
  if (at <= 0 || text.length > 254) return false;
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  return LOCAL.test(local) && !local.startsWith('.') && !local.endsWith('.') && !local.includes('..') && domain.split('.').every((l) => LABEL.test(l));
}

/** "Ann <ann@example.com>, bob@example.com" → recipients; each must be a plain address (no groups). */
export function parseAddresses(field: string, text: unknown, atLeastOne = true): Recipient[] {
  if (typeof text !== 'string') throw new FieldError(field, text, 'expected addresses separated by commas');
  const list = addressparser(text.replace(/;/g, ','));
  const out: Recipient[] = [];
  for (const entry of list) {
    if (entry.group !== undefined || !isMailAddress(entry.address)) {
      throw new FieldError(field, entry.group !== undefined ? entry.name : entry.address || entry.name, 'not a mail address like name@example.com');
    }
    // A name is only meant in "Name <address>"; "ann@exa mple.com" would otherwise parse as ann@exa named "mple.com".
    if (entry.name && !new RegExp(`<\\s*${entry.address.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*>`).test(text)) {
      throw new FieldError(field, `${entry.address} ${entry.name}`, 'not a mail address like name@example.com (write a name as Name <name@example.com>)');
    }
    out.push({ name: entry.name, address: entry.address });
  }
  if (atLeastOne && out.length === 0) throw new FieldError(field, text, 'expected at least one mail address');
  return out;
}

export function parseNumber(field: string, value: unknown, fallback: number, opts: { min: number; max: number; integer?: boolean }): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : NaN;
  if (!Number.isFinite(n) || n < opts.min || n > opts.max || (opts.integer && !Number.isInteger(n))) {
    throw new FieldError(field, value, `expected ${opts.integer ? 'a whole number' : 'a number'} from ${opts.min} to ${opts.max}`);
  }
  return n;
}

const DAY_S = 24 * 3600;

/** Node config (as the editor saves it: numbers may come as strings, times in seconds) → options. */
export function parseMailOptions(def: Record<string, unknown>): MailOptions {
  const subject = def.subject === undefined || def.subject === '' ? DEFAULT_SUBJECT : def.subject;
  if (typeof subject !== 'string') throw new FieldError('subject', subject, 'expected text');
  if (def.movies !== undefined && def.movies !== null && def.movies !== '' && def.movies !== 'attach' && def.movies !== 'off') {
    throw new FieldError('movies', def.movies, 'expected "attach" or "off"');
  }
  const quietMs = parseNumber('quiet', def.quiet, 5, { min: 0, max: 600 }) * 1000;
  const maxWaitMs = parseNumber('maxWait', def.maxWait, 30, { min: 0, max: 3600 }) * 1000;
  if (maxWaitMs < quietMs) throw new FieldError('maxWait', def.maxWait, `must be at least the quiet time (${quietMs / 1000} s)`);
  return {
    to: parseAddresses('to', def.to ?? ''),
    subject,
    quietMs,
    maxWaitMs,
    extraPictures: parseNumber('extraPictures', def.extraPictures, 0, { min: 0, max: 20, integer: true }),
    movies: def.movies !== 'off',
    maxClipBytes: Math.round(parseNumber('maxClipMB', def.maxClipMB, 20, { min: 0, max: 100 }) * 1024 * 1024),
    cooldownMs: parseNumber('cooldown', def.cooldown, 60, { min: 0, max: DAY_S }) * 1000,
    dailyCap: parseNumber('dailyCap', def.dailyCap, 100, { min: 0, max: 100000, integer: true }),
    rules: parseRules(def.rules),
    retryFirstMs: parseNumber('retryFirst', def.retryFirst, 10, { min: 0.01, max: 3600 }) * 1000,
    giveUpMs: parseNumber('giveUp', def.giveUp, 24, { min: 0.001, max: 24 * 30 }) * 3600 * 1000,
  };
}
