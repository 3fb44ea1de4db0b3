import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkEventMeta, displayName, eventQuery, idempotencyKey, mediaMismatch, parseEventQuery, toMotionEvent, type RawMeta } from '../../lib/event-upload';
import { parseEventFilter, passes } from '../../lib/event-filter';
import { sniffMedia } from '../../lib/media';
import { makeJpeg, mp4Header } from '../support/images';

const good: RawMeta = { agent: 'kitchen', hostname: 'pi-kitchen', camera: '1', event: '7', kind: 'picture', pixels: '1234', time: '2025-03-01T10:00:00+01:00', name: 'shot.jpg' };

describe('event metadata', () => {
  it('checks and converts the fields', () => {
    assert.deepEqual(checkEventMeta(good), {
      agent: 'kitchen',
      hostname: 'pi-kitchen',
      camera: '1',
      cameraName: null,
      event: 7,
      eventId: null,
      kind: 'picture',
      pixels: 1234,
      noise: null,
      time: '2025-03-01T09:00:00.000Z',
      name: 'shot.jpg',
    });
  });

  it('treats empty values as absent (Motion gives "" for an unset specifier)', () => {
    const m = checkEventMeta({ ...good, cameraName: '', noise: '', pixels: '', eventId: '', hostname: '', time: '' });
    assert.deepEqual([m.cameraName, m.noise, m.pixels, m.eventId, m.hostname, m.time], [null, null, null, null, 'kitchen', null]);
  });

  it('names the field and the value of what is wrong', () => {
    const cases: [RawMeta, RegExp][] = [
      [{ ...good, agent: undefined }, /^agent "": missing$/],
      [{ ...good, camera: '' }, /^camera "": missing$/],
      [{ ...good, event: undefined }, /^event "": missing$/],
      [{ ...good, kind: undefined }, /^kind "": missing$/],
      [{ ...good, kind: 'sound' }, /^kind "sound": expected "picture" or "movie"$/],
      [{ ...good, pixels: '12.5' }, /^pixels "12.5": expected a whole number/],
      [{ ...good, pixels: '-3' }, /^pixels "-3": expected a whole number/],
      [{ ...good, noise: 'loud' }, /^noise "loud"/],
      [{ ...good, event: '1e3' }, /^event "1e3"/],
      [{ ...good, time: 'yesterday' }, /^time "yesterday": expected an ISO 8601/],
      [{ ...good, agent: 'two words' }, /^agent "two words": expected an agent name/],
      [{ ...good, camera: 'a\nb' }, /^camera "a\\nb": expected up to 64 characters, no control characters$/],
      [{ ...good, hostname: 'x'.repeat(254) }, /^hostname "x+": expected up to 253/],
    ];
    for (const [raw, message] of cases) assert.throws(() => checkEventMeta(raw), { name: 'FieldError', message }, JSON.stringify(raw));
  });

  it('names fields as the caller knows them', () => {
    assert.throws(() => checkEventMeta({ ...good, pixels: 'abc' }, (f) => `--${f}`), { message: /^--pixels "abc"/ });
  });

  it('round-trips through the query string, and refuses a repeated parameter', () => {
    const meta = checkEventMeta({ ...good, cameraName: 'Front door & gate', eventId: '20250301-7', noise: '17' });
    assert.deepEqual(parseEventQuery(new URLSearchParams(eventQuery(meta))), meta);
    assert.throws(() => parseEventQuery(new URLSearchParams(`${eventQuery(meta)}&agent=garage`)), { message: /^agent \["kitchen","garage"\]: given more than once$/ });
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), fc.string({ maxLength: 300 }), fc.nat(), (camera, name, pixels) => {
        const raw = { ...good, camera, name, pixels: String(pixels) };
        let meta;
        try {
          meta = checkEventMeta(raw);
        } catch {
          return; // refused input has no round trip to make
        }
        assert.deepEqual(parseEventQuery(new URLSearchParams(eventQuery(meta))), meta);
      }),
    );
  });

  it('keeps only a display name from a client path', () => {
    assert.equal(displayName('../../etc/passwd.jpg'), 'passwd.jpg');
    assert.equal(displayName('C:\\motion\\01-20250301.jpg'), '01-20250301.jpg');
    assert.equal(displayName('..'), 'event');
    assert.equal(displayName('dir/'), 'event');
    assert.equal(displayName(null), 'event');
    assert.equal(displayName('a\u0000b\u001bc.jpg'), 'abc.jpg');
    assert.equal(displayName(`${'x'.repeat(300)}.jpg`).length, 200);
    assert.ok(displayName(`${'x'.repeat(300)}.jpg`).endsWith('.jpg'));
  });
});

