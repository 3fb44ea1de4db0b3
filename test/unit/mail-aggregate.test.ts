import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MotionEvent } from '../../lib/event';
import { Aggregator, eventKey, type AggregateOptions } from '../../lib/mail/aggregate';
import { parseRules } from '../../lib/mail/rules';
import { movieEvent, pictureEvent } from '../support/motion-event';

const T0 = new Date(2025, 5, 1, 12, 0, 0).getTime(); // local noon
const S = 1000;

function options(over: Partial<AggregateOptions> = {}): AggregateOptions {
  return { quietMs: 5 * S, maxWaitMs: 30 * S, extraPictures: 0, movies: true, cooldownMs: 60 * S, dailyCap: 100, rules: [], ...over };
}

function pic(over: Partial<MotionEvent> = {}): MotionEvent {
  return pictureEvent({ time: new Date(T0).toISOString(), ...over });
}

describe('mail aggregation: one mail per event', () => {
  it('50 pictures of one event → one mail showing the picture with the most changed pixels', () => {
    const agg = new Aggregator(options());
    const outcomes: string[] = [];
    for (let i = 0; i < 50; i++) {
      const pixels = i === 31 ? 9000 : 100 + i; // the 32nd picture changed most
      const r = agg.offer(pic({ pixels, file: { name: `p${i}.jpg`, mime: 'image/jpeg', size: 1, data: Buffer.from([i]) } }), T0 + i * 100);
      outcomes.push(r.outcome);
      assert.equal(r.mails.length, 0);
    }
    assert.equal(outcomes[0], 'opened');
    assert.ok(outcomes.slice(1).every((o) => o === 'joined'));
    const last = T0 + 49 * 100;
    assert.equal(agg.nextDue(), last + 5 * S);
    assert.deepEqual(agg.due(last + 5 * S - 1), []);
    const mails = agg.due(last + 5 * S);
    assert.equal(mails.length, 1);
    assert.equal(mails[0].kind, 'event');
    assert.equal(mails[0].pictures, 50);
    assert.equal(mails[0].best?.file.name, 'p31.jpg');
    assert.equal(mails[0].best?.pixels, 9000);
    assert.deepEqual(mails[0].extras, []);
    assert.equal(mails[0].first.file.name, 'p0.jpg');
    assert.equal(agg.nextDue(), null);
    assert.equal(agg.counters(last).mailsToday, 1);
  });

  it('keeps the next-best pictures as extras, in time order, and prefers the earlier picture on a tie', () => {
    const agg = new Aggregator(options({ extraPictures: 2 }));
    const px = [50, 400, 10, 400, 300, 20];
    px.forEach((pixels, i) => agg.offer(pic({ pixels, time: new Date(T0 + i * S).toISOString(), file: { name: `p${i}.jpg`, mime: 'image/jpeg', size: 1, data: Buffer.from([i]) } }), T0 + i * 100));
    const [mail] = agg.due(T0 + 60 * S);
    assert.equal(mail.best?.file.name, 'p1.jpg');
    assert.deepEqual(mail.extras.map((e) => e.file.name), ['p3.jpg', 'p4.jpg']);
  });

  it('a steady stream is cut off by the maximum wait after the first picture', () => {
    const agg = new Aggregator(options({ quietMs: 5 * S, maxWaitMs: 12 * S }));
    let released: number | null = null;
    for (let t = 0; t <= 20 * S; t += S) {
      const now = T0 + t;
      if (agg.due(now).length) released ??= t;
      agg.offer(pic(), now);
    }
    assert.equal(released, 12 * S);
    // Pictures after the mail left belong to the same, already mailed, event.
    assert.equal(agg.offer(pic(), T0 + 21 * S).outcome, 'late');
  });

  it('pictures of different events and cameras make separate mails, oldest first', () => {
    const agg = new Aggregator(options({ cooldownMs: 0 }));
    agg.offer(pic({ camera: 'yard', eventId: '1' }), T0);
    agg.offer(pic({ camera: 'door', eventId: '1' }), T0 + 100);
    agg.offer(pic({ camera: 'yard', eventId: '2' }), T0 + 200);
    agg.offer(pic({ agent: 'pi-2', camera: 'yard', eventId: '1' }), T0 + 300);
    const mails = agg.due(T0 + 10 * S);
    assert.deepEqual(
      mails.map((m) => `${m.first.agent}/${m.first.camera}/${m.first.eventId}`),
      ['pi-garden/yard/1', 'pi-garden/door/1', 'pi-garden/yard/2', 'pi-2/yard/1'],
    );
  });
});

