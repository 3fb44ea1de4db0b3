// Real Motion runs the hook: an MJPEG stream on loopback shows a still scene, then a moving square;
// Motion saves pictures and a movie and runs `on_picture_save` / `on_movie_end` as the README says.
// Every file Motion saved must reach the flow exactly once, with Motion's own values.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { changedPercent } from '../../lib/media';
import { makeJpeg } from '../support/images';
import { startNodeRed, type NodeRed } from '../support/node-red-embedded';
import { waitFor } from '../support/red';
import { requireSystem } from '../support/system';

const TOKEN = 'motion-event-token-0123456789';
const HOOK = join(__dirname, '..', '..', 'agent', 'cli.js');
const STILL_S = 7; // Motion arms detection about 5 s after the camera connects
const MOVING_S = 4;

/** An MJPEG camera: still, then a square moving across, then still again (so the event and its movie end). */
function camera(): Promise<{ server: Server; url: string }> {
  const still = makeJpeg(320, 240);
  const t0 = Date.now();
  const server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=frame' });
    const timer = setInterval(() => {
      const s = (Date.now() - t0) / 1000;
      const moving = s >= STILL_S && s < STILL_S + MOVING_S;
      const img = moving ? makeJpeg(320, 240, { x: Math.floor((s * 80) % 260), y: 60, size: 60 }) : still;
      res.write(`--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ${img.length}\r\n\r\n`);
      res.write(img);
      res.write('\r\n');
    }, 200);
    req.on('close', () => clearInterval(timer));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/stream.mjpg` })));
}

describe('Motion runs the hook', () => {
  const work = mkdtempSync(join(tmpdir(), 'dms3-motion-event-'));
  let motion: ChildProcess | null = null;
  let cam: Server | null = null;
  let nr: NodeRed | null = null;
  after(async () => {
    if (motion && motion.exitCode === null) {
      const exited = new Promise((r) => motion!.once('exit', r));
      motion.kill('SIGTERM');
      const kill = setTimeout(() => motion!.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(kill);
    }
    cam?.closeAllConnections();
    cam?.close();
    await nr?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('sends every picture and the movie of an event to the flow, once each', async (t) => {
    if (!requireSystem(t, { commands: ['motion'] })) return;
    nr = await startNodeRed({
      flows: [
        { id: 'tab1', type: 'tab', label: 'events' },
        { id: 'hub1', type: 'dms3-server', name: '', base: '/dms3', heartbeat: 10 },
        { id: 'ev1', type: 'dms3-event', z: 'tab1', name: '', server: 'hub1', wires: [['keep1']] },
        { id: 'keep1', type: 'function', z: 'tab1', func: "const l = global.get('events') || []; l.push(msg); global.set('events', l); return null;", outputs: 1, wires: [[]] },
      ],
      credentials: { hub1: { token: TOKEN } },
    });
    const keep = nr.RED.nodes.getNode('keep1');
    // Array.from: the function node's array comes from its own VM context (another Array prototype).
    const events = (): any[] => Array.from(keep.context().global.get('events') ?? []);
    const c = await camera();
    cam = c.server;

    const target = join(work, 'motion');
    mkdirSync(target);
    const cfg = join(work, 'agent.yaml');
    writeFileSync(cfg, `server: ${nr.url.replace('http', 'ws')}/dms3/agent\nname: porch\ntoken: ${TOKEN}\nspool:\n  dir: ${join(work, 'spool')}\n`);
    const hook = `${process.execPath} ${HOOK} hook`;
    // As in the README; camera_name is not set, so %$ is empty (and vanishes from the command line).
    const conf = [
      'daemon off',
      'setup_mode off',
      'log_level 6',
      `target_dir ${target}`,
      `netcam_url ${c.url}`,
      'width 320',
      'height 240',
      'framerate 5',
      'threshold 300',
      'event_gap 2',
      'picture_output on',
      'movie_output on',
      'movie_container mkv',
      'webcontrol_port 0',
      'stream_port 0',
      `on_picture_save ${hook} picture --config ${cfg} --file %f --pixels %D --camera %t --event %v --camera-name %$ --noise %N --event-id %{eventid}`,
      `on_movie_end ${hook} movie --config ${cfg} --file %f --camera %t --event %v --event-id %{eventid}`,
    ].join('\n');
    writeFileSync(join(work, 'motion.conf'), `${conf}\n`);
    let log = '';
    motion = spawn('motion', ['-n', '-c', join(work, 'motion.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    motion.stdout!.on('data', (d) => (log += d));
    motion.stderr!.on('data', (d) => (log += d));

    // The movie comes last: event_gap seconds after the square stops.
    await waitFor(() => events().some((m) => m.payload.kind === 'movie'), 60_000, `the movie event (Motion log:\n${log.slice(-2000)})`);
    const saved = readdirSync(target).sort();
    await waitFor(() => events().length >= saved.length, 20_000, `${saved.length} events`);
    // Each hook notes its upload in the spool and removes the note once the hub has answered.
    const spooled = () => (existsSync(join(work, 'spool')) ? readdirSync(join(work, 'spool')) : []);
    await waitFor(() => spooled().length === 0, 10_000, `nothing left in the spool (${spooled().join(', ')})`);

    const all = events();
    assert.deepEqual(all.map((m) => m.payload.file.name).sort(), saved, 'each saved file exactly once');
    const pictures = all.filter((m) => m.payload.kind === 'picture');
    assert.ok(pictures.length >= 3, `${pictures.length} pictures`);
    const eventId = all[0].payload.eventId;
    assert.match(eventId, /^\d{6,}$/, "Motion's %{eventid}");
    for (const m of all) {
      const p = m.payload;
      assert.deepEqual([p.agent, p.camera, p.eventId, m.motion.cameraName, m.motion.event], ['porch', '0', eventId, null, 1]);
      assert.ok(p.file.data.equals(readFileSync(join(target, p.file.name))), `${p.file.name}: the file itself`);
      if (p.kind === 'picture') {
        assert.equal(p.file.mime, 'image/jpeg');
        assert.deepEqual([p.width, p.height], [320, 240]);
        assert.ok(p.pixels > 0, `pixels ${p.pixels}`);
        assert.equal(p.percent, changedPercent(p.pixels, 320, 240));
        assert.equal(typeof m.motion.noise, 'number');
      } else {
        assert.equal(p.file.mime, 'video/x-matroska');
        assert.deepEqual([p.width, p.height, p.percent], [null, null, null]);
      }
    }
  });
});
