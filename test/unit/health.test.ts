import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { classify, DEFAULT_THRESHOLDS, msUntilChange, parseThresholds, type HealthLevel } from '../../lib/health';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const at = (ms: number) => new Date(T0 - ms).toISOString(); // a report `ms` before T0
const RANK: Record<HealthLevel, number> = { ok: 0, warning: 1, danger: 2, missing: 3 };

describe('health classification', () => {
  it('turns yellow, red and missing exactly at the thresholds', () => {
    const t = { warning: 30, danger: 120, missing: 86400 };
    const cases: [number, HealthLevel][] = [
      [0, 'ok'],
      [29_999, 'ok'],
      [30_000, 'warning'],
      [119_999, 'warning'],
      [120_000, 'danger'],
      [86_399_999, 'danger'],
      [86_400_000, 'missing'],
    ];
    for (const [age, level] of cases) assert.equal(classify(at(age), T0, t), level, `${age} ms`);
  });

  it('calls a report from the future (clock skew) ok, and an unreadable time missing', () => {
    assert.equal(classify(new Date(T0 + 60_000).toISOString(), T0, DEFAULT_THRESHOLDS), 'ok');
    assert.equal(classify('not a date', T0, DEFAULT_THRESHOLDS), 'missing');
  });

  it('defaults suit a 15 s report interval', () => {
    assert.deepEqual(DEFAULT_THRESHOLDS, { warning: 30, danger: 120, missing: 86400 });
  });

  it('only gets worse with age, and says when it next changes', () => {
    const t = { warning: 2, danger: 5, missing: 9 };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 12_000 }), fc.integer({ min: 0, max: 12_000 }), (a, b) => {
        const [young, old] = a <= b ? [a, b] : [b, a];
        assert.ok(RANK[classify(at(young), T0, t)] <= RANK[classify(at(old), T0, t)]);
        const wait = msUntilChange(at(young), T0, t);
        const level = classify(at(young), T0, t);
        if (wait === null) return assert.equal(level, 'missing');
        assert.ok(wait > 0);
        assert.equal(classify(at(young), T0 + wait - 1, t), level);
        assert.notEqual(classify(at(young), T0 + wait, t), level);
      }),
    );
  });
});

describe('health thresholds', () => {
  it('takes numbers or numeric strings, and defaults for empty fields', () => {
    assert.deepEqual(parseThresholds({}), DEFAULT_THRESHOLDS);
    assert.deepEqual(parseThresholds({ warning: '2', danger: 4.5, missing: '' }), { warning: 2, danger: 4.5, missing: 86400 });
  });

  it('names the field and value of a bad threshold', () => {
    assert.throws(() => parseThresholds({ warning: 'soon' }), /^FieldError: warning "soon": expected seconds/);
    assert.throws(() => parseThresholds({ danger: -1 }), /danger -1: expected seconds/);
    assert.throws(() => parseThresholds({ missing: 1e12 }), /missing 1000000000000: expected seconds/);
    assert.throws(() => parseThresholds({ warning: 60, danger: 60 }), /danger 60: must be more than warning \(60 s\)/);
    assert.throws(() => parseThresholds({ danger: 100000 }), /missing 86400: must be more than danger \(100000 s\)/);
  });
});
