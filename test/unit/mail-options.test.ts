import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventPercent, validateMotionEvent } from '../../lib/event';
import { DEFAULT_SUBJECT, parseAddresses, parseMailOptions } from '../../lib/mail/options';
import { isPermanent, retryDelay } from '../../lib/mail/retry';
import { parseSmtpSettings, transportOptions, unfilled } from '../../lib/mail/smtp';
import { pictureEvent } from '../support/motion-event';

describe('Motion event validation', () => {
  it('accepts the dms3-event message shape', () => {
    const ev = validateMotionEvent(pictureEvent());
    assert.equal(ev.kind, 'picture');
    assert.equal(ev.file.size, ev.file.data.length);
    const movie = validateMotionEvent({ ...pictureEvent(), kind: 'movie', pixels: undefined, width: null, height: undefined, percent: undefined });
    assert.equal(movie.pixels, null);
    for (const time of ['2025-06-01T22:14:05Z', '2025-06-01T22:14:05.123+02:00', '2025-06-01T22:14']) {
      assert.equal(validateMotionEvent({ ...pictureEvent(), time }).time, time);
    }
  });

  it('names the bad field and value, briefly', () => {
    const good = pictureEvent();
    const cases: [unknown, RegExp][] = [
      [null, /msg\.payload null: expected a Motion event object/],
      [Buffer.alloc(5000), /msg\.payload "<Buffer 5000 bytes>"/],
      [{ ...good, camera: '' }, /msg\.payload\.camera "": expected a non-empty string/],
      [{ ...good, eventId: 17 }, /msg\.payload\.eventId 17/],
      [{ ...good, kind: 'snapshot' }, /msg\.payload\.kind "snapshot": expected "picture" or "movie"/],
      [{ ...good, file: undefined }, /msg\.payload\.file undefined/],
      [{ ...good, file: { ...good.file, data: 'abc' } }, /msg\.payload\.file\.data "abc": expected a Buffer/],
      [{ ...good, file: { ...good.file, size: 1 } }, /msg\.payload\.file\.size 1: does not match the data length/],
      [{ ...good, file: { ...good.file, mime: 'jpeg' } }, /msg\.payload\.file\.mime "jpeg"/],
      [{ ...good, pixels: -3 }, /msg\.payload\.pixels -3/],
      [{ ...good, percent: 140 }, /msg\.payload\.percent 140/],
      [{ ...good, width: 0 }, /msg\.payload\.width 0/],
      [{ ...good, time: 'yesterday' }, /msg\.payload\.time "yesterday": expected an ISO 8601 date-time/],
      [{ ...good, time: 'June 1 2025' }, /msg\.payload\.time "June 1 2025"/],
      [{ ...good, time: '2025-02-30T25:00:00Z' }, /msg\.payload\.time/],
    ];
    for (const [payload, re] of cases) assert.throws(() => validateMotionEvent(payload), re);
  });

  it('computes the changed share of the frame when the event does not carry it', () => {
    assert.equal(eventPercent({ pixels: 3072, width: 320, height: 240, percent: null }), 4);
    assert.equal(eventPercent({ pixels: 10, width: null, height: null, percent: null }), null);
    assert.equal(eventPercent({ pixels: 10, width: 10, height: 10, percent: 2.5 }), 2.5);
  });
});

describe('dms3-mail options', () => {
  it('has sensible defaults', () => {
    const o = parseMailOptions({ to: 'ann@example.com' });
    assert.deepEqual(
      [o.subject, o.quietMs, o.maxWaitMs, o.extraPictures, o.movies, o.maxClipBytes, o.cooldownMs, o.dailyCap, o.rules, o.retryFirstMs, o.giveUpMs],
      [DEFAULT_SUBJECT, 5000, 30000, 0, true, 20 * 1024 * 1024, 60000, 100, [], 10000, 24 * 3600 * 1000],
    );
  });

  it('reads several recipients and refuses bad ones by field', () => {
    assert.deepEqual(parseAddresses('to', 'ann@example.com, "Bob B." <bob@mail.example.org>; root@localhost'), [
      { name: '', address: 'ann@example.com' },
      { name: 'Bob B.', address: 'bob@mail.example.org' },
      { name: '', address: 'root@localhost' },
    ]);
    assert.throws(() => parseMailOptions({ to: '' }), /^FieldError: to "": expected at least one mail address/);
    assert.throws(() => parseMailOptions({ to: 'ann@example.com, bob' }), /to "bob": not a mail address/);
    assert.throws(() => parseMailOptions({ to: 'ann@exa mple.com' }), /to "ann@exa mple\.com": not a mail address/);
    assert.throws(() => parseMailOptions({ to: 'friends: a@example.com;' }), /to "friends"/);
  });

  it('refuses bad numbers and settings by field', () => {
    const to = 'ann@example.com';
    assert.throws(() => parseMailOptions({ to, cooldown: 'soon' }), /cooldown "soon": expected a number from 0 to 86400/);
    assert.throws(() => parseMailOptions({ to, dailyCap: 2.5 }), /dailyCap 2\.5: expected a whole number/);
    assert.throws(() => parseMailOptions({ to, quiet: 10, maxWait: 5 }), /maxWait 5: must be at least the quiet time/);
    assert.throws(() => parseMailOptions({ to, movies: 'maybe' }), /movies "maybe"/);
    assert.throws(() => parseMailOptions({ to, rules: [{ windows: ['9-5'] }] }), /rules\[0\]\.windows\[0\]\.start "9"/);
    assert.equal(parseMailOptions({ to, cooldown: '0', dailyCap: '0', maxClipMB: '1.5' }).maxClipBytes, 1.5 * 1024 * 1024);
  });
});

