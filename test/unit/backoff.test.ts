import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Backoff, backoffDelay } from '../../lib/backoff';

describe('backoff with jitter', () => {
  it('stays within [ceiling/2, ceiling] where the ceiling doubles up to the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 120_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, baseMs, maxMs, r) => {
        const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
        const d = backoffDelay(attempt, { baseMs, maxMs, random: () => r });
        assert.ok(d >= Math.floor(ceiling / 2) && d <= Math.ceil(ceiling), `attempt ${attempt}: ${d} outside [${ceiling / 2}, ${ceiling}]`);
        assert.ok(d <= maxMs);
      }),
    );
  });

  it('grows 1, 2, 4, 8 … s and is capped (extremes of the jitter)', () => {
    const low = new Backoff({ baseMs: 1000, maxMs: 30_000, random: () => 0 });
    const high = new Backoff({ baseMs: 1000, maxMs: 30_000, random: () => 0.999999 });
    const lows = Array.from({ length: 8 }, () => low.next());
    const highs = Array.from({ length: 8 }, () => high.next());
    assert.deepEqual(lows, [500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
    assert.deepEqual(highs, [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('never retries at once, and reset() starts over', () => {
    const b = new Backoff({ baseMs: 1000, maxMs: 30_000 });
    for (let i = 0; i < 50; i++) assert.ok(b.next() >= 500);
    assert.equal(b.attempts, 50);
    b.reset();
    assert.equal(b.attempts, 0);
    assert.ok(b.next() <= 1000);
  });

  it('spreads agents that retry together (jitter is not constant)', () => {
    const delays = new Set(Array.from({ length: 20 }, () => backoffDelay(5, { baseMs: 1000, maxMs: 30_000 })));
    assert.ok(delays.size > 10, `only ${delays.size} distinct delays`);
  });

  it('a lower cap for one delay keeps its jitter and the attempt count', () => {
    const b = new Backoff({ baseMs: 1000, maxMs: 30_000 });
    for (let i = 0; i < 6; i++) b.next();
    const capped = Array.from({ length: 50 }, () => b.next(2000));
    assert.ok(capped.every((d) => d >= 1000 && d <= 2000), String(capped));
    assert.ok(new Set(capped).size > 10, 'still jittered');
    assert.ok(b.next() >= 15_000, 'the uncapped delay is where the attempts left it');
    assert.ok(new Backoff({ baseMs: 1000, maxMs: 500 }).next(2000) <= 500, 'never above the configured cap');
  });
});
