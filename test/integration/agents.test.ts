// The two halves of issue 3 together, all real: a `node-red` process running the hub (dms3-server with
// DMS3_TOKEN and per-agent tokens), dms3-state fed through an http-in, dms3-agents writing every event to
// a file; and `dms3-agent run` processes (WebSocket and HTTP polling; process mode with a fake Motion
// child, command mode with marker files) on loopback. Node-RED and agents are killed and restarted.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AgentChange } from '../../lib/registry';
import { mintAgentToken } from '../../nodes/dms3-server/auth';
import { alive, makeToken, until, type AgentRun } from '../support/agent-process';
import { agentSetup, HubRig, type AgentSetup } from '../support/real-hub';

const LOST_AFTER_S = 3;

function pidOf(a: AgentSetup): number | null {
  if (!existsSync(a.pidFile)) return null;
  const pid = Number(readFileSync(a.pidFile, 'utf8'));
  return pid > 0 ? pid : null;
}

/** The running fake Motion's pid (other than `not`). */
function runningPid(a: AgentSetup, not?: number): Promise<number> {
  return until(() => {
    const pid = pidOf(a);
    return pid && pid !== not && alive(pid) ? pid : null;
  }, 20_000, `${a.name}'s Motion running`);
}

function isRunning(a: AgentSetup): boolean {
  return existsSync(`${a.dir}/running`);
}

