import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoginThrottle, Sessions } from '../../nodes/dms3-server/session';

const DAY = 24 * 3600 * 1000;

describe('dashboard sessions', () => {
  it('accepts the dashboard password or the hub token, nothing else', () => {
    const s = new Sessions(['door-password', 'hub-token-0123456789'], '/dms3');
    assert.equal(s.checkSecret('door-password'), true);
    assert.equal(s.checkSecret('hub-token-0123456789'), true);
    assert.equal(s.checkSecret('door-passwor'), false);
    assert.equal(s.checkSecret(''), false);
  });

  it('ignores empty secrets, and cannot sign anybody in without one', () => {
    const s = new Sessions(['', ''], '/dms3');
    assert.equal(s.enabled, false);
    assert.equal(s.checkSecret(''), false);
    assert.equal(s.verify(s.issue()), false);
  });

  it('issues a cookie that expires, and refuses a forged or altered one', () => {
    const s = new Sessions(['pw'], '/dms3', DAY);
    const now = Date.UTC(2025, 0, 1);
    const cookie = s.issue(now);
    assert.equal(s.verify(cookie, now + DAY - 1), true);
    assert.equal(s.verify(cookie, now + DAY), false);
    const [expires, mac] = cookie.split('.');
    const later = (parseInt(expires, 36) + DAY).toString(36);
    assert.equal(s.verify(`${later}.${mac}`, now), false, 'a longer life needs a new signature');
    assert.equal(s.verify(`${expires}.${mac.slice(1)}`, now), false);
    assert.equal(s.verify('garbage', now), false);
    assert.equal(s.verify(null, now), false);
  });

  it('signs everybody out when a secret changes', () => {
    const cookie = new Sessions(['pw', 'token'], '/dms3').issue();
    assert.equal(new Sessions(['pw', 'token'], '/dms3').verify(cookie), true, 'same secrets: still signed in (e.g. after a redeploy)');
    assert.equal(new Sessions(['pw2', 'token'], '/dms3').verify(cookie), false);
    assert.equal(new Sessions(['pw', 'token2'], '/dms3').verify(cookie), false);
  });
});

describe('sign-in throttle', () => {
  it('blocks an address after the limit of failures until the window passes', () => {
    const t = new LoginThrottle(3, 60_000);
    for (let i = 0; i < 3; i++) {
      assert.equal(t.blocked('10.0.0.9', i), false);
      t.failed('10.0.0.9', i);
    }
    assert.equal(t.blocked('10.0.0.9', 10), true);
    assert.equal(t.blocked('10.0.0.8', 10), false, 'others are not affected');
    assert.equal(t.blocked('10.0.0.9', 60_000), false);
  });

  it('forgets the failures of an address that signs in', () => {
    const t = new LoginThrottle(2, 60_000);
    t.failed('a', 0);
    t.succeeded('a');
    t.failed('a', 1);
    assert.equal(t.blocked('a', 2), false);
  });
});
