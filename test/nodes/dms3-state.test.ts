import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import fc from 'fast-check';
import stateNode from '../../nodes/dms3-state/dms3-state';
import type { Surveillance } from '../../lib/policy';
import { tempDir } from '../support/agent-process';
import { assertTrue, stepArb, World } from '../support/policy-model';
import { collect, helper, nextMessage, waitFor } from '../support/red';

const userDir = tempDir('dms3-state-test-');
const keptFile = (id = 's') => join(userDir.dir, 'dms3', `state-${id}.json`);

const flow = (extra: Record<string, unknown> = {}) => [
  { id: 's', type: 'dms3-state', name: '', startup: 'start', wires: [['out']], ...extra },
  { id: 'out', type: 'helper' },
];

/** The state flow with a `complete` node: it fires once dms3-state called done() for an input. */
const keptFlow = (startup: Surveillance = 'start') => [
  { id: 's', type: 'dms3-state', name: '', startup, wires: [['out']] },
  { id: 'out', type: 'helper' },
  { id: 'c', type: 'complete', scope: ['s'], uncaught: false, wires: [['done']] },
  { id: 'done', type: 'helper' },
];

/** Loads the kept flow; resolves with the decisions seen and a `send` that resolves when the input is done. */
async function loadKept(startup: Surveillance = 'start') {
  await helper.load(stateNode, keptFlow(startup));
  const seen = collect(helper.getNode('out'));
  const dones = collect(helper.getNode('done'));
  await waitFor(() => seen.length === 1, 5000, 'the announcement at deploy');
  const s = helper.getNode('s');
  return {
    seen,
    async send(topic: string, payload: unknown) {
      const n = dones.length;
      s.receive({ topic, payload });
      await waitFor(() => dones.length > n, 5000, `done for ${topic}`);
    },
  };
}