describe('mail aggregation: movies', () => {
  it('a movie while pictures are gathered joins that mail, which leaves at once', () => {
    const agg = new Aggregator(options());
    agg.offer(pic({ pixels: 10 }), T0);
    const r = agg.offer(movieEvent({ time: new Date(T0).toISOString() }), T0 + S);
    assert.equal(r.outcome, 'released');
    assert.equal(r.mails.length, 1);
    assert.equal(r.mails[0].kind, 'event');
    assert.equal(r.mails[0].clip?.kind, 'movie');
    assert.equal(r.mails[0].best?.pixels, 10);
    assert.equal(agg.nextDue(), null);
  });

  it('a movie after the event was mailed sends a follow-up with the clip, counted against the cap', () => {
    const agg = new Aggregator(options({ dailyCap: 2 }));
    agg.offer(pic(), T0);
    assert.equal(agg.due(T0 + 10 * S).length, 1);
    const r = agg.offer(movieEvent(), T0 + 70 * S);
    assert.equal(r.outcome, 'follow-up');
    assert.equal(r.mails[0].kind, 'clip');
    assert.equal(r.mails[0].best, null);
    assert.equal(r.mails[0].clip?.file.name, '17-20250601221405.mkv');
    assert.equal(agg.counters(T0 + 70 * S).mailsToday, 2);
  });

  it('a movie without pictures is an event mail of its own, subject to the cooldown', () => {
    const agg = new Aggregator(options());
    const r = agg.offer(movieEvent({ eventId: '40' }), T0);
    assert.equal(r.outcome, 'released');
    assert.equal(r.mails[0].kind, 'event');
    assert.equal(r.mails[0].best, null);
    assert.equal(r.mails[0].pictures, 0);
    assert.equal(agg.offer(movieEvent({ eventId: '41' }), T0 + S).outcome, 'cooldown');
  });

  it('with movies off, clips are ignored but still end the event', () => {
    const agg = new Aggregator(options({ movies: false }));
    agg.offer(pic(), T0);
    const r = agg.offer(movieEvent(), T0 + S);
    assert.equal(r.outcome, 'ignored');
    assert.equal(r.mails.length, 1);
    assert.equal(r.mails[0].clip, null);
    assert.equal(agg.offer(movieEvent({ eventId: '99' }), T0 + 2 * S).outcome, 'ignored');
    assert.equal(agg.offer(movieEvent(), T0 + 3 * S).mails.length, 0);
  });

  it('the movie of a suppressed event is dropped with it', () => {
    const agg = new Aggregator(options());
    agg.offer(pic({ eventId: '1' }), T0);
    agg.offer(pic({ eventId: '2' }), T0 + S);
    agg.due(T0 + 10 * S);
    assert.equal(agg.offer(movieEvent({ eventId: '2' }), T0 + 11 * S).outcome, 'cooldown');
  });
});

describe('mail aggregation: cooldown', () => {
  it('counts events of the camera during the cooldown and reports them in its next mail', () => {
    const agg = new Aggregator(options({ cooldownMs: 60 * S }));
    agg.offer(pic({ eventId: '1' }), T0);
    const [first] = agg.due(T0 + 5 * S); // mail leaves at T0+5s: cooldown until T0+65s
    assert.equal(first.suppressed, 0);
    assert.equal(agg.offer(pic({ eventId: '2' }), T0 + 10 * S).outcome, 'cooldown');
    assert.equal(agg.offer(pic({ eventId: '2' }), T0 + 11 * S).outcome, 'cooldown'); // same event: counted once
    assert.equal(agg.offer(pic({ eventId: '3' }), T0 + 64 * S).outcome, 'cooldown');
    // Another camera is not affected.
    assert.equal(agg.offer(pic({ camera: 'door', eventId: '2' }), T0 + 20 * S).outcome, 'opened');
    assert.equal(agg.offer(pic({ eventId: '4' }), T0 + 65 * S).outcome, 'opened');
    const mails = agg.due(T0 + 100 * S);
    const yard = mails.find((m) => m.first.camera === 'yard')!;
    const door = mails.find((m) => m.first.camera === 'door')!;
    assert.equal(yard.suppressed, 2);
    assert.equal(yard.first.eventId, '4');
    assert.equal(door.suppressed, 0);
    assert.equal(agg.counters(T0 + 100 * S).suppressed, 2);
  });

  it('a new event while the camera’s previous one is still gathered is suppressed too', () => {
    const agg = new Aggregator(options());
    agg.offer(pic({ eventId: '1' }), T0);
    assert.equal(agg.offer(pic({ eventId: '2' }), T0 + S).outcome, 'cooldown');
    // The count goes into the first mail that leaves after it.
    assert.equal(agg.due(T0 + 10 * S)[0].suppressed, 1);
  });

  it('cooldown 0 mails every event', () => {
    const agg = new Aggregator(options({ cooldownMs: 0 }));
    for (let i = 0; i < 5; i++) assert.equal(agg.offer(pic({ eventId: String(i) }), T0 + i).outcome, 'opened');
    assert.equal(agg.due(T0 + 10 * S).length, 5);
  });
});

