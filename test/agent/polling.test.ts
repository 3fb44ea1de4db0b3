// The agent as a real process in polling mode (server: http://…/dms3): GET /api/state, POST /api/report,
// against the real hub (a `node-red` process, test/support/real-hub.ts); and, with the test double, a
// hub that forgot the agent between two polls.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestHub } from '../support/agent-hub';
import { makeToken, startAgent, tempDir, until, writeConfig } from '../support/agent-process';
import { agentSetup, HubRig } from '../support/real-hub';

describe('agent over HTTP polling (separate process, real hub)', () => {
  const token = makeToken();
  const rig = new HubRig({ token });
  before(() => rig.start());
  after(() => rig.close());

  it('polls the state, applies it and reports hello, applied and health', async () => {
    await rig.feed('always-on', { active: true });
    const a = agentSetup(rig.dir, { name: 'poller', server: rig.httpUrl, mode: 'command' });
    const run = rig.agent(a.config);
    const started = await rig.converged(['poller'], 'start');
    assert.equal(started.state.reason, 'always-on');
    const entry = started.agents[0];
    assert.deepEqual([entry.transport, entry.address, entry.motion, entry.reportInterval], ['http', '127.0.0.1', 'running', 2]);
    assert.ok(existsSync(join(a.dir, 'running')));
    await run.waitForOutput(/connected to the hub at http:\/\/127\.0\.0\.1:\d+\/dms3 \(polling every 1 s\)/);

    await rig.feed('always-on', { active: false });
    await rig.feed('presence', { home: true, source: 'test' });
    const stopped = await rig.converged(['poller'], 'stop');
    assert.equal(stopped.agents[0].motion, 'stopped');
    assert.ok(!existsSync(join(a.dir, 'running')));
    assert.deepEqual(a.commands(), ['start', 'stop']);
    // Health reports keep it current (every report_interval, 2 s).
    const seen = stopped.agents[0].lastReport;
    await until(async () => ((await rig.agentList()).find((x) => x.name === 'poller')?.lastReport ?? '') > seen, 15_000, 'a later health report');
    assert.doesNotMatch(run.output(), /could not send/, 'the hub took every report');
    assert.ok(!run.output().includes(token), 'no token in the log');
    await rig.stopAgent(run);
  });

  it('a refused token is logged as a 401 and retried', async () => {
    const wrong = makeToken();
    const a = agentSetup(rig.dir, { name: 'poll-refused', server: `${rig.httpUrl}/`, mode: 'noop' });
    const run = rig.agent(a.config, wrong);
    await run.waitForOutput(/ERROR the hub refused the token \(HTTP 401 Unauthorized\).*retrying in[\s\S]*401 Unauthorized.*retrying in/, 20_000);
    assert.ok(!(await rig.agentList()).some((x) => x.name === 'poll-refused'));
    assert.ok(!run.output().includes(wrong));
    await rig.stopAgent(run);
  });
});

describe('agent over HTTP polling (test double: a hub that forgets the agent)', () => {
  it('says hello again when the hub answers 409 (restarted between two polls), and confirms the state', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.remove());
    const token = makeToken();
    const hub = await startTestHub({ token, state: 'start', reason: 'always-on' });
    t.after(() => hub.close());
    const config = writeConfig(tmp.dir, `server: ${hub.httpUrl}\nname: forgotten\nmotion:\n  mode: command\n  start: "true"\n  stop: "true"\npoll_interval: 1\nreport_interval: 600\n`);
    const agent = startAgent(['run', '--config', config, '--log-level', 'debug'], { DMS3_TOKEN: token });
    t.after(async () => {
      await agent.stop('SIGKILL');
    });
    await until(() => hub.of('applied').find((a) => a.seq === 1), 15_000, 'applied start');
    // The health that follows the applied (Motion and "applied" changed) re-registers the agent as it
    // does at the real hub: forget only once it is in, or the 409 may never come.
    await until(() => hub.received.findIndex((r) => r.msg.type === 'health') > hub.received.findIndex((r) => r.msg.type === 'applied'), 15_000, 'health after applied');
    assert.equal(hub.of('hello').length, 1);

    hub.forget();
    const stop = hub.setState('stop');
    // The applied for seq 2 is refused (409): the agent says hello again and confirms the state anew.
    await agent.waitForOutput(/could not send applied to the hub: HTTP 409/);
    const confirmed = await until(() => hub.of('applied').find((a) => a.seq === stop.seq), 15_000, 'applied stop after a new hello');
    assert.deepEqual([confirmed.state, confirmed.ok], ['stop', true]);
    assert.equal(hub.of('hello').length, 2);
    const order = hub.received.map((r) => r.msg.type);
    assert.ok(order.lastIndexOf('hello') < order.lastIndexOf('applied'), `hello before applied: ${order.join(', ')}`);
    assert.deepEqual(hub.invalid, []);
    assert.ok(hub.received.every((r) => r.via === 'poll'));
  });
});
