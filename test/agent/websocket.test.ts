// The agent as a real process (node dist/agent/cli.js run) against a WebSocket test hub that speaks
// lib/protocol.ts (test/support/agent-hub.ts). To be re-pointed at the real dms3-server hub once merged.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { startTestHub, type TestHub, type TestHubOptions } from '../support/agent-hub';
import { alive, delay, makeToken, startAgent, tempDir, until, writeConfig, type AgentRun } from '../support/agent-process';

const FAKE_MOTION = join(__dirname, '..', 'fixtures', 'agent', 'fake-motion.js');

interface Rig {
  dir: string;
  token: string;
  hub: TestHub;
  agent: AgentRun;
}

async function hub(t: TestContext, opts: TestHubOptions): Promise<TestHub> {
  const h = await startTestHub(opts);
  t.after(() => h.close());
  return h;
}

/** A hub, a config written from `motion` (YAML lines under `motion:`) plus `extra`, and the agent running. */
async function rig(t: TestContext, motion: string, opts: { extra?: string; hub?: Partial<TestHubOptions> } = {}): Promise<Rig> {
  const tmp = tempDir();
  t.after(() => tmp.remove());
  const token = makeToken();
  const h = await hub(t, { token, ...opts.hub });
  const config = writeConfig(tmp.dir, `server: ${h.wsUrl}\nname: test-agent\nmotion:\n${motion}\nreconnect_max_backoff: 2\n${opts.extra ?? ''}`);
  const agent = startAgent(['run', '--config', config, '--log-level', 'debug'], { DMS3_TOKEN: token });
  t.after(async () => {
    await agent.stop('SIGKILL');
  });
  return { dir: tmp.dir, token, hub: h, agent };
}

function processMotion(dir: string): string {
  const pidFile = join(dir, 'motion.pid');
  return `  mode: process\n  command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(FAKE_MOTION)}, ${JSON.stringify(pidFile)}]\n  stop_timeout: 5`;
}

/** Start/stop commands that log what they did and keep a "running" marker for the status command. */
function commandMotion(dir: string): string {
  const log = join(dir, 'commands.log');
  const run = join(dir, 'running');
  return [
    '  mode: command',
    `  start: echo start >> ${log} && touch ${run}`,
    `  stop: echo stop >> ${log} && rm -f ${run}`,
    `  status: test -f ${run}`,
  ].join('\n');
}

function commandsRun(dir: string): string[] {
  const file = join(dir, 'commands.log');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
}

async function readPid(file: string, not?: number): Promise<number> {
  return until(() => {
    if (!existsSync(file)) return null;
    const pid = Number(readFileSync(file, 'utf8'));
    return pid > 0 && pid !== not ? pid : null;
  }, 15_000, `pid file ${file}`);
}

function assertClean(r: Rig): void {
  assert.deepEqual(r.hub.invalid, [], 'every agent message is valid protocol');
  assert.ok(!r.agent.output().includes(r.token), 'the token never appears in the log');
}