describe('mail delivery rules', () => {
  it('backs off exponentially up to 15 minutes', () => {
    assert.deepEqual([1, 2, 3, 4].map((n) => retryDelay(n, 10_000)), [10_000, 20_000, 40_000, 80_000]);
    assert.equal(retryDelay(40, 10_000), 15 * 60 * 1000);
  });

  it('gives up only on 5xx replies to the envelope or message', () => {
    assert.equal(isPermanent({ code: 'EENVELOPE', responseCode: 550 }), true);
    assert.equal(isPermanent({ code: 'EMESSAGE', responseCode: 552 }), true);
    assert.equal(isPermanent({ code: 'EENVELOPE', responseCode: 451 }), false);
    assert.equal(isPermanent({ code: 'ECONNECTION' }), false);
    assert.equal(isPermanent({ code: 'EAUTH', responseCode: 535 }), false);
  });

  it('maps the SMTP account to transport options', () => {
    const s = parseSmtpSettings({ host: 'smtp.example.com', security: 'starttls', from: 'DMS3 <cams@example.com>' }, { user: 'cams', password: 'pw' });
    assert.equal(s.port, 587);
    const t = transportOptions(s);
    assert.deepEqual([t.secure, t.requireTLS, t.ignoreTLS, t.auth, t.tls.rejectUnauthorized], [false, true, false, { user: 'cams', pass: 'pw' }, true]);
    const tls = transportOptions(parseSmtpSettings({ host: '10.0.0.2', security: 'tls', from: 'a@b.example', rejectUnauthorized: false }));
    assert.deepEqual([tls.port, tls.secure, tls.tls.rejectUnauthorized, 'auth' in tls], [465, true, false, false]);
    const plain = transportOptions(parseSmtpSettings({ host: '127.0.0.1', port: '2525', security: 'none', from: 'a@b.example' }));
    assert.deepEqual([plain.port, plain.secure, plain.ignoreTLS], [2525, false, true]);
    assert.throws(() => parseSmtpSettings({ host: 'smtp example', from: 'a@b.example' }), /host "smtp example"/);
    assert.throws(() => parseSmtpSettings({ host: 'h', security: 'ssl', from: 'a@b.example' }), /security "ssl"/);
    assert.throws(() => parseSmtpSettings({ host: 'h', port: 70000, from: 'a@b.example' }), /port 70000/);
    assert.throws(() => parseSmtpSettings({ host: 'h', from: 'a@b.example, c@d.example' }), /from "a@b\.example, c@d\.example": expected exactly one/);
    assert.throws(() => parseSmtpSettings({ host: 'h', from: 'a@b.example' }, { password: 'x' }), /user "": a password is set/);
  });

  it('names the example values still to be replaced, and only those', () => {
    const to = (...a: string[]) => a.map((address) => ({ name: '', address }));
    assert.deepEqual(unfilled({ host: 'smtp.example.com' }, to('you@example.com')), ['SMTP server', 'recipients']);
    assert.deepEqual(unfilled({ host: 'SMTP.example.com' }, to('ann@example.com')), ['SMTP server']);
    assert.deepEqual(unfilled({ host: 'mail.gmx.net' }, to('ann@gmx.net', 'You@Example.com')), ['recipients']);
    assert.deepEqual(unfilled({ host: '127.0.0.1' }, to('family@example.com')), []);
  });
});