describe('hub and agents together (real Node-RED, real agent processes)', () => {
  const token = makeToken();
  // As the hub editor's "Add agent" mints it: the Pi gets the token, the hub keeps only its digest.
  const { token: ownToken, stored: ownStored } = mintAgentToken();
  const rig = new HubRig({ token, agentTokens: { 'cam-own': ownStored } });
  let proc: AgentSetup; // process mode, server-lost action start
  let cmd: AgentSetup; // command mode, server-lost action stop
  let keep: AgentSetup; // command mode, server-lost action keep
  let poll: AgentSetup; // HTTP polling, command mode, server-lost action keep
  const runs = new Map<string, AgentRun>();
  let all: string[];

  function start(a: AgentSetup, agentToken = token): AgentRun {
    const run = rig.agent(a.config, agentToken);
    runs.set(a.name, run);
    return run;
  }

  /** Events dms3-agents sent after `mark` (an index into rig.events()). */
  function eventsSince(mark: number, event?: AgentChange['event'], name?: string): AgentChange[] {
    return rig.events().slice(mark).filter((e) => (!event || e.event === event) && (!name || e.agent.name === name));
  }

  before(async () => {
    await rig.start();
    proc = agentSetup(rig.dir, { name: 'cam-proc', server: rig.wsUrl, mode: 'process', serverLost: { after: LOST_AFTER_S, action: 'start' } });
    cmd = agentSetup(rig.dir, { name: 'cam-cmd', server: rig.wsUrl, mode: 'command', serverLost: { after: LOST_AFTER_S, action: 'stop' } });
    keep = agentSetup(rig.dir, { name: 'cam-keep', server: rig.wsUrl, mode: 'command', serverLost: { after: LOST_AFTER_S, action: 'keep' } });
    poll = agentSetup(rig.dir, { name: 'cam-poll', server: rig.httpUrl, mode: 'command', serverLost: { after: LOST_AFTER_S, action: 'keep' } });
    all = [proc, cmd, keep, poll].map((a) => a.name);
    for (const a of [proc, cmd, keep, poll]) start(a);
    // Before any presence the state node holds its start-up state ("start").
    await rig.converged(all, 'start', 60_000);
  });

  after(async () => {
    const leftover = proc && pidOf(proc);
    await rig.close();
    if (leftover && alive(leftover)) process.kill(leftover, 'SIGKILL');
  });

  it('a decision reaches every agent, each confirms it, and the registry shows its health', async () => {
    const mark = rig.events().length;
    await rig.feed('presence', { home: true, source: 'test' });
    const stopped = await rig.converged(all, 'stop');
    assert.equal(stopped.state.reason, 'someone-home');
    assert.equal(pidOf(proc), null, 'the fake Motion exited');
    assert.ok(!isRunning(cmd) && !isRunning(keep) && !isRunning(poll));

    await rig.feed('presence', { home: false, source: 'test' });
    const { state, agents } = await rig.converged(all, 'start');
    assert.equal(state.reason, 'nobody-home');
    assert.ok(state.seq > stopped.state.seq);
    assert.ok(alive(await runningPid(proc)));
    assert.ok(isRunning(cmd) && isRunning(keep) && isRunning(poll));
    assert.deepEqual(cmd.commands(), ['start', 'stop', 'start']);

    for (const a of agents) {
      const name = a.name;
      assert.equal(a.connected, true, name);
      assert.equal(a.transport, name === 'cam-poll' ? 'http' : 'ws', name);
      assert.equal(a.address, '127.0.0.1', name);
      assert.equal(a.platform, process.platform, name);
      assert.equal(a.arch, process.arch, name);
      for (const key of ['hostname', 'osRelease', 'kernel', 'agentVersion'] as const) assert.ok(typeof a[key] === 'string' && a[key] !== '', `${name}.${key}: ${a[key]}`);
      assert.equal(a.agentVersion, JSON.parse(readFileSync(`${__dirname}/../../../package.json`, 'utf8')).version);
      assert.ok(a.uptime > 0, `${name}.uptime`);
      assert.equal(a.motion, 'running', name);
      assert.equal(a.events, 0, name);
      assert.equal(a.reportInterval, 2, name);
      assert.equal(a.error, null, name);
      assert.equal(a.late, false, name);
      assert.ok(Date.now() - Date.parse(a.lastReport) < 60_000, `${name}.lastReport ${a.lastReport}`);
    }
    // dms3-agents told the flow about each confirmation, with the seq.
    await until(() => all.every((n) => eventsSince(mark, 'applied', n).some((e) => e.detail === `start (seq ${state.seq})`)), 15_000, 'applied events');
    // And dms3-state's output carried the same decisions.
    const decisions = rig.decisions().map((d) => `${d.state}/${d.reason}`);
    assert.deepEqual(decisions.slice(-2), ['stop/someone-home', 'start/nobody-home']);
  });

  it('refuses a wrong token; a per-agent token works for its own name only', async () => {
    const intruder = agentSetup(rig.dir, { name: 'intruder', server: rig.wsUrl, mode: 'noop' });
    const pollIntruder = agentSetup(rig.dir, { name: 'poll-intruder', server: rig.httpUrl, mode: 'noop' });
    const own = agentSetup(rig.dir, { name: 'cam-own', server: rig.wsUrl, mode: 'command' });
    const impostor = agentSetup(rig.dir, { name: 'impostor', server: rig.wsUrl, mode: 'noop' });
    const displacer = agentSetup(join(rig.dir, 'displacer'), { name: 'cam-own', server: rig.wsUrl, mode: 'noop' });
    const wrong = makeToken();
    const runIntruder = start(intruder, wrong);
    const runPollIntruder = start(pollIntruder, wrong);
    const runOwn = start(own, ownToken);
    const runImpostor = start(impostor, ownToken);
    const runDisplacer = rig.agent(displacer.config, token); // the hub token, posing as cam-own

    // The agent with its own token is served like any other.
    const state = await rig.state();
    await rig.converged(['cam-own'], state.state);
    // The wrong token: 401 before the upgrade (and on the polling API), logged, retried.
    for (const r of [runIntruder, runPollIntruder]) {
      await r.waitForOutput(/ERROR the hub refused the token \(HTTP 401 Unauthorized\).*retrying in \d+\.\d s[\s\S]*401 Unauthorized.*retrying in/, 30_000);
      assert.ok(!r.output().includes(wrong), 'the token never appears in the log');
    }
    assert.match(rig.red.log, /agent connection from 127\.0\.0\.1 refused: missing or wrong token/);
    // Another agent's token: the hub closes the connection after its hello, saying why.
    await runImpostor.waitForOutput(/closed \(1008 this token belongs to agent "cam-own", not "impostor"\); retrying in/, 30_000);
    const names = (await rig.agentList()).map((a) => a.name);
    assert.ok(names.includes('cam-own'));
    for (const n of ['intruder', 'poll-intruder', 'impostor']) assert.ok(!names.includes(n), `${n} is not listed`);
    // Once cam-own has its own token, the shared hub token cannot take its place.
    await runDisplacer.waitForOutput(/closed \(1008 agent "cam-own" has its own token: the hub token cannot act as it\); retrying in/, 30_000);
    assert.equal((await rig.agentList()).find((a) => a.name === 'cam-own')?.connected, true, 'the real cam-own stays connected');
    assert.ok(!rig.red.log.includes(ownToken) && !rig.red.log.includes(token), 'no token in the hub log');
    // An agent's own token does not open the hub's API: no list, no override, no delete.
    assert.equal((await rig.api('GET', '/api/agents', undefined, ownToken)).status, 403);
    assert.equal((await rig.api('POST', '/api/override', { mode: 'stop' }, ownToken)).status, 403);
    assert.equal((await rig.api('DELETE', '/api/agents/cam-proc', undefined, ownToken)).status, 403);
    assert.equal((await rig.api('GET', '/api/agents', undefined, wrong)).status, 401);

    for (const r of [runIntruder, runPollIntruder, runImpostor, runDisplacer, runOwn]) await rig.stopAgent(r);
    await until(async () => (await rig.agentList()).find((a) => a.name === 'cam-own')?.connected === false, 15_000, 'cam-own disconnected');
    assert.equal((await rig.api('DELETE', '/api/agents/cam-own')).status, 204);
    assert.ok(!(await rig.agentList()).some((a) => a.name === 'cam-own'));
  });

  it('the override API moves every agent, and "auto" returns them to the policy', async () => {
    await rig.feed('presence', { home: true, source: 'test' });
    await rig.converged(all, 'stop');
    const bad = await rig.api<{ error: string }>('POST', '/api/override', { mode: 'armed' });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /mode/);

    const r = await rig.api<{ state: string; seq: number }>('POST', '/api/override', { mode: 'start' });
    assert.equal(r.status, 200);
    const forced = await rig.converged(all, 'start');
    assert.deepEqual([forced.state.reason, forced.state.override, forced.state.seq], ['override', 'start', r.json.seq]);
    assert.ok(alive(await runningPid(proc)));

    const back = await rig.api<{ state: string }>('POST', '/api/override', { mode: 'auto' });
    assert.equal(back.status, 200);
    const policy = await rig.converged(all, 'stop');
    assert.deepEqual([policy.state.reason, policy.state.override], ['someone-home', 'auto']);
    await until(() => pidOf(proc) === null, 15_000, 'the fake Motion gone');
  });

  it('supervises Motion: a killed child is restarted and dms3-agents says so', async () => {
    await rig.feed('presence', { home: false, source: 'test' });
    await rig.converged(all, 'start');
    const pid = await runningPid(proc);
    const mark = rig.events().length;
    process.kill(pid, 'SIGKILL');
    const failed = await until(() => eventsSince(mark, 'motion-failed', 'cam-proc')[0], 20_000, 'motion-failed event');
    assert.match(failed.detail ?? '', /exited \(signal SIGKILL\).*restarting in/);
    const restarted = await until(() => eventsSince(mark, 'motion-restarted', 'cam-proc')[0], 20_000, 'motion-restarted event');
    const newPid = await runningPid(proc, pid);
    assert.match(restarted.detail ?? '', new RegExp(`restarted \\(pid ${newPid}\\)`));
    await until(async () => (await rig.agentList()).find((a) => a.name === 'cam-proc')?.motion === 'running', 15_000, 'registry: Motion running again');
  });

  it('an agent killed and restarted gets the current state at once', async () => {
    const { state } = await rig.converged(all, 'start');
    const mark = rig.events().length;
    await rig.stopAgent(runs.get('cam-keep')!, 'SIGKILL');
    const gone = await until(() => eventsSince(mark, 'disconnected', 'cam-keep')[0], 20_000, 'disconnected event');
    assert.equal(gone.agent.connected, false);
    const again = start(keep);
    await again.waitForOutput(new RegExp(`hub: start \\(nobody home, seq ${state.seq},`), 20_000);
    await rig.converged(all, 'start');
    assert.ok(eventsSince(mark, 'connected', 'cam-keep').length >= 1);
    assert.deepEqual(keep.commands().slice(-1), ['start']);
  });

  it('Node-RED killed: agents act on server_lost, report it when it is back, and converge on the kept decision', async () => {
    // Running, as decided: on disk before it was announced.
    const before = await rig.converged(all, 'start');
    assert.equal(rig.storedDecision()?.state, 'start');
    const procPid = await runningPid(proc);
    const cmdBefore = cmd.commands().length;
    const mark = rig.events().length;

    await rig.stopNodeRed('SIGKILL');
    // action stop stops, action keep keeps, action start keeps Motion running.
    await runs.get('cam-cmd')!.waitForOutput(/WARN server lost: .*applied server_lost\.action "stop"/, 30_000);
    await runs.get('cam-keep')!.waitForOutput(/WARN server lost: .*kept the last state "start"/, 30_000);
    await runs.get('cam-proc')!.waitForOutput(/WARN server lost: .*applied server_lost\.action "start"/, 30_000);
    await runs.get('cam-poll')!.waitForOutput(/WARN server lost: .*kept the last state "start"/, 30_000);
    await until(() => !isRunning(cmd), 15_000, 'cam-cmd stopped Motion');
    assert.deepEqual(cmd.commands().slice(cmdBefore), ['stop']);
    assert.ok(isRunning(keep) && isRunning(poll), 'cam-keep and cam-poll kept Motion running');
    assert.equal(pidOf(proc), procPid, 'cam-proc kept the same Motion');
    assert.ok(alive(procPid));

    await rig.restartNodeRed();
    // Each agent whose action fired tells the hub, and dms3-agents emits it.
    await until(() => all.every((n) => eventsSince(mark, 'server-lost', n).length === 1), 30_000, 'server-lost events');
    const lost = Object.fromEntries(eventsSince(mark, 'server-lost').map((e) => [e.agent.name, e.detail ?? '']));
    assert.match(lost['cam-cmd'], /hub unreachable since .*applied server_lost\.action "stop".*back after \d+ s/);
    assert.match(lost['cam-keep'], /kept the last state "start"/);
    assert.match(lost['cam-proc'], /applied server_lost\.action "start"/);
    assert.match(lost['cam-poll'], /kept the last state "start"/, 'over HTTP polling too');
    // The decision survived the kill; the new hub serves it under a new seq and every agent applies it.
    const after = await rig.converged(all, 'start');
    assert.equal(after.state.reason, 'startup', 'presence is unknown after a restart: the start-up state, which is the state before');
    assert.equal(after.state.since, before.state.since, 'the same state since the same time');
    assert.ok(after.state.seq > before.state.seq, 'seq keeps growing across restarts');
    assert.ok(isRunning(cmd), 'cam-cmd started Motion again');
    assert.equal(pidOf(proc), procPid, 'cam-proc never stopped Motion');
  });

  it('Node-RED stopped: the start action starts Motion; back with presence unknown, they converge on the start-up state', async () => {
    await rig.feed('presence', { home: true, source: 'test' });
    await rig.converged(all, 'stop');
    assert.equal(rig.storedDecision()?.state, 'stop');
    assert.equal(pidOf(proc), null);
    const mark = rig.events().length;

    await rig.stopNodeRed('SIGTERM');
    await runs.get('cam-proc')!.waitForOutput(/WARN server lost: .*applied server_lost\.action "start"/, 30_000);
    const pid = await runningPid(proc);
    await runs.get('cam-keep')!.waitForOutput(/WARN server lost: .*kept the last state "stop"/, 30_000);
    await runs.get('cam-poll')!.waitForOutput(/WARN server lost: .*kept the last state "stop"/, 30_000);
    assert.ok(!isRunning(keep) && !isRunning(cmd) && !isRunning(poll));

    await rig.restartNodeRed();
    await until(() => all.every((n) => eventsSince(mark, 'server-lost', n).length === 1), 30_000, 'server-lost events');
    // Someone was home before, but nobody knows yet: the configured start-up state (armed), with a true reason.
    const { state } = await rig.converged(all, 'start');
    assert.equal(state.reason, 'startup');
    assert.equal(pidOf(proc), pid, 'the server-lost Motion keeps running, now as decided');
    // Presence speaks again: stopped as before the restart.
    await rig.feed('presence', { home: true, source: 'test' });
    await rig.converged(all, 'stop');
    await until(() => !alive(pid), 15_000, 'Motion stopped by the hub state');
  });
});
