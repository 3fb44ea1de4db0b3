import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { LoginLimiter, MAX_SESSIONS, Sessions, TrustedProxies } from '../../nodes/dms3-server/session';

const DAY = 24 * 3600 * 1000;
const dir = mkdtempSync(join(tmpdir(), 'dms3-sessions-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function clock(start = Date.UTC(2026, 0, 1)) {
  const c = { t: start, now: () => c.t };
  return c;
}

function req(remote: string, headers: Record<string, string> = {}): IncomingMessage {
  return { socket: { remoteAddress: remote }, headers } as unknown as IncomingMessage;
}

describe('dashboard sessions', () => {
  it('accepts the dashboard password or the hub token, nothing else', () => {
    const s = new Sessions(['door-password', 'hub-token-0123456789'], { path: '/dms3' });
    assert.equal(s.checkSecret('door-password'), true);
    assert.equal(s.checkSecret('hub-token-0123456789'), true);
    assert.equal(s.checkSecret('door-passwor'), false);
    assert.equal(s.checkSecret(''), false);
  });

  it('ignores empty secrets, and cannot sign anybody in without one', () => {
    const s = new Sessions(['', ''], { path: '/dms3' });
    assert.equal(s.enabled, false);
    assert.equal(s.checkSecret(''), false);
    assert.equal(s.verify(s.issue()), false);
  });

  it('issues a random session that expires, and refuses an unknown or altered one', () => {
    const c = clock();
    const s = new Sessions(['pw'], { path: '/dms3', lifetimeMs: DAY, now: c.now });
    const id = s.issue();
    assert.match(id, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(s.verify(id), true);
    assert.equal(s.verify(id.slice(1)), false);
    assert.equal(s.verify(`${id}x`), false);
    assert.equal(s.verify('garbage'), false);
    assert.equal(s.verify(null), false);
    c.t += DAY - 1;
    assert.equal(s.verify(id), true);
    c.t += 1;
    assert.equal(s.verify(id), false);
  });

  it('ends a session on the server: the old cookie no longer opens anything', () => {
    const file = join(dir, 'revoke.json');
    const s = new Sessions(['pw'], { path: '/dms3', file });
    const a = s.issue();
    const b = s.issue();
    s.revoke(a);
    assert.equal(s.verify(a), false);
    assert.equal(s.verify(b), true, 'other sessions stay');
    assert.equal(new Sessions(['pw'], { path: '/dms3', file }).verify(a), false, 'nor after a restart');
    assert.equal(new Sessions(['pw'], { path: '/dms3', file }).verify(b), true);
  });

  it('keeps sessions across a restart, and ends them all when a secret changes', () => {
    const file = join(dir, 'restart.json');
    const id = new Sessions(['pw', 'token'], { path: '/dms3', file }).issue();
    assert.equal(new Sessions(['pw', 'token'], { path: '/dms3', file }).verify(id), true, 'same secrets: still signed in (e.g. after a redeploy)');
    assert.equal(new Sessions(['pw2', 'token'], { path: '/dms3', file }).verify(id), false);
    assert.equal(new Sessions(['pw', 'token'], { path: '/dms3', file }).verify(id), false, 'changing back does not bring them back');
    const id2 = new Sessions(['pw', 'token'], { path: '/dms3', file }).issue();
    assert.equal(new Sessions(['pw', 'token2'], { path: '/dms3', file }).verify(id2), false);
  });

  it('keeps no secret and no session id in its file', () => {
    const file = join(dir, 'secret.json');
    const s = new Sessions(['door-password', 'hub-token-0123456789'], { path: '/dms3', file });
    const id = s.issue();
    const text = readFileSync(file, 'utf8');
    for (const secret of ['door-password', 'hub-token-0123456789', id]) assert.ok(!text.includes(secret), secret);
  });

  it('starts empty from a damaged or forged file', () => {
    const file = join(dir, 'bad.json');
    for (const text of ['{', 'null', '[]', JSON.stringify({ v: 1, salt: 'x', fingerprint: 'y', sessions: { a: 1 } }), 'x'.repeat(300_000)]) {
      writeFileSync(file, text);
      const s = new Sessions(['pw'], { path: '/dms3', file, warn: () => {} });
      assert.equal(s.size, 0);
      assert.equal(s.verify(s.issue()), true);
    }
  });

  it(`keeps at most ${MAX_SESSIONS} sessions, ending the oldest`, () => {
    const s = new Sessions(['pw'], { path: '/dms3' });
    const first = s.issue();
    const ids = Array.from({ length: MAX_SESSIONS + 20 }, () => s.issue());
    assert.equal(s.size, MAX_SESSIONS);
    assert.equal(s.verify(first), false);
    assert.equal(s.verify(ids.at(-1)!), true);
  });

  it('revokeAll ends every session', () => {
    const s = new Sessions(['pw'], { path: '/dms3' });
    const ids = [s.issue(), s.issue()];
    s.revokeAll();
    for (const id of ids) assert.equal(s.verify(id), false);
  });
});

describe('trusted proxies', () => {
  it('believes X-Forwarded-For and -Proto only from a configured proxy', () => {
    const none = new TrustedProxies(undefined);
    const proxy = new TrustedProxies('127.0.0.1, ::1');
    const fwd = { 'x-forwarded-for': '203.0.113.9, 10.0.0.7', 'x-forwarded-proto': 'https' };
    assert.equal(none.client(req('127.0.0.1', fwd)), '127.0.0.1');
    assert.equal(none.https(req('127.0.0.1', fwd)), false);
    assert.equal(proxy.client(req('::ffff:127.0.0.1', fwd)), '10.0.0.7', 'the entry the proxy itself added');
    assert.equal(proxy.https(req('127.0.0.1', fwd)), true);
    assert.equal(proxy.client(req('192.168.1.5', fwd)), '192.168.1.5', 'anyone else: the socket');
    assert.equal(proxy.https(req('192.168.1.5', fwd)), false);
    assert.equal(proxy.client(req('127.0.0.1', { 'x-forwarded-for': '<script>' })), '127.0.0.1');
  });
});

describe('hub-wide sign-in limiter', () => {
  it('lets the first 10 failures through, then one attempt per minute, from any address', () => {
    const c = clock();
    const l = new LoginLimiter(10, 60_000, c.now);
    for (let i = 0; i < 10; i++) {
      assert.equal(l.take().ok, true);
      l.failed();
    }
    assert.equal(l.engaged, true);
    const refused = l.take();
    assert.equal(refused.ok, false);
    assert.ok(!refused.ok && refused.retryMs > 0 && refused.retryMs <= 60_000);
    c.t += 59_999;
    assert.equal(l.take().ok, false);
    c.t += 1;
    assert.equal(l.take().ok, true, 'one minute after the last checked attempt, anybody gets one');
  });

  it('allows at most 10 + 60 checked guesses in an hour and 60 in each hour after, however fast they come', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 200, maxLength: 400 }), (gaps) => {
        const c = clock();
        const l = new LoginLimiter(10, 60_000, c.now);
        let checked = 0;
        let hour = 0;
        let inHour = 0;
        let worst = 0;
        const start = c.t;
        // A campaign of hours of guesses at random (fast) gaps, replayed until 3 hours have passed.
        for (let i = 0; c.t - start < 3 * 3600_000; i++) {
          c.t += gaps[i % gaps.length] * 10;
          const h = Math.floor((c.t - start) / 3600_000);
          if (h !== hour) {
            if (hour > 0) worst = Math.max(worst, inHour);
            hour = h;
            inHour = 0;
          }
          if (l.take().ok) {
            checked++;
            inHour++;
            l.failed();
          }
        }
        return checked <= 10 + 3 * 61 && worst <= 61;
      }),
      { numRuns: 30 },
    );
  });

  it('gives the owner a checked attempt within a minute, whatever the guesser did before', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 120_000 }), { maxLength: 300 }), fc.integer({ min: 0, max: 600_000 }), (gaps, ownerAt) => {
        const c = clock();
        const l = new LoginLimiter(10, 60_000, c.now);
        for (const g of gaps) {
          c.t += g;
          if (l.take().ok) l.failed();
        }
        c.t += ownerAt;
        const first = l.take();
        if (first.ok) return true;
        if (first.retryMs > 60_000) return false;
        c.t += first.retryMs;
        return l.take().ok;
      }),
    );
  });
});
