// What dms3-state answered is kept: a real `node-red` process with the hub and the state node, killed
// with SIGKILL right after an answer (no sleep, no flush), then restarted.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeToken, until } from '../support/agent-process';
import { HubRig } from '../support/real-hub';

describe('dms3-state keeps what it answered (real Node-RED, kill -9)', () => {
  const rig = new HubRig({ token: makeToken() });
  before(() => rig.start());
  after(() => rig.close());

  /** Kills Node-RED at once (the caller has just had its answer), restarts it, returns /api/state. */
  async function killAndRestart() {
    await rig.stopNodeRed('SIGKILL');
    await rig.restartNodeRed();
    return until(() => rig.state().catch(() => null), 15_000, 'the state after the restart');
  }

  it('an override answered by POST /api/override survives a kill -9 right after the answer', async () => {
    for (const mode of ['stop', 'start'] as const) {
      const r = await rig.api<{ state: string; reason: string; override: string }>('POST', '/api/override', { mode });
      assert.equal(r.status, 200, r.text);
      const s = await killAndRestart();
      assert.deepEqual([s.state, s.reason, s.override], [mode, 'override', mode], `after ${mode}`);
    }
  });

  it('an override from the flow (http in → dms3-state, answered when done) survives a kill -9 right after the answer', async () => {
    await rig.feed('override', 'stop');
    const s = await killAndRestart();
    assert.deepEqual([s.state, s.reason, s.override], ['stop', 'override', 'stop']);
  });

  it('stop, then auto, with presence unknown: the configured start-up state ("start"), also after a kill -9', async () => {
    assert.equal((await rig.api('POST', '/api/override', { mode: 'stop' })).status, 200);
    const r = await rig.api<{ state: string; reason: string; override: string }>('POST', '/api/override', { mode: 'auto' });
    assert.deepEqual([r.json.state, r.json.reason, r.json.override], ['start', 'startup', 'auto']);
    const s = await killAndRestart();
    assert.deepEqual([s.state, s.reason, s.override], ['start', 'startup', 'auto']);
  });

  it('a state kept by an older version in the node context is taken over once', async () => {
    await rig.stopNodeRed('SIGTERM');
    rmSync(rig.keptFile);
    const since = '2026-01-01T08:00:00.000Z';
    const contextFile = join(rig.userDir, 'context', 'tab1', 'state1.json');
    mkdirSync(join(rig.userDir, 'context', 'tab1'), { recursive: true });
    writeFileSync(contextFile, JSON.stringify({ dms3: { override: 'stop', last: { state: 'stop', reason: 'override', since, override: 'stop' } } }));
    await rig.restartNodeRed();
    const s = await until(() => rig.state().catch(() => null), 15_000, 'the state after the restart');
    assert.deepEqual([s.state, s.reason, s.override, s.since], ['stop', 'override', 'stop', since]);
    assert.equal(JSON.parse(readFileSync(rig.keptFile, 'utf8')).override, 'stop', 'now in its own file');
    // The old key is removed (the context store flushes it within a second here).
    await until(() => existsSync(contextFile) && !('dms3' in JSON.parse(readFileSync(contextFile, 'utf8') || '{}')), 15_000, 'the old context key removed');
    // From now on the file is what counts: an override, a kill, and the old key does not come back.
    assert.equal((await rig.api('POST', '/api/override', { mode: 'auto' })).status, 200);
    const again = await killAndRestart();
    assert.deepEqual([again.state, again.reason, again.override], ['start', 'startup', 'auto']);
  });
});
