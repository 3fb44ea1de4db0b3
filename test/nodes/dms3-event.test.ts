// The event path in a real Node-RED runtime: the hook as a real child process uploads to the hub's
// endpoint, and the dms3-event node emits the event; the spool and its delivery; bad uploads.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { loadHookConfig } from '../../agent/hook-config';
import { deliverSpool, spooled } from '../../agent/spool';
import eventNode from '../../nodes/dms3-event/dms3-event';
import serverNode from '../../nodes/dms3-server/dms3-server';
import { call, health } from '../support/agent';
import { captureHttpNode } from '../support/http-node';
import { makeJpeg, mp4Header } from '../support/images';
import { collect, delay, helper, waitFor } from '../support/red';

const HUB = 'hub-token-for-tests-0123456789';
const KITCHEN = 'kitchen-token-0123456789abcdef';
const NODES = [captureHttpNode, serverNode, eventNode];
const HOOK = join(__dirname, '..', '..', 'agent', 'cli.js');
const LIMIT_MB = 1;

const hubDef = { id: 'hub', type: 'dms3-server', name: '', base: '/dms3', heartbeat: 10, eventLimit: LIMIT_MB };
const flow = (ev: Record<string, unknown> = {}) => [hubDef, { id: 'ev', type: 'dms3-event', name: '', server: 'hub', agents: '', cameras: '', kind: '', wires: [['out']], ...ev }, { id: 'out', type: 'helper' }];
const creds = { hub: { token: HUB, agentTokens: `kitchen=${KITCHEN}` } };

const work = mkdtempSync(join(tmpdir(), 'dms3-event-node-'));
let n = 0;

/** A file in the test's own folder. */
function file(name: string, data: Buffer | string): string {
  const dir = join(work, `f${++n}`);
  const path = join(dir, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path, data);
  return path;
}

/** An agent config for the hook: the hub at `url` (default: this test's Node-RED). */
function agentConfig(url = helper.url(), token = KITCHEN): string {
  const dir = join(work, `agent${++n}`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'agent.yaml');
  writeFileSync(path, `server: ${url.replace(/^http/, 'ws')}/dms3/agent\nname: kitchen\ntoken: ${token}\nspool:\n  dir: ${join(dir, 'spool')}\n  max_mb: 5\n  max_files: 10\n`);
  return path;
}

/** Runs the hook as Motion would: a separate process. Never spawnSync: Node-RED runs in this process. */
function hook(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [HOOK, 'hook', ...args], { timeout: 30_000, env: { PATH: process.env.PATH } }, (err, _stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stderr });
    });
  });
}

/** A port on loopback that nothing listens on (it did a moment ago). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

const eventUrl = (query: Record<string, string>) => `${helper.url()}/dms3/event?${new URLSearchParams(query)}`;
const q = (extra: Record<string, string> = {}) => ({ agent: 'kitchen', camera: '1', event: '7', kind: 'picture', pixels: '500', name: 'a.jpg', ...extra });

async function post(query: Record<string, string>, body: Buffer, opts: { token?: string | null; type?: string; key?: string } = {}) {
  const headers: Record<string, string> = { 'Content-Type': opts.type ?? 'image/jpeg' };
  const token = opts.token === undefined ? KITCHEN : opts.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (opts.key) headers['Idempotency-Key'] = opts.key;
  const res = await fetch(eventUrl(query), { method: 'POST', headers, body: new Uint8Array(body), signal: AbortSignal.timeout(10_000) });
  return { status: res.status, json: await res.json() };
}

/** A raw upload with node:http: a Content-Length that lies, or a chunked body that never ends. */
function rawUpload(query: Record<string, string>, mode: 'declared' | 'chunked'): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { Authorization: `Bearer ${KITCHEN}`, 'Content-Type': 'image/jpeg' };
    if (mode === 'declared') headers['Content-Length'] = LIMIT_MB * 1048576 + 1;
    const req = request(eventUrl(query), { method: 'POST', headers, timeout: 15_000 });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer')));
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const chunk = Buffer.alloc(64 * 1024, 1);
    if (mode === 'declared') {
      req.write(chunk); // a little of what it announced, then waits for the answer
      return;
    }
    const pump = () => {
      if (answered || req.destroyed) return;
      req.write(chunk, () => setImmediate(pump));
    };
    pump();
  });
}

