// The real Motion daemon (motion -n -c FILE) fed by the test's MJPEG camera: the agent's webcontrol
// controller, and the whole agent process driven by the real hub (a `node-red` process with dms3-state
// and dms3-server, test/support/real-hub.ts), pause and resume detection, confirmed through Motion's
// own status URL and by whether movement in front of the camera starts an event.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '../../agent/log';
import { WebcontrolController } from '../../agent/motion/webcontrol';
import { delay, makeToken, tempDir, until, writeConfig } from '../support/agent-process';
import { startMjpegCamera, type MjpegCamera } from '../support/mjpeg-camera';
import { HubRig } from '../support/real-hub';
import { missing, requireSystem } from '../support/system';

const quiet: Logger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };
const hooks = { log: quiet, notice: () => {}, changed: () => {} };

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** A Motion config for the test camera with a plain-text webcontrol on `port`. */
function writeMotionConf(dir: string, name: string, cameraUrl: string, port: number, events: string): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    [
      'daemon off',
      'log_level 6',
      `target_dir ${join(dir, 'media')}`,
      `netcam_url ${cameraUrl}`,
      'width 320',
      'height 240',
      'framerate 10',
      `webcontrol_port ${port}`,
      'webcontrol_localhost on',
      'webcontrol_interface 1',
      'webcontrol_parms 2',
      'stream_port 0',
      'threshold 1500',
      'event_gap 1',
      'picture_output off',
      'movie_output off',
      `on_event_start touch ${join(events, 'event-%v')}`,
      '',
    ].join('\n'),
  );
  return file;
}

async function detection(base: string): Promise<string> {
  const res = await fetch(`${base}/0/detection/status`, { signal: AbortSignal.timeout(5000) });
  return (await res.text()).trim();
}

const NEEDS = { commands: ['motion'] };

