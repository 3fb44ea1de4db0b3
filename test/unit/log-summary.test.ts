import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogSummary } from '../../lib/log-summary';

describe('LogSummary', () => {
  it('logs the first few of a kind, counts the rest and summarises them when the window ends', () => {
    const s = new LogSummary({ windowMs: 60_000, burst: 2 });
    const lines: string[] = [];
    for (let i = 0; i < 1000; i++) lines.push(...s.note('bad frames from the hub', `bad frame ${i}`, 1000 + i));
    assert.deepEqual(lines, ['bad frame 0', 'bad frame 1']);
    assert.deepEqual(s.flush(30_000), []);
    const [summary] = s.flush(61_000);
    assert.match(summary, /^1,000 bad frames from the hub in the last 60 s \(998 not logged one by one; last: bad frame 999\)$/);
    assert.deepEqual(s.flush(200_000), []);
  });

  it('summarises the previous window before a new one starts', () => {
    const s = new LogSummary({ windowMs: 10, burst: 1 });
    assert.deepEqual(s.note('k', 'a', 0), ['a']);
    assert.deepEqual(s.note('k', 'b', 5), []);
    const out = s.note('k', 'c', 10);
    assert.equal(out.length, 2);
    assert.match(out[0], /^2 k in the last 0 s/);
    assert.equal(out[1], 'c');
  });

  it('tracks a bounded number of kinds', () => {
    const s = new LogSummary({ windowMs: 1000, burst: 0, maxKinds: 3 });
    const out: string[] = [];
    for (let i = 0; i < 100; i++) out.push(...s.note(`kind ${i}`, 'x', 0));
    assert.equal(out.length, 97); // every kind pushed out was summarised
    assert.equal(s.flush(0, true).length, 3);
  });
});