describe('mail aggregation: daily cap', () => {
  it('refuses mails beyond the cap, flags the first refusal once, and resets at local midnight', () => {
    const agg = new Aggregator(options({ cooldownMs: 0, dailyCap: 2 }));
    const late = new Date(2025, 5, 1, 23, 50).getTime();
    assert.equal(agg.offer(pic({ eventId: '1' }), late).outcome, 'opened');
    assert.equal(agg.offer(pic({ eventId: '2' }), late + 1).outcome, 'opened');
    const third = agg.offer(pic({ eventId: '3' }), late + 2);
    assert.deepEqual([third.outcome, third.capReached], ['capped', true]);
    const fourth = agg.offer(pic({ eventId: '4' }), late + 3);
    assert.deepEqual([fourth.outcome, fourth.capReached], ['capped', false]);
    assert.equal(agg.offer(pic({ eventId: '3' }), late + 4).outcome, 'capped'); // same event, not counted again
    assert.equal(agg.counters(late + 5).capReached, true);
    assert.equal(agg.counters(late + 5).capped, 2);
    // The first mail to leave after the refusals says how many were held back.
    assert.deepEqual(agg.due(late + 10 * S).map((m) => m.capped), [2, 0]);
    const nextDay = new Date(2025, 5, 2, 0, 0, 30).getTime();
    assert.equal(agg.counters(nextDay).capReached, false);
    assert.equal(agg.offer(pic({ eventId: '6' }), nextDay).outcome, 'opened');
    assert.equal(agg.offer(pic({ eventId: '7' }), nextDay).outcome, 'opened');
    assert.equal(agg.offer(pic({ eventId: '8' }), nextDay).capReached, true); // flagged again on the new day
    assert.deepEqual(agg.due(nextDay + 10 * S).map((m) => m.capped), [1, 0]);
    assert.equal(agg.counters(nextDay + 10 * S).mailsToday, 2);
  });

  it('cap 0 means no limit; mails restored from an earlier run count on the same day only', () => {
    const free = new Aggregator(options({ cooldownMs: 0, dailyCap: 0 }));
    for (let i = 0; i < 300; i++) assert.equal(free.offer(pic({ eventId: String(i) }), T0).outcome, 'opened');
    const sent = (at: number) => [1, 2, 3].map((n) => ({ at: at - n * 1000, key: eventKey(pic({ eventId: `old${n}`, camera: `c${n}` })), agent: 'kitchen', camera: `c${n}` }));
    const restored = new Aggregator(options({ dailyCap: 3, cooldownMs: 0 }));
    restored.restore(sent(T0), T0);
    assert.equal(restored.offer(pic(), T0).outcome, 'capped');
    const otherDay = new Aggregator(options({ dailyCap: 3, cooldownMs: 0 }));
    otherDay.restore(sent(T0 - 24 * 3600 * S), T0);
    assert.equal(otherDay.offer(pic(), T0).outcome, 'opened');
  });

  it('after a restart, a camera mailed just before still cools down and its event counts as mailed', () => {
    const before = new Aggregator(options({ cooldownMs: 60 * S }));
    before.offer(pic({ eventId: '5' }), T0, 'id-a');
    before.offer(pic({ eventId: '5' }), T0 + S, 'id-b');
    const [job] = before.due(T0 + 60 * S);
    assert.deepEqual(job.ids, ['id-a', 'id-b']);
    const after = new Aggregator(options({ cooldownMs: 60 * S }));
    after.restore([{ at: T0 + 60 * S, key: job.key, agent: job.first.agent, camera: job.first.camera }], T0 + 70 * S);
    assert.equal(after.offer(pic({ eventId: '5' }), T0 + 70 * S).outcome, 'late');
    assert.equal(after.offer(pic({ eventId: '6' }), T0 + 80 * S).outcome, 'cooldown');
    assert.equal(after.offer(pic({ eventId: '7' }), T0 + 121 * S).outcome, 'opened');
  });
});