describe('dms3-event: motion events from the hook to the flow', () => {
  before(() => helper.startServer());
  afterEach(() => helper.unload());
  after(async () => {
    await helper.stopServer();
    rmSync(work, { recursive: true, force: true });
  });

  it('turns a hook run (a real process with a real JPEG) into one event message, counted for the agent', async () => {
    await helper.load(NODES, flow(), creds);
    const out = collect(helper.getNode('out'));
    // The agent reports (the hub answers 503: no decision yet, as no state node is deployed), so the hub lists it.
    assert.equal((await call(`${helper.url()}/dms3/api/report`, { token: KITCHEN, body: { v: 1, type: 'hello', name: 'kitchen', health: health() } })).status, 503);
    const jpg = makeJpeg(320, 240, { x: 10, y: 10, size: 40 });
    const path = file('01-20250301100000-01.jpg', jpg);
    const r = await hook(['picture', '--config', agentConfig(), '--file', path, '--pixels', '1234', '--camera', '1', '--event', '7', '--camera-name', '', '--noise', '12', '--time', '2025-03-01T10:00:00Z']);
    assert.deepEqual(r, { code: 0, stderr: '' });
    await waitFor(() => out.length === 1, 5000, 'the event message');
    const msg = out[0];
    assert.equal(msg.topic, 'event');
    const { file: f, ...rest } = msg.payload;
    assert.deepEqual(rest, { agent: 'kitchen', hostname: hostname(), camera: '1', eventId: '7', kind: 'picture', pixels: 1234, width: 320, height: 240, percent: 1.6, time: '2025-03-01T10:00:00.000Z' });
    assert.deepEqual({ ...f, data: undefined }, { name: '01-20250301100000-01.jpg', mime: 'image/jpeg', size: jpg.length, data: undefined });
    assert.ok(Buffer.isBuffer(f.data) && f.data.equals(jpg), 'the file itself');
    assert.deepEqual({ ...msg.motion, id: typeof msg.motion.id, receivedAt: typeof msg.motion.receivedAt }, { id: 'string', event: 7, cameraName: null, noise: 12, receivedAt: 'string', replay: false });
    assert.match(msg._msgid, /^[0-9a-f]{16}$/, "the hub's message id, by which it follows the event");
    const agents = await call(`${helper.url()}/dms3/api/agents`, { token: HUB });
    assert.equal(agents.json.find((a: any) => a.name === 'kitchen').eventsReceived, 1);
    const status = helper
      .getNode('ev')
      .status.getCalls()
      .filter((c: any) => c.thisValue.id === 'ev')
      .map((c: any) => c.args[0])
      .at(-1);
    assert.match(status.text, /^1 event, last kitchen\/1 picture \d\d:\d\d:\d\d$/);
  });

  it('does not emit a retried upload twice (same Idempotency-Key)', async () => {
    await helper.load(NODES, flow(), creds);
    const out = collect(helper.getNode('out'));
    const path = file('02.jpg', makeJpeg(64, 48));
    const cfg = agentConfig();
    const args = ['picture', '--config', cfg, '--file', path, '--pixels', '10', '--camera', '1', '--event', '8'];
    assert.equal((await hook(args)).code, 0);
    assert.equal((await hook(args)).code, 0); // Motion does not do this, but a retry after a lost answer does
    const key = 'a'.repeat(64);
    const body = makeJpeg(64, 48);
    const first = await post(q(), body, { key });
    const again = await post(q(), body, { key });
    assert.deepEqual([first.status, first.json.duplicate, again.status, again.json], [201, false, 200, { duplicate: true }]);
    await delay(200);
    assert.equal(out.length, 2, 'one per distinct upload');
    // A changed file (new mtime) is a new upload.
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    assert.equal((await hook(args)).code, 0);
    await waitFor(() => out.length === 3, 5000, 'the changed file');
  });

  it('spools while the hub is away (no server, no route, no event node) and delivers each event once when it is back', async () => {
    const cfg = agentConfig();
    const config = loadHookConfig(cfg, {});
    const refused = `http://127.0.0.1:${await closedPort()}`;
    const down = agentConfig(refused);
    writeFileSync(down, readFileSync(down, 'utf8').replace(/dir: .*/, `dir: ${config.spool.dir}`));
    const args = (path: string, event: string, c = cfg) => ['picture', '--config', c, '--file', path, '--pixels', '100', '--camera', '1', '--event', event];

    const a = await hook(args(file('a.jpg', makeJpeg(64, 48)), '1', down)); // nothing listens
    assert.equal(a.code, 0);
    assert.match(a.stderr, /hub unavailable \(connect ECONNREFUSED .*\): event spooled as \d+-/);
    const b = await hook(args(file('b.jpg', makeJpeg(64, 48)), '2')); // Node-RED up, hub not deployed: 404
    assert.equal(b.code, 0);
    assert.match(b.stderr, /hub unavailable \(404 /);
    await helper.load(NODES, [hubDef], creds); // the hub without any event node: 503
    const c = await hook(args(file('c.jpg', makeJpeg(64, 48)), '3'));
    assert.equal(c.code, 0);
    assert.match(c.stderr, /hub unavailable \(503 no dms3-event node uses this hub\)/);
    assert.equal((await spooled(config.spool.dir)).length, 3);
    await helper.unload();

    await helper.load(NODES, flow(), creds);
    const out = collect(helper.getNode('out'));
    const logs: string[] = [];
    const first = await deliverSpool(config, (l) => logs.push(l));
    assert.deepEqual(first, { delivered: 3, dropped: 0, remaining: 0, error: null });
    assert.deepEqual(readdirSync(config.spool.dir), []);
    await waitFor(() => out.length === 3, 5000, 'three delivered events');
    assert.deepEqual(
      out.map((m) => m.payload.eventId),
      ['1', '2', '3'],
      'oldest first',
    );
    assert.deepEqual(await deliverSpool(config, (l) => logs.push(l)), { delivered: 0, dropped: 0, remaining: 0, error: null });
    await delay(200);
    assert.equal(out.length, 3, 'exactly once');
  });

  it('answers bad uploads with the right status and a reason, and keeps serving', async () => {
    await helper.load(NODES, flow(), creds);
    const out = collect(helper.getNode('out'));
    const jpg = makeJpeg(64, 48);
    let good = 0;
    const check = async (what: string, p: Promise<{ status: number; json: any }>, status: number, error: RegExp) => {
      const r = await p;
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
      assert.match(r.json.error, error, what);
      // Node-RED still serves: a good upload goes through after each bad one.
      assert.equal((await post(q({ event: String(100 + good++) }), jpg)).status, 201, `after ${what}`);
    };
    await check('no token', post(q(), jpg, { token: null }), 401, /missing or wrong token/);
    await check('wrong token', post(q(), jpg, { token: 'wrong-token-0123456789' }), 401, /missing or wrong token/);
    await check("another agent's name", post(q({ agent: 'garage' }), jpg), 403, /belongs to agent "kitchen", not "garage"/);
    await check('oversize by Content-Length', rawUpload(q(), 'declared'), 413, new RegExp(`file too large: ${LIMIT_MB * 1048576 + 1} bytes \\(limit ${LIMIT_MB * 1048576}\\)`));
    await check('oversize by streamed bytes', rawUpload(q(), 'chunked'), 413, /file too large: over 1048576 bytes/);
    await check('wrong content type', post(q(), jpg, { type: 'text/plain' }), 415, /unsupported Content-Type "text\/plain"/);
    await check('a text file sent as image/jpeg', post(q(), Buffer.from('just some text, not a picture at all')), 400, /not a picture or movie \(claimed image\/jpeg\)/);
    await check('a movie sent as a picture', post(q(), Buffer.concat([mp4Header(), Buffer.alloc(64)]), { type: 'video/mp4' }), 400, /kind "picture" does not fit a video\/mp4 file/);
    await check('missing camera', post(q({ camera: '' }), jpg), 400, /^camera "": missing$/);
    await check('missing event', post({ agent: 'kitchen', camera: '1', kind: 'picture' }, jpg), 400, /^event "": missing$/);
    await check('bad pixels', post(q({ pixels: 'many' }), jpg), 400, /^pixels "many": expected a whole number/);
    await check('bad key', post(q(), jpg, { key: 'short' }), 400, /^Idempotency-Key "short"/);
    await check('empty body', post(q(), Buffer.alloc(0)), 400, /the body is empty/);
    await delay(100);
    assert.equal(out.length, good, 'only the good uploads reached the flow');
  });

  it('keeps a client path as a display name only, and writes no file', async () => {
    await helper.load(NODES, flow(), creds);
    const out = collect(helper.getNode('out'));
    // Where a careless server would have written it, relative to its working directory or the temp dir.
    const places = [process.cwd(), dirname(process.cwd()), dirname(dirname(process.cwd())), tmpdir(), '/etc'];
    const before = places.map((p) => readdirSync(p).sort());
    const r = await post(q({ name: '../../etc/passwd.jpg' }), makeJpeg(64, 48));
    assert.equal(r.status, 201);
    await waitFor(() => out.length === 1, 5000, 'the event');
    assert.equal(out[0].payload.file.name, 'passwd.jpg');
    assert.deepEqual(
      places.map((p) => readdirSync(p).sort()),
      before,
    );
  });

  it('filters by agent, camera and kind', async () => {
    await helper.load(NODES, [...flow({ agents: 'garage' }), { id: 'ev2', type: 'dms3-event', server: 'hub', cameras: '2', kind: 'movie', wires: [['out2']] }, { id: 'out2', type: 'helper' }], creds);
    const out = collect(helper.getNode('out'));
    const out2 = collect(helper.getNode('out2'));
    const mp4 = Buffer.concat([mp4Header(), Buffer.alloc(64)]);
    assert.equal((await post(q(), makeJpeg(64, 48))).status, 201);
    assert.equal((await post(q({ camera: '2', kind: 'movie', name: 'm.mp4' }), mp4, { type: 'video/mp4' })).status, 201);
    await waitFor(() => out2.length === 1, 5000, 'the movie');
    await delay(100);
    assert.equal(out.length, 0, 'garage only');
    assert.deepEqual([out2[0].payload.kind, out2[0].payload.width, out2[0].payload.percent], ['movie', null, null]);
  });

  it('shows a red status without a running hub', async () => {
    await helper.load(NODES, [{ id: 'ev', type: 'dms3-event', server: '', wires: [[]] }], {});
    const last = helper
      .getNode('ev')
      .status.getCalls()
      .filter((c: any) => c.thisValue.id === 'ev')
      .at(-1).args[0];
    assert.deepEqual(last, { fill: 'red', shape: 'ring', text: 'no hub configured' });
    await helper.unload();
    await helper.load(NODES, [{ id: 'ev', type: 'dms3-event', server: 'gone', wires: [[]] }], {});
    assert.deepEqual(helper.getNode('ev').status.lastCall.args[0], { fill: 'red', shape: 'ring', text: 'hub not deployed' });
  });
});
