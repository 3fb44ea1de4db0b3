import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { combineHome, decide, isOverride, type Override, type Surveillance } from '../../lib/policy';

describe('decide', () => {
  it('matches the policy exhaustively', () => {
    const homes = [true, false, null] as const;
    const overrides: Override[] = ['auto', 'start', 'stop'];
    const startups: Surveillance[] = ['start', 'stop'];
    let cases = 0;
    for (const home of homes)
      for (const alwaysOn of [true, false])
        for (const override of overrides)
          for (const startup of startups) {
            const d = decide({ home, alwaysOn, override, startup });
            cases++;
            if (override !== 'auto') assert.deepEqual(d, { state: override, reason: 'override' });
            else if (alwaysOn) assert.deepEqual(d, { state: 'start', reason: 'always-on' });
            else if (home === false) assert.deepEqual(d, { state: 'start', reason: 'nobody-home' });
            else if (home === true) assert.deepEqual(d, { state: 'stop', reason: 'someone-home' });
            else assert.deepEqual(d, { state: startup, reason: 'startup' });
          }
    assert.equal(cases, 36);
  });
});

describe('combineHome', () => {
  it('is home while any source says home, away only when all know', () => {
    assert.equal(combineHome([]), null);
    assert.equal(combineHome([false, true, null]), true);
    assert.equal(combineHome([false, false]), false);
    assert.equal(combineHome([false, null]), null);
  });
  it('recognises override modes', () => {
    assert.ok(isOverride('auto') && isOverride('start') && isOverride('stop'));
    assert.ok(!isOverride('Start') && !isOverride(undefined));
  });
});