describe('dms3-state node', () => {
  before(() => helper.settings({ userDir: userDir.dir }));
  afterEach(() => helper.unload());
  after(() => {
    userDir.remove();
    return helper.stopServer();
  });

  it('announces the start-up state at deploy (fail-secure default)', async () => {
    await helper.load(stateNode, flow());
    const msg = await nextMessage(helper.getNode('out'));
    assert.equal(msg.topic, 'state');
    assert.equal(msg.payload.state, 'start');
    assert.equal(msg.payload.reason, 'startup');
    assert.equal(msg.payload.override, 'auto');
    assert.ok(!Number.isNaN(Date.parse(msg.payload.since)));
  });

  it('stops when someone is home, starts when the last one leaves, and Always On wins', async () => {
    await helper.load(stateNode, flow({ startup: 'stop' }));
    const seen = collect(helper.getNode('out'));
    const s = helper.getNode('s');
    await waitFor(() => seen.length === 1, 2000, 'initial state');
    s.receive({ topic: 'presence', payload: { home: true } });
    await waitFor(() => seen.length === 2);
    assert.deepEqual([seen[1].payload.state, seen[1].payload.reason], ['stop', 'someone-home']);
    s.receive({ topic: 'always-on', payload: { active: true } });
    await waitFor(() => seen.length === 3);
    assert.deepEqual([seen[2].payload.state, seen[2].payload.reason], ['start', 'always-on']);
    s.receive({ topic: 'always-on', payload: { active: false } });
    s.receive({ topic: 'presence', payload: { home: false } });
    await waitFor(() => seen.length === 5);
    assert.deepEqual([seen[4].payload.state, seen[4].payload.reason], ['start', 'nobody-home']);
    // A repeated, unchanged input sends nothing.
    s.receive({ topic: 'presence', payload: { home: false } });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(seen.length, 5);
  });

  it('combines presence sources: home while any says home', async () => {
    await helper.load(stateNode, flow());
    const seen = collect(helper.getNode('out'));
    const s = helper.getNode('s');
    await waitFor(() => seen.length === 1);
    s.receive({ topic: 'presence', payload: { home: false, source: 'lan' } });
    s.receive({ topic: 'presence', payload: { home: true, source: 'ha' } });
    await waitFor(() => seen.at(-1)?.payload.reason === 'someone-home');
    s.receive({ topic: 'presence', payload: { home: false, source: 'ha' } });
    await waitFor(() => seen.at(-1)?.payload.reason === 'nobody-home');
  });

  it('obeys a manual override until "auto"', async () => {
    await helper.load(stateNode, flow());
    const seen = collect(helper.getNode('out'));
    const s = helper.getNode('s');
    await waitFor(() => seen.length === 1);
    s.receive({ topic: 'presence', payload: { home: true } });
    s.receive({ topic: 'override', payload: 'start' });
    await waitFor(() => seen.at(-1)?.payload.override === 'start');
    assert.deepEqual([seen.at(-1)!.payload.state, seen.at(-1)!.payload.reason], ['start', 'override']);
    s.receive({ topic: 'override', payload: 'auto' });
    await waitFor(() => seen.at(-1)?.payload.override === 'auto');
    assert.equal(seen.at(-1)!.payload.state, 'stop');
  });

  it('refuses bad input with an error naming the field and value, and a red status', async () => {
    await helper.load(stateNode, flow());
    const s = helper.getNode('s');
    const statuses: any[] = [];
    s.on('call:status', (call: any) => statuses.push(call.args[0]));
    const errors: string[] = [];
    s.on('call:error', (call: any) => errors.push(String(call.args[0])));
    s.receive({ topic: 'override', payload: 'sometimes' });
    s.receive({ topic: 'weather', payload: 1 });
    s.receive({ topic: 'presence', payload: { home: 'yes' } });
    await waitFor(() => errors.length === 3, 2000, 'three errors');
    assert.match(errors[0], /msg\.payload "sometimes"/);
    assert.match(errors[1], /msg\.topic "weather"/);
    assert.match(errors[2], /msg\.payload\.home "yes"/);
    assert.ok(statuses.some((st) => st.fill === 'red'));
  });

  it('has the override and decision in its own file before done(), and a restart keeps the override', async () => {
    const a = await loadKept();
    await a.send('override', 'stop');
    // done() came: the file already says so (nothing waits for a flush).
    const kept = JSON.parse(readFileSync(keptFile(), 'utf8'));
    assert.equal(kept.override, 'stop');
    assert.deepEqual([kept.last.state, kept.last.reason], ['stop', 'override']);
    await helper.unload();
    const b = await loadKept();
    assert.deepEqual([b.seen[0].payload.state, b.seen[0].payload.reason, b.seen[0].payload.override], ['stop', 'override', 'stop']);
    assert.equal(b.seen[0].payload.since, kept.last.since, 'the same state since the same time');
    await b.send('override', 'auto');
  });

  it('stop, then auto, with presence unknown: the configured start-up state, also across a restart', async () => {
    for (const startup of ['start', 'stop'] as const) {
      const a = await loadKept(startup);
      await a.send('override', startup === 'start' ? 'stop' : 'start');
      await a.send('override', 'auto');
      assert.deepEqual([a.seen.at(-1)!.payload.state, a.seen.at(-1)!.payload.reason], [startup, 'startup']);
      await a.send('presence', { home: true });
      await helper.unload();
      // Someone was home before the restart; now nobody knows: the start-up state, with a true reason.
      const b = await loadKept(startup);
      assert.deepEqual([b.seen[0].payload.state, b.seen[0].payload.reason], [startup, 'startup']);
      await helper.unload();
    }
  });

  it('a kept file it cannot read: a warning and the start-up state (fail-secure), then a good file again', async () => {
    writeFileSync(keptFile(), '{"override": "st');
    await helper.load(stateNode, keptFlow());
    const msg = await nextMessage(helper.getNode('out'));
    assert.deepEqual([msg.payload.state, msg.payload.reason, msg.payload.override], ['start', 'startup', 'auto']);
    await waitFor(() => JSON.parse(readFileSync(keptFile(), 'utf8')).override === 'auto', 5000, 'the file rewritten');
    const warnings = (helper.log() as any).args.map((a: any[]) => a[0]).filter((e: any) => e.level === (helper.log() as any).WARN && e.id === 's');
    assert.ok(warnings.some((e: any) => /the kept state is unreadable/.test(String(e.msg))), JSON.stringify(warnings));
  });

  it('a write that fails: the decision is in force, done(err) says it is not kept, the status is red', { skip: process.getuid?.() === 0 ? 'root can write anywhere' : false }, async () => {
    const a = await loadKept();
    const s = helper.getNode('s');
    const errors: string[] = [];
    s.on('call:error', (call: any) => errors.push(String(call.args[0])));
    const dir = join(userDir.dir, 'dms3');
    chmodSync(dir, 0o500);
    try {
      s.receive({ topic: 'override', payload: 'stop' });
      await waitFor(() => errors.some((e) => /not kept across a restart: EACCES/.test(e)), 5000, 'the error');
      assert.equal(a.seen.at(-1)!.payload.state, 'stop', 'the decision still applies');
      assert.ok(!errors.some((e) => e.includes(userDir.dir)), 'no file path in the error');
    } finally {
      chmodSync(dir, 0o700);
    }
    await a.send('override', 'auto');
    assert.equal(JSON.parse(readFileSync(keptFile(), 'utf8')).override, 'auto', 'kept again once the disk works');
  });

  it('property: through the real node, over random presence, windows, overrides and restarts, the decision shown is the policy for the inputs now', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<Surveillance>('start', 'stop'), fc.array(stepArb, { maxLength: 14 }), async (startup, steps) => {
        if (existsSync(keptFile())) writeFileSync(keptFile(), JSON.stringify({ override: 'auto', last: null }));
        const world = new World();
        let run = await loadKept(startup);
        try {
          assertTrue(world, startup, run.seen.at(-1)!.payload);
          for (const step of steps) {
            world.step(step);
            if (step.kind === 'restart') {
              await helper.unload();
              run = await loadKept(startup);
            } else if (step.kind === 'presence') await run.send('presence', { home: step.home, source: step.source });
            else if (step.kind === 'always-on') await run.send('always-on', { active: step.active });
            else await run.send('override', step.mode);
            assertTrue(world, startup, run.seen.at(-1)!.payload);
          }
        } finally {
          await helper.unload();
        }
      }),
      { numRuns: 40 },
    );
  });
});