describe('idempotency key', () => {
  const file = { agent: 'kitchen', camera: '1', event: 7, path: '/var/lib/motion/01.jpg', size: 30000, mtimeMs: 1740819600123.25 };
  it('is the same for the same file of the same event, and differs in each part', () => {
    assert.match(idempotencyKey(file), /^[0-9a-f]{64}$/);
    assert.equal(idempotencyKey(file), idempotencyKey({ ...file, mtimeMs: 1740819600123.9 }));
    const variants = [{ agent: 'garage' }, { camera: '2' }, { event: 8 }, { path: '/var/lib/motion/02.jpg' }, { size: 30001 }, { mtimeMs: 1740819600124 }];
    const keys = new Set(variants.map((v) => idempotencyKey({ ...file, ...v })));
    assert.equal(keys.size, variants.length);
    assert.ok(!keys.has(idempotencyKey(file)));
  });
});

describe('media against the claims', () => {
  const meta = checkEventMeta(good);
  const jpeg = makeJpeg(320, 240);
  it('accepts a JPEG that says it is one', () => {
    assert.equal(mediaMismatch(meta, 'image/jpeg', sniffMedia(jpeg)), null);
  });
  it('says why the bytes do not fit', () => {
    assert.equal(mediaMismatch(meta, 'image/jpeg', sniffMedia(Buffer.from('hello'))), 'the file is not a picture or movie (claimed image/jpeg)');
    assert.equal(mediaMismatch(meta, 'image/png', sniffMedia(jpeg)), 'the file is image/jpeg, not the image/png it claims to be');
    const mp4 = Buffer.concat([mp4Header(), Buffer.alloc(64)]);
    assert.equal(mediaMismatch(meta, 'video/mp4', sniffMedia(mp4)), 'kind "picture" does not fit a video/mp4 file');
  });
  it('builds the flow event with the percentage from the picture’s own size', () => {
    const ev = toMotionEvent(meta, sniffMedia(jpeg)!, jpeg, new Date(0));
    assert.deepEqual({ ...ev, file: { ...ev.file, data: ev.file.data.length } }, {
      agent: 'kitchen',
      hostname: 'pi-kitchen',
      camera: '1',
      eventId: '7',
      kind: 'picture',
      file: { name: 'shot.jpg', mime: 'image/jpeg', size: jpeg.length, data: jpeg.length },
      pixels: 1234,
      width: 320,
      height: 240,
      percent: 1.6,
      time: '2025-03-01T09:00:00.000Z',
    });
    const movie = checkEventMeta({ ...good, kind: 'movie', eventId: 'abc', time: undefined });
    const mp4 = Buffer.concat([mp4Header(), Buffer.alloc(64)]);
    const mv = toMotionEvent(movie, sniffMedia(mp4)!, mp4, new Date(0));
    assert.deepEqual([mv.eventId, mv.width, mv.height, mv.percent, mv.time], ['abc', null, null, null, '1970-01-01T00:00:00.000Z']);
  });
});

describe('event filter', () => {
  const ev = { agent: 'kitchen', camera: '1', kind: 'picture' as const };
  it('passes everything when empty, and filters by agent, camera and kind', () => {
    assert.equal(passes(parseEventFilter({}), ev), true);
    assert.equal(passes(parseEventFilter({ agents: 'garage, kitchen' }), ev), true);
    assert.equal(passes(parseEventFilter({ agents: 'garage' }), ev), false);
    assert.equal(passes(parseEventFilter({ cameras: '2 3' }), ev), false);
    assert.equal(passes(parseEventFilter({ cameras: '1' }), ev), true);
    assert.equal(passes(parseEventFilter({ kind: 'movie' }), ev), false);
    assert.equal(passes(parseEventFilter({ kind: 'picture', agents: 'kitchen', cameras: '1' }), ev), true);
  });
  it('refuses an unknown kind', () => {
    assert.throws(() => parseEventFilter({ kind: 'sound' }), { message: 'kind "sound": expected "picture", "movie" or empty (both)' });
  });
});