describe('agent over WebSocket (separate process, test hub)', () => {
  it('process mode: says hello, applies start (child runs) and stop (child ends), confirming each', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.remove());
    const r = await rig(t, processMotion(tmp.dir), { hub: { state: 'start', reason: 'nobody-home' } });
    const started = await until(() => r.hub.of('applied').find((a) => a.state === 'start'), 15_000, 'applied start');
    assert.deepEqual({ ...started }, { v: 1, type: 'applied', seq: 1, state: 'start', ok: true, motion: 'running' });
    const first = r.hub.received[0].msg;
    assert.equal(first.type, 'hello');
    assert.equal(first.type === 'hello' && first.name, 'test-agent');
    assert.equal(first.type === 'hello' && first.health.reportInterval, 15);
    const pid = await readPid(join(tmp.dir, 'motion.pid'));
    assert.ok(alive(pid), 'the child runs');
    await until(() => r.hub.of('health').find((h) => h.health.applied === 'start' && h.health.motion === 'running'), 15_000, 'health after the change');

    const stop = r.hub.setState('stop');
    const stopped = await until(() => r.hub.of('applied').find((a) => a.seq === stop.seq), 15_000, 'applied stop');
    assert.deepEqual([stopped.state, stopped.ok, stopped.motion], ['stop', true, 'stopped']);
    assert.ok(!alive(pid), 'the child is gone');
    assert.ok(!existsSync(join(tmp.dir, 'motion.pid')), 'the child exited through its SIGTERM handler');
    assertClean(r);
  });

  it('process mode: a child that dies while it should run is restarted and the hub is told', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.remove());
    const r = await rig(t, processMotion(tmp.dir), { hub: { state: 'start' } });
    const pidFile = join(tmp.dir, 'motion.pid');
    await until(() => r.hub.of('applied').find((a) => a.state === 'start' && a.ok), 15_000, 'applied start');
    const pid = await readPid(pidFile);
    process.kill(pid, 'SIGKILL');
    const failed = await until(() => r.hub.of('notice').find((n) => n.event === 'motion-failed'), 15_000, 'motion-failed notice');
    assert.match(failed.text, /signal SIGKILL/);
    assert.match(failed.text, /restarting in/);
    const restarted = await until(() => r.hub.of('notice').find((n) => n.event === 'motion-restarted'), 15_000, 'motion-restarted notice');
    const newPid = await readPid(pidFile, pid);
    assert.ok(alive(newPid), 'a new child runs');
    assert.match(restarted.text, new RegExp(`pid ${newPid}`));
    assertClean(r);
  });

  it('SIGTERM closes the connection, stops the child and exits 0 (an audio cue that cannot play is only a warning)', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.remove());
    const extra = 'audio:\n  player: /nonexistent/player\n  start: /nonexistent/start.wav\n';
    const r = await rig(t, processMotion(tmp.dir), { hub: { state: 'start' }, extra });
    await until(() => r.hub.of('applied').find((a) => a.ok), 15_000, 'applied start');
    await r.agent.waitForOutput(/WARN audio cue: cannot run \/nonexistent\/player/);
    const pid = await readPid(join(tmp.dir, 'motion.pid'));
    const exit = await r.agent.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(!alive(pid), 'the child was stopped');
    assert.ok(!existsSync(join(tmp.dir, 'motion.pid')), 'the child exited through its SIGTERM handler');
    assert.match(r.agent.output(), /SIGTERM: stopping/);
    assert.match(r.agent.output(), /INFO stopped/);
    assertClean(r);
  });

  it('command mode: runs the start and stop commands once per change (idempotent), plays the cues, counts media', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.remove());
    const media = join(tmp.dir, 'media');
    mkdirSync(join(media, '20250101'), { recursive: true });
    for (const f of ['a.jpg', 'b.jpg', '20250101/c.mkv']) writeFileSync(join(media, f), 'x');
    const cue = (s: string) => join(tmp.dir, `cue-${s}`);
    const extra = `media_dir: ${media}\nreport_interval: 1\naudio:\n  player: touch\n  start: ${cue('start')}\n  stop: ${cue('stop')}\n`;
    const r = await rig(t, commandMotion(tmp.dir), { hub: { state: 'start' }, extra });
    await until(() => r.hub.of('applied').find((a) => a.seq === 1), 15_000, 'applied seq 1');
    assert.deepEqual(commandsRun(tmp.dir), ['start']);
    const hello = r.hub.of('hello')[0];
    assert.equal(hello.health.events, 3, 'media files counted, subfolders included');
    await until(() => existsSync(cue('start')), 15_000, 'the start cue');
    assert.ok(!existsSync(cue('stop')));
    writeFileSync(join(media, 'd.jpg'), 'x');
    await until(() => r.hub.of('health').find((h) => h.health.events === 4), 15_000, 'the new count in a report');
    const again = r.hub.setState('start', 'always-on');
    const same = await until(() => r.hub.of('applied').find((a) => a.seq === again.seq), 15_000, 'applied repeat');
    assert.deepEqual([same.ok, same.motion], [true, 'running']);
    assert.deepEqual(commandsRun(tmp.dir), ['start'], 'an unchanged state runs nothing');
    const stop = r.hub.setState('stop');
    const stopped = await until(() => r.hub.of('applied').find((a) => a.seq === stop.seq), 15_000, 'applied stop');
    assert.deepEqual([stopped.ok, stopped.motion], [true, 'stopped']);
    assert.deepEqual(commandsRun(tmp.dir), ['start', 'stop']);
    await until(() => existsSync(cue('stop')), 15_000, 'the stop cue');
    assertClean(r);
  });

  it('command mode: a failing start command is reported with its exit code and output', async (t) => {
    const r = await rig(t, '  mode: command\n  start: echo camera missing >&2; exit 3\n  stop: "true"', { hub: { state: 'start' } });
    const applied = await until(() => r.hub.of('applied').find((a) => a.seq === 1), 15_000, 'applied');
    assert.equal(applied.ok, false);
    assert.match(applied.error ?? '', /start command exited with code 3: camera missing/);
    assert.match(r.agent.output(), /ERROR could not apply start/);
    assertClean(r);
  });

  it('a refused token (HTTP 401) is logged clearly and retried with backoff', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.remove());
    const hubToken = makeToken();
    const h = await hub(t, { token: hubToken });
    const wrong = makeToken();
    const config = writeConfig(tmp.dir, `server: ${h.wsUrl}\nmotion:\n${commandMotion(tmp.dir)}\nreconnect_max_backoff: 2\n`);
    const agent = startAgent(['run', '--config', config, '--log-level', 'debug'], { DMS3_TOKEN: wrong });
    t.after(async () => {
      await agent.stop('SIGKILL');
    });
    await agent.waitForOutput(/ERROR the hub refused the token \(HTTP 401 Unauthorized\).*retrying in \d+\.\d s/);
    await until(() => h.refused >= 3, 30_000, 'three refused attempts');
    const retries = [...agent.output().matchAll(/401 Unauthorized.*retrying in (\d+\.\d) s/g)].map((m) => Number(m[1]));
    assert.ok(retries.length >= 2 && retries.every((s) => s >= 0.5), `every retry waits (${retries.join(', ')} s)`);
    assert.equal(h.connections, 0);
    assert.equal(agent.child.exitCode, null, 'the agent keeps running');
    const out = agent.output();
    assert.ok(!out.includes(wrong) && !out.includes(hubToken), 'no token in the log');
  });

  it('reconnects after the hub restarts and applies the state it gets at once', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.remove());
    const r = await rig(t, commandMotion(tmp.dir), { hub: { state: 'start' } });
    await until(() => r.hub.of('applied').find((a) => a.seq === 1), 15_000, 'applied start');
    const port = r.hub.port;
    await r.hub.close();
    await r.agent.waitForOutput(/connection to the hub lost/);
    const hub2 = await hub(t, { token: r.token, port, state: 'stop' });
    const stopped = await until(() => hub2.of('applied')[0], 30_000, 'applied from the restarted hub');
    assert.deepEqual([stopped.state, stopped.ok, stopped.motion], ['stop', true, 'stopped']);
    assert.equal(hub2.received[0].msg.type, 'hello', 'hello comes first');
    assert.deepEqual(commandsRun(tmp.dir), ['start', 'stop']);
    assert.deepEqual(hub2.invalid, []);
    assertClean(r);
  });

  it('applies the server-lost action after server_lost.after, and reports it when the hub is back', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.remove());
    const r = await rig(t, commandMotion(tmp.dir), { hub: { state: 'stop' }, extra: 'server_lost:\n  after: 3\n  action: start\n' });
    await until(() => r.hub.of('applied').find((a) => a.seq === 1 && a.ok), 15_000, 'applied stop');
    assert.deepEqual(commandsRun(tmp.dir), [], 'Motion was already stopped');
    const port = r.hub.port;
    await r.hub.close();
    await r.agent.waitForOutput(/WARN server lost: .*applied server_lost\.action "start"/, 20_000);
    await until(() => commandsRun(tmp.dir).includes('start'), 15_000, 'the start command');
    await delay(500);
    const hub2 = await hub(t, { token: r.token, port, state: 'stop' });
    const notice = await until(() => hub2.of('notice').find((n) => n.event === 'server-lost'), 30_000, 'server-lost notice');
    assert.match(notice.text, /applied server_lost\.action "start"/);
    await until(() => hub2.of('applied').find((a) => a.state === 'stop' && a.ok), 15_000, 'the hub state again');
    assert.deepEqual(commandsRun(tmp.dir), ['start', 'stop']);
    assert.deepEqual(hub2.invalid, []);
    assertClean(r);
  });
});
