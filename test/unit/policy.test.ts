import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { combineHome, decide, isOverride, parseKept, PolicyState, type Override, type Surveillance } from '../../lib/policy';
import { assertTrue, stepArb, World } from '../support/policy-model';

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

describe('PolicyState', () => {
  it('with presence unknown, stop then auto gives the configured start-up state (not the last state)', () => {
    for (const startup of ['start', 'stop'] as const) {
      const p = new PolicyState(startup);
      p.setOverride('stop');
      assert.equal(p.evaluate().payload.state, 'stop');
      p.setOverride('start');
      p.evaluate();
      p.setOverride(startup === 'start' ? 'stop' : 'start');
      p.evaluate();
      p.setOverride('auto');
      assert.deepEqual((({ state, reason }) => ({ state, reason }))(p.evaluate().payload), { state: startup, reason: 'startup' });
    }
  });

  it('after a restart keeps the override, decides afresh for unknown presence, and keeps `since` only for the same state', () => {
    const before = new PolicyState('start');
    before.setPresence('lan', true);
    const stopped = before.evaluate(new Date('2026-01-01T10:00:00Z')).payload;
    assert.deepEqual([stopped.state, stopped.reason], ['stop', 'someone-home']);
    const after = new PolicyState('start', before.kept);
    const now = after.evaluate(new Date('2026-01-01T11:00:00Z'));
    assert.deepEqual([now.payload.state, now.payload.reason, now.payload.since, now.changed], ['start', 'startup', '2026-01-01T11:00:00.000Z', true]);

    before.setOverride('stop');
    const kept = before.evaluate(new Date('2026-01-01T12:00:00Z')).payload;
    const again = new PolicyState('start', before.kept).evaluate(new Date('2026-01-01T13:00:00Z'));
    assert.deepEqual([again.payload.state, again.payload.reason, again.payload.since, again.changed], ['stop', 'override', kept.since, false]);
  });

  it('reads back only what it wrote', () => {
    const p = new PolicyState('stop');
    p.setOverride('start');
    p.evaluate();
    assert.deepEqual(parseKept(JSON.parse(JSON.stringify(p.kept))), p.kept);
    assert.equal(parseKept(null), null);
    assert.equal(parseKept({ override: 'sometimes' }), null);
    assert.deepEqual(parseKept({ override: 'stop', last: { state: 'maybe' } }), { override: 'stop', last: null });
    assert.deepEqual(parseKept({ override: 'auto' }), { override: 'auto', last: null });
  });

  it('property: over random presence, windows, overrides and restarts, the decision is always the policy for the inputs now, with a true reason', () => {
    fc.assert(
      fc.property(fc.constantFrom<Surveillance>('start', 'stop'), fc.array(stepArb, { maxLength: 40 }), (startup, steps) => {
        const world = new World();
        let p = new PolicyState(startup);
        let t = Date.parse('2026-01-01T00:00:00Z');
        let last = p.evaluate(new Date(t));
        assertTrue(world, startup, last.payload);
        for (const s of steps) {
          world.step(s);
          if (s.kind === 'restart') p = new PolicyState(startup, parseKept(JSON.parse(JSON.stringify(p.kept))));
          else if (s.kind === 'presence') p.setPresence(s.source, s.home);
          else if (s.kind === 'always-on') p.setAlwaysOn(s.active);
          else p.setOverride(s.mode);
          const next = p.evaluate(new Date((t += 1000)));
          assertTrue(world, startup, next.payload);
          // `since` moves exactly when the state does, restarts included.
          assert.equal(next.payload.since === last.payload.since, next.payload.state === last.payload.state);
          last = next;
        }
      }),
      { numRuns: 500 },
    );
  });
});
