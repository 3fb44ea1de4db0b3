// The agent as a real process (node dist/agent/cli.js run) over WebSocket against the real hub: a
// `node-red` process running dms3-server and dms3-state (test/support/real-hub.ts). What the agent does
// to Motion is seen on disk (pid and marker files); what it reports is seen in the hub's registry and in
// dms3-agents' events. Hub restarts, server-lost and Motion supervision: test/integration/.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { alive, makeToken, until } from '../support/agent-process';
import { freePort } from '../support/node-red-process';
import { agentSetup, HubRig, type AgentSetup } from '../support/real-hub';

async function readPid(file: string): Promise<number> {
  return until(() => {
    if (!existsSync(file)) return null;
    const pid = Number(readFileSync(file, 'utf8'));
    return pid > 0 && alive(pid) ? pid : null;
  }, 15_000, `pid file ${file}`);
}

describe('agent over WebSocket (separate process, real hub)', () => {
  const token = makeToken();
  const rig = new HubRig({ token });
  before(() => rig.start());
  after(() => rig.close());

  /** The hub decides `state` (presence through the flow) and the agent must apply it. */
  async function decide(state: 'start' | 'stop'): Promise<void> {
    await rig.feed('presence', { home: state === 'stop', source: 'test' });
  }

  function noTokenIn(a: { output(): string }): void {
    assert.ok(!a.output().includes(token), 'the token never appears in the log');
  }

  it('process mode: says hello, applies start (child runs) and stop (child ends), confirming each', async () => {
    await decide('start');
    const a = agentSetup(rig.dir, { name: 'ws-process', server: rig.wsUrl, mode: 'process' });
    const run = rig.agent(a.config);
    const { state, agents } = await rig.converged([a.name], 'start');
    assert.deepEqual([agents[0].motion, agents[0].transport, agents[0].reportInterval], ['running', 'ws', 2]);
    assert.ok(rig.events().some((e) => e.event === 'applied' && e.agent.name === a.name && e.detail === `start (seq ${state.seq})`));
    const pid = await readPid(a.pidFile);

    await decide('stop');
    const stopped = await rig.converged([a.name], 'stop');
    assert.equal(stopped.agents[0].motion, 'stopped');
    assert.ok(!alive(pid), 'the child is gone');
    assert.ok(!existsSync(a.pidFile), 'the child exited through its SIGTERM handler');
    noTokenIn(run);
    await rig.stopAgent(run);
  });

  it('SIGTERM closes the connection, stops the child and exits 0 (an audio cue that cannot play is only a warning)', async () => {
    await decide('start');
    const extra = 'audio:\n  player: /nonexistent/player\n  start: /nonexistent/start.wav\n';
    const a = agentSetup(rig.dir, { name: 'ws-sigterm', server: rig.wsUrl, mode: 'process', extra });
    const run = rig.agent(a.config);
    await rig.converged([a.name], 'start');
    await run.waitForOutput(/WARN audio cue: cannot run \/nonexistent\/player/);
    const pid = await readPid(a.pidFile);
    const mark = rig.events().length;
    const exit = await run.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(!alive(pid), 'the child was stopped');
    assert.ok(!existsSync(a.pidFile), 'the child exited through its SIGTERM handler');
    assert.match(run.output(), /SIGTERM: stopping/);
    assert.match(run.output(), /INFO stopped/);
    // The hub saw a clean goodbye.
    const gone = await until(() => rig.events().slice(mark).find((e) => e.event === 'disconnected' && e.agent.name === a.name), 15_000, 'disconnected event');
    assert.equal(gone.detail, 'connection closed (1001 agent stopping)');
    noTokenIn(run);
  });

  it('command mode: runs the start and stop commands once per change (idempotent), plays the cues, counts media', async () => {
    await decide('start');
    const dir = join(rig.dir, 'cmd-media');
    const media = join(dir, 'media');
    mkdirSync(join(media, '20250101'), { recursive: true });
    for (const f of ['a.jpg', 'b.jpg', '20250101/c.mkv']) writeFileSync(join(media, f), 'x');
    const cue = (s: string) => join(dir, `cue-${s}`);
    const extra = `media_dir: ${media}\naudio:\n  player: touch\n  start: ${cue('start')}\n  stop: ${cue('stop')}\n`;
    const a: AgentSetup = agentSetup(rig.dir, { name: 'ws-command', server: rig.wsUrl, mode: 'command', extra });
    const run = rig.agent(a.config);
    const first = await rig.converged([a.name], 'start');
    assert.deepEqual(a.commands(), ['start']);
    assert.equal(first.agents[0].events, 3, 'media files counted, subfolders included');
    await until(() => existsSync(cue('start')), 15_000, 'the start cue');
    assert.ok(!existsSync(cue('stop')));
    writeFileSync(join(media, 'd.jpg'), 'x');
    await until(async () => (await rig.agentList()).find((x) => x.name === a.name)?.events === 4, 15_000, 'the new count in a report');

    // The same state again for another reason (an Always On window): a new seq, nothing to run.
    await rig.feed('always-on', { active: true });
    const again = await rig.converged([a.name], 'start');
    assert.equal(again.state.reason, 'always-on');
    assert.ok(again.state.seq > first.state.seq);
    assert.deepEqual(a.commands(), ['start'], 'an unchanged state runs nothing');

    await rig.feed('always-on', { active: false });
    await decide('stop');
    const stopped = await rig.converged([a.name], 'stop');
    assert.equal(stopped.agents[0].motion, 'stopped');
    assert.deepEqual(a.commands(), ['start', 'stop']);
    await until(() => existsSync(cue('stop')), 15_000, 'the stop cue');
    noTokenIn(run);
    await rig.stopAgent(run);
  });

  it('command mode: a failing start command is reported with its exit code and output', async () => {
    await decide('start');
    const a = agentSetup(rig.dir, { name: 'ws-failing', server: rig.wsUrl, mode: 'command', motion: ['  mode: command', '  start: echo camera missing >&2; exit 3', '  stop: "true"'] });
    const mark = rig.events().length;
    const run = rig.agent(a.config);
    const failed = await until(() => rig.events().slice(mark).find((e) => e.event === 'apply-failed' && e.agent.name === a.name), 20_000, 'apply-failed event');
    assert.match(failed.detail ?? '', /start command exited with code 3: camera missing/);
    const entry = (await rig.agentList()).find((x) => x.name === a.name);
    assert.match(entry?.error ?? '', /start command exited with code 3: camera missing/);
    assert.equal(entry?.appliedSeq, null, 'nothing applied');
    assert.match(run.output(), /ERROR could not apply start/);
    await rig.stopAgent(run);
  });

  it('a refused token (HTTP 401) is logged clearly and retried with backoff', async () => {
    const wrong = makeToken();
    const a = agentSetup(rig.dir, { name: 'ws-refused', server: rig.wsUrl, mode: 'noop' });
    const refusedBefore = (rig.red.log.match(/refused: missing or wrong token/g) ?? []).length;
    const run = rig.agent(a.config, wrong);
    await run.waitForOutput(/ERROR the hub refused the token \(HTTP 401 Unauthorized\).*retrying in \d+\.\d s/);
    await until(() => (rig.red.log.match(/refused: missing or wrong token/g) ?? []).length - refusedBefore >= 3, 30_000, 'three refused attempts in the hub log');
    const retries = [...run.output().matchAll(/401 Unauthorized.*retrying in (\d+\.\d) s/g)].map((m) => Number(m[1]));
    assert.ok(retries.length >= 2 && retries.every((s) => s >= 0.5), `every retry waits (${retries.join(', ')} s)`);
    assert.ok(!(await rig.agentList()).some((x) => x.name === a.name), 'never registered');
    assert.equal(run.child.exitCode, null, 'the agent keeps running');
    assert.ok(!run.output().includes(wrong) && !rig.red.log.includes(wrong), 'no token in either log');
    await rig.stopAgent(run);
  });

  it('a refused connection (Node-RED restarting) is retried within 2 s at the default backoff, and warned about once', async () => {
    const port = await freePort(); // nothing listens there
    const a = agentSetup(rig.dir, { name: 'ws-restarting', server: `ws://127.0.0.1:${port}/dms3/agent`, mode: 'noop', reconnectMaxBackoff: null });
    const run = rig.agent(a.config);
    await until(() => (run.output().match(/connecting to ws:/g) ?? []).length >= 6, 30_000, 'six dials');
    const waits = [...run.output().matchAll(/retrying in (\d+\.\d) s/g)].map((m) => Number(m[1]));
    assert.ok(waits.length >= 5 && waits.every((s) => s >= 0.5 && s <= 2), `waits ${waits.join(', ')} s: jittered, never beyond 2 s`);
    assert.equal((run.output().match(/WARN cannot reach the hub/g) ?? []).length, 1, 'one warning, the rest at debug level');
    assert.match(run.output(), /DEBUG the hub still refuses/);
    await rig.stopAgent(run);
  });
});