describe('agent ⇄ real Motion (webcontrol and process modes)', () => {
  let tmp: { dir: string; remove(): void };
  let camera: MjpegCamera;
  let motion: ChildProcess | null = null;
  let motionLog = '';
  let base = '';
  let events = '';
  const token = makeToken();
  const rig = new HubRig({ token });

  before(async () => {
    if (missing(NEEDS)) return; // each test then reports the skip (or fails under CI)
    await rig.start();
    tmp = tempDir('dms3-agent-motion-');
    events = join(tmp.dir, 'events');
    mkdirSync(events);
    camera = await startMjpegCamera();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const conf = writeMotionConf(tmp.dir, 'motion.conf', camera.url, port, events);
    motion = spawn('motion', ['-n', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    motion.stdout?.on('data', (d: Buffer) => (motionLog += d.toString()));
    motion.stderr?.on('data', (d: Buffer) => (motionLog += d.toString()));
    await until(
      async () => {
        try {
          return /Detection status/.test(await detection(base));
        } catch {
          return false;
        }
      },
      30_000,
      `Motion's webcontrol on ${base}\n${motionLog}`,
    );
    await until(() => camera.clients > 0, 30_000, 'Motion to connect to the camera');
    await delay(6000); // Motion arms detection ~5 s after the camera connects; keep the scene still
  });

  after(async () => {
    if (motion && motion.exitCode === null && motion.signalCode === null) {
      const m = motion;
      const gone = new Promise((resolve) => m.once('exit', resolve));
      m.kill('SIGTERM');
      const timer = setTimeout(() => m.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    }
    await camera?.close();
    await rig.close();
    tmp?.remove();
  });

  const eventFiles = () => readdirSync(events);

  it('the webcontrol controller pauses and resumes detection, confirmed by Motion', async (t) => {
    if (!requireSystem(t, NEEDS)) return;
    const ctl = new WebcontrolController({ url: base, cameras: [0], timeout: 5 }, hooks);
    assert.equal(await ctl.apply('stop'), 'paused');
    assert.equal(await detection(base), 'Camera 0 Detection status PAUSE');
    assert.equal(await ctl.status(), 'paused');
    assert.equal(await ctl.apply('stop'), 'paused', 'idempotent');

    assert.equal(await ctl.apply('start'), 'running');
    assert.equal(await detection(base), 'Camera 0 Detection status ACTIVE');
    assert.equal(await ctl.status(), 'running');

    // ACTIVE: movement starts an event.
    camera.setMoving(true);
    await until(() => eventFiles().length > 0, 20_000, `an event while ACTIVE\n${motionLog.slice(-2000)}`);
    camera.setMoving(false);
    await delay(3000); // event_gap 1 s: let the event end

    // PAUSE: the same movement starts nothing.
    assert.equal(await ctl.apply('stop'), 'paused');
    for (const f of eventFiles()) rmSync(join(events, f));
    camera.setMoving(true);
    await delay(4000);
    camera.setMoving(false);
    assert.deepEqual(eventFiles(), [], 'no event while detection is paused');
  });

  it("a camera id Motion does not know is an error (Motion's 200 \"Bad Request\")", async (t) => {
    if (!requireSystem(t, NEEDS)) return;
    const ctl = new WebcontrolController({ url: base, cameras: [7], timeout: 5 }, hooks);
    await assert.rejects(ctl.apply('start'), /rejected .*\/7\/detection\/status \(HTTP 200: Bad Request\)/);
    assert.equal(await ctl.status(), 'unknown');
  });

  it('the agent process in webcontrol mode follows the hub: start → ACTIVE, stop → PAUSE', async (t) => {
    if (!requireSystem(t, NEEDS)) return;
    await rig.feed('presence', { home: false, source: 'test' });
    const config = writeConfig(tmp.dir, `server: ${rig.wsUrl}\nname: motion-host\nmotion:\n  mode: webcontrol\n  url: ${base}\n  cameras: 0\nreport_interval: 2\n`);
    const agent = rig.agent(config);
    const started = await rig.converged(['motion-host'], 'start');
    assert.equal(started.agents[0].motion, 'running');
    assert.equal(await detection(base), 'Camera 0 Detection status ACTIVE');

    await rig.feed('presence', { home: true, source: 'test' });
    const stopped = await rig.converged(['motion-host'], 'stop');
    assert.equal(stopped.agents[0].motion, 'paused');
    assert.equal(await detection(base), 'Camera 0 Detection status PAUSE');

    // Detection resumed behind the agent's back (someone used the webcontrol, Motion restarted):
    // the next report puts it right and tells the hub, and dms3-agents tells the flow.
    const mark = rig.events().length;
    await fetch(`${base}/0/detection/start`, { signal: AbortSignal.timeout(5000) });
    const fixed = await until(() => rig.events().slice(mark).find((e) => e.event === 'motion-restarted' && e.agent.name === 'motion-host'), 20_000, 'drift event');
    assert.match(fixed.detail ?? '', /did not match the state "stop"; applied it again \(Motion paused\)/);
    assert.equal(await detection(base), 'Camera 0 Detection status PAUSE');

    const exit = await agent.stop('SIGTERM');
    assert.equal(exit.code, 0);
    assert.equal(await detection(base), 'Camera 0 Detection status PAUSE', 'webcontrol mode leaves Motion as it is on exit');
    assert.doesNotMatch(rig.red.log, /motion-host.* closed: /, 'the hub took every message');
    assert.ok(!agent.output().includes(token));
  });

  it('the agent process in process mode runs the real Motion on start and stops it on stop', async (t) => {
    if (!requireSystem(t, NEEDS)) return;
    const port = await freePort();
    const own = `http://127.0.0.1:${port}`;
    const conf = writeMotionConf(tmp.dir, 'motion-child.conf', camera.url, port, events);
    await rig.feed('presence', { home: false, source: 'test' });
    const config = writeConfig(tmp.dir, `server: ${rig.wsUrl}\nname: motion-child\nmotion:\n  mode: process\n  command: [motion, -n, -c, ${conf}]\n  stop_timeout: 15\n`, 'agent-process.yaml');
    const agent = rig.agent(config);
    const started = await rig.converged(['motion-child'], 'start');
    assert.equal(started.agents[0].motion, 'running');
    const pid = Number((await agent.waitForOutput(/started motion .*\(pid (\d+)\)/))[1]);
    assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^motion\0-n\0-c\0/);
    await until(
      async () => {
        try {
          return /ACTIVE/.test(await detection(own));
        } catch {
          return false;
        }
      },
      30_000,
      "the child Motion's webcontrol",
    );

    await rig.feed('presence', { home: true, source: 'test' });
    const stopped = await rig.converged(['motion-child'], 'stop', 45_000);
    assert.equal(stopped.agents[0].motion, 'stopped');
    assert.throws(() => readFileSync(`/proc/${pid}/cmdline`), /ENOENT/, 'Motion has exited');
    await assert.rejects(detection(own));
    assert.doesNotMatch(agent.output(), /SIGKILL/, 'Motion exited on SIGTERM within stop_timeout');
    assert.ok(!agent.output().includes(token));
  });
});
