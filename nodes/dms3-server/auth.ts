// Tokens of the hub: the hub token (the API, and agents without a token of their own) and per-agent
// tokens, one per Pi, so that a lost Pi can be revoked alone and holds nothing that opens the rest.
// Checked in constant time over SHA-256 digests; never logged. An agent's line may hold the token's
// digest (`name=sha256:<hex>`, what the editor's "Add agent" stores) instead of the token itself.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { FieldError } from '../../lib/errors';

/**
 * Who is asking: the hub token (any agent, and the API), one agent's own token, or a person signed in
 * to the dashboard (a session cookie: the API's hub routes, never the agents' routes).
 */
export type Identity = { kind: 'hub' } | { kind: 'agent'; name: string } | { kind: 'session' };

const NAME = /^[^\s=]{1,64}$/;
const DIGEST = /^sha256:([0-9a-f]{64})$/;

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Parses `name=token` lines (blank lines and `#` comments are ignored). Errors name the line, never its token. */
export function parseAgentTokens(text: string | undefined): Map<string, string> {
  const tokens = new Map<string, string>();
  (text ?? '').split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const name = eq > 0 ? line.slice(0, eq).trim() : '';
    const token = eq > 0 ? line.slice(eq + 1).trim() : '';
    if (!NAME.test(name) || token === '') throw new FieldError('agentTokens', `line ${i + 1}`, 'expected name=token (name up to 64 characters, no spaces)');
    if (tokens.has(name)) throw new FieldError('agentTokens', `line ${i + 1}`, `agent ${JSON.stringify(name)} has a token already`);
    tokens.set(name, token);
  });
  return tokens;
}

/** The token from an `Authorization: Bearer <token>` header, or null. */
export function bearer(header: string | undefined): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m ? m[1] : null;
}

export class Tokens {
  private readonly hub: Buffer | null;
  private readonly agents: { name: string; digest: Buffer }[];

  constructor(hubToken: string, agentTokens: Map<string, string>) {
    this.hub = hubToken ? digest(hubToken) : null;
    this.agents = [...agentTokens].map(([name, token]) => {
      const stored = DIGEST.exec(token);
      return { name, digest: stored ? Buffer.from(stored[1], 'hex') : digest(token) };
    });
  }

  /** Whether `name` has a token of its own. */
  hasOwn(name: string): boolean {
    return this.agents.some((a) => a.name === name);
  }

  /**
   * Why `identity` may not act as agent `name`, or null when it may: an agent token only as its own
   * name, and the hub token never as a name that has its own token (so a leaked hub token cannot
   * displace or impersonate a Pi that has one).
   */
  refuseAs(identity: Identity | null, name: string): string | null {
    if (identity?.kind === 'agent' && identity.name !== name) return `this token belongs to agent ${JSON.stringify(identity.name)}, not ${JSON.stringify(name)}`;
    if (identity?.kind === 'hub' && this.hasOwn(name)) return `agent ${JSON.stringify(name)} has its own token: the hub token cannot act as it`;
    return null;
  }

  get empty(): boolean {
    return this.hub === null && this.agents.length === 0;
  }

  /** Compares against every token (no early exit), so timing tells nothing about which one matched. */
  check(token: string | null): Identity | null {
    if (token === null) return null;
    const d = digest(token);
    let found: Identity | null = null;
    if (this.hub && timingSafeEqual(d, this.hub)) found = { kind: 'hub' };
    for (const a of this.agents) {
      if (timingSafeEqual(d, a.digest) && !found) found = { kind: 'agent', name: a.name };
    }
    return found;
  }
}

/** A fresh agent token and the line the hub keeps for it (the digest only). */
export function mintAgentToken(): { token: string; stored: string } {
  const token = randomBytes(24).toString('base64url');
  return { token, stored: `sha256:${digest(token).toString('hex')}` };
}
