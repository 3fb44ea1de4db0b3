// A model of the world around dms3-state for property tests: random steps (presence per source,
// Always On windows, overrides, restarts), what the inputs are after them, and an independent check
// that a decision shown is the policy's for those inputs and that its reason is true of them.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { combineHome, decide, type Override, type Surveillance } from '../../lib/policy';

/** One step of what can happen to the state node. */
export type Step =
  | { kind: 'presence'; source: 'lan' | 'ha'; home: boolean | null }
  | { kind: 'always-on'; active: boolean }
  | { kind: 'override'; mode: Override }
  | { kind: 'restart' };

export const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('presence' as const), source: fc.constantFrom('lan' as const, 'ha' as const), home: fc.constantFrom(true, false, null) }),
  fc.record({ kind: fc.constant('always-on' as const), active: fc.boolean() }),
  fc.record({ kind: fc.constant('override' as const), mode: fc.constantFrom<Override>('auto', 'start', 'stop') }),
  fc.constant({ kind: 'restart' as const }),
);

/** What the inputs are now, as the outside world knows them: a restart forgets presence and windows. */
export class World {
  sources = new Map<string, boolean | null>();
  alwaysOn = false;
  override: Override = 'auto';
  step(s: Step): void {
    if (s.kind === 'presence') this.sources.set(s.source, s.home);
    else if (s.kind === 'always-on') this.alwaysOn = s.active;
    else if (s.kind === 'override') this.override = s.mode;
    else {
      this.sources.clear();
      this.alwaysOn = false; // until the schedule speaks again
    }
  }
}

/** Asserts that the decision shown is the policy's for the world now, and that its reason is true of it. */
export function assertTrue(world: World, startup: Surveillance, shown: { state: string; reason: string; override: string }): void {
  const homes = [...world.sources.values()];
  const someoneHome = homes.includes(true);
  const allAway = homes.length > 0 && homes.every((h) => h === false);
  assert.equal(shown.override, world.override, 'the override in force is the last one made');
  switch (shown.reason) {
    case 'override':
      assert.ok(world.override !== 'auto', 'reason "override" without an override');
      assert.equal(shown.state, world.override);
      break;
    case 'always-on':
      assert.ok(world.override === 'auto' && world.alwaysOn, 'reason "always-on" without a window');
      assert.equal(shown.state, 'start');
      break;
    case 'nobody-home':
      assert.ok(world.override === 'auto' && !world.alwaysOn && allAway, `reason "nobody-home" with presence ${JSON.stringify(homes)}`);
      assert.equal(shown.state, 'start');
      break;
    case 'someone-home':
      assert.ok(world.override === 'auto' && !world.alwaysOn && someoneHome, `reason "someone-home" with presence ${JSON.stringify(homes)}`);
      assert.equal(shown.state, 'stop');
      break;
    case 'startup':
      assert.ok(world.override === 'auto' && !world.alwaysOn && !someoneHome && !allAway, `reason "startup" with presence ${JSON.stringify(homes)}`);
      assert.equal(shown.state, startup, 'presence unknown: the configured start-up state holds, whatever came before');
      break;
    default:
      assert.fail(`unknown reason ${shown.reason}`);
  }
  const d = decide({ home: combineHome(world.sources.values()), alwaysOn: world.alwaysOn, override: world.override, startup });
  assert.deepEqual([shown.state, shown.reason], [d.state, d.reason]);
}