describe('mail aggregation: time filter', () => {
  const at = (h: number, m: number, day = 1) => new Date(2025, 5, day, h, m).toISOString();

  it('a camera limited to 22:00–06:00 mails across midnight only', () => {
    const rules = parseRules([{ match: { camera: 'ir' }, windows: ['22:00-06:00'] }]);
    const agg = new Aggregator(options({ cooldownMs: 0, rules }));
    const cases: [string, string][] = [
      [at(21, 59), 'filtered'],
      [at(22, 0), 'opened'],
      [at(23, 59), 'opened'],
      [at(0, 0, 2), 'opened'],
      [at(5, 59, 2), 'opened'],
      [at(6, 0, 2), 'filtered'],
      [at(12, 0, 2), 'filtered'],
    ];
    cases.forEach(([time, want], i) => assert.equal(agg.offer(pic({ camera: 'ir', eventId: String(i), time }), T0).outcome, want, time));
    // Other cameras are not filtered.
    assert.equal(agg.offer(pic({ camera: 'door', time: at(12, 0) }), T0).outcome, 'opened');
    assert.equal(agg.counters(T0).filtered, 3);
    // A filtered event's later pictures and movie are dropped with it.
    assert.equal(agg.offer(pic({ camera: 'ir', eventId: '0', time: at(22, 30) }), T0).outcome, 'filtered');
  });

  it('the most specific rule wins; agent-wide rules apply to all its cameras', () => {
    const rules = parseRules([
      { match: { agent: 'pi-garden' }, windows: ['08:00-09:00'] },
      { match: { agent: 'pi-garden', camera: 'yard' }, windows: ['12:00-13:00'] },
    ]);
    const agg = new Aggregator(options({ cooldownMs: 0, rules }));
    assert.equal(agg.offer(pic({ camera: 'yard', eventId: 'a', time: at(12, 30) }), T0).outcome, 'opened');
    assert.equal(agg.offer(pic({ camera: 'yard', eventId: 'b', time: at(8, 30) }), T0).outcome, 'filtered');
    assert.equal(agg.offer(pic({ camera: 'door', eventId: 'c', time: at(8, 30) }), T0).outcome, 'opened');
    assert.equal(agg.offer(pic({ camera: 'door', eventId: 'd', time: at(12, 30) }), T0).outcome, 'filtered');
    assert.equal(agg.offer(pic({ agent: 'pi-2', camera: 'door', eventId: 'e', time: at(12, 30) }), T0).outcome, 'opened');
  });

  it('refuses bad rules naming the field', () => {
    assert.throws(() => parseRules([{ match: { camera: 'ir' }, windows: ['22:00-25:00'] }]), /rules\[0\]\.windows\[0\]\.end "25:00"/);
    assert.throws(() => parseRules([{ match: { camera: 'ir' }, windows: [] }]), /rules\[0\]\.windows/);
    assert.throws(() => parseRules([{ match: { camera: 'ir' }, windows: ['22:00-06:00', 'noon'] }]), /rules\[0\]\.windows\[1\] "noon"/);
    assert.throws(() => parseRules([{ match: { camera: 7 as unknown as string }, windows: ['22:00-06:00'] }]), /rules\[0\]\.match\.camera 7/);
    assert.throws(() => parseRules('22:00-06:00'), /^FieldError|rules "22:00-06:00"/);
  });
});

describe('mail aggregation: shutdown', () => {
  it('flush releases everything being gathered', () => {
    const agg = new Aggregator(options({ cooldownMs: 0 }));
    agg.offer(pic({ eventId: '1' }), T0);
    agg.offer(pic({ eventId: '2' }), T0);
    assert.equal(agg.flush(T0 + 1).length, 2);
    assert.equal(agg.nextDue(), null);
    assert.equal(agg.counters(T0 + 1).gathering, 0);
  });
});
