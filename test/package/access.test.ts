// Access against a real `node-red` process: tokens minted by the editor's "Add agent", sessions that end
// on the server and survive a restart, a new password that ends them, the hub-wide sign-in limiter
// against a guesser rotating X-Forwarded-For (with and without a trusted proxy), and `npm start`
// refusing a non-loopback HOST without adminAuth.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeToken, tempDir } from '../support/agent-process';
import { NodeRed } from '../support/node-red-process';
import { HubRig } from '../support/real-hub';

const root = join(__dirname, '..', '..', '..');
const PASSWORD = 'the owner password 1234';

describe('access in a real node-red', () => {
  const token = makeToken();
  const rig = new HubRig({ token });
  const flow = (hub: Record<string, unknown>, credentials: Record<string, string>) => [{ id: 'hub1', type: 'dms3-server', name: '', base: '/dms3', heartbeat: 10, ...hub, credentials }];

  async function form(path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
    const res = await fetch(`${rig.httpUrl}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }
  async function get(path: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${rig.httpUrl}${path}`, { headers, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }
  const cookieOf = (setCookie: string | null, name: string) => new RegExp(`${name}=[^;]+`).exec(setCookie ?? '')?.[0] ?? null;

  before(() => rig.start());
  after(() => rig.close());

  it('the editor mints a Pi token; the hub keeps only its digest, and the token opens only that agent', async () => {
    const minted = await rig.red.request('POST', '/dms3-server/agent-token');
    assert.equal(minted.status, 200);
    const { token: piToken, stored } = minted.json() as { token: string; stored: string };
    assert.match(piToken, /^[\w-]{32}$/);
    assert.match(stored, /^sha256:[0-9a-f]{64}$/);
    await rig.red.deploy(flow({}, { password: PASSWORD, agentTokens: `pi-1=${stored}` }));
    const flows = await rig.red.request('GET', '/flows');
    assert.ok(!flows.text.includes(piToken), 'the flow never holds the Pi token');
    const creds = await rig.red.request('GET', '/credentials/dms3-server/hub1');
    assert.ok(!creds.text.includes(piToken) && !creds.text.includes(PASSWORD), 'nor do the credentials the editor reads');
    // The Pi's token is an agent's: the agents' endpoint opens (503: no decision yet, not 401), the API and the dashboard do not.
    assert.equal((await get('/api/state', { Authorization: `Bearer ${piToken}` })).status, 503);
    assert.equal((await get('/api/agents', { Authorization: `Bearer ${piToken}` })).status, 403);
    assert.equal((await form('/login', { password: piToken })).status, 401);
    assert.ok(!rig.red.log.includes(piToken) && !rig.red.log.includes(PASSWORD), 'no secret in the log');
  });

  it('sign-out ends the session on the server; sessions survive a restart; a new password ends them all', async () => {
    await rig.red.deploy(flow({}, { password: PASSWORD }));
    const kept = cookieOf((await form('/login', { password: PASSWORD })).headers.get('set-cookie'), 'dms3_session')!;
    const leaving = cookieOf((await form('/login', { password: PASSWORD })).headers.get('set-cookie'), 'dms3_session')!;
    assert.equal((await get('/api/view', { Cookie: kept })).status, 200);
    assert.equal((await form('/logout', {}, { Cookie: leaving })).status, 303);
    assert.equal((await get('/api/view', { Cookie: leaving })).status, 401);

    await rig.stopNodeRed('SIGTERM');
    await rig.restartNodeRed();
    assert.equal((await get('/api/view', { Cookie: kept })).status, 200, 'still signed in after a restart');
    assert.equal((await get('/api/view', { Cookie: leaving })).status, 401, 'still signed out after a restart');
    assert.equal((await get('/', { Cookie: leaving })).headers.get('location'), 'login');
    const file = join(rig.userDir, 'dms3', 'sessions-hub1.json');
    assert.ok(existsSync(file));
    const text = readFileSync(file, 'utf8');
    assert.ok(![kept, leaving, PASSWORD, token].some((s) => text.includes(s.replace(/^dms3_session=/, ''))), 'the file holds digests only');

    await rig.red.deploy(flow({}, { password: 'a new password 5678' }));
    assert.equal((await get('/api/view', { Cookie: kept })).status, 401);
    await rig.stopNodeRed('SIGTERM');
    await rig.restartNodeRed();
    assert.equal((await get('/api/view', { Cookie: kept })).status, 401, 'and stays ended after a restart');
  });

  it('a guesser rotating addresses gets 10 guesses, then 429s, even through a trusted proxy; a known browser gets in', async () => {
    // The owner's browser signed in before (on the current password) and keeps its known-device cookie.
    await rig.red.deploy(flow({ trustProxy: '127.0.0.1' }, { password: PASSWORD }));
    const device = cookieOf((await form('/login', { password: PASSWORD })).headers.get('set-cookie'), 'dms3_device')!;
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) statuses.push((await form('/login', { password: `guess ${i}` }, { 'X-Forwarded-For': `198.51.${i >> 8}.${i & 255}`, 'X-Forwarded-Proto': 'https' })).status);
    assert.equal(statuses.filter((s) => s === 401).length, 10, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 429).length, 50);
    const stranger = await form('/login', { password: PASSWORD }, { 'X-Forwarded-For': '203.0.113.7' });
    assert.equal(stranger.status, 429, 'the right password gets no check while the limiter is engaged (a check would tell the guesser)');
    assert.ok(Number(stranger.headers.get('retry-after')) <= 60);
    const owner = await form('/login', { password: PASSWORD }, { Cookie: device, 'X-Forwarded-Proto': 'https' });
    assert.equal(owner.status, 303);
    assert.match(owner.headers.get('set-cookie')!, /; Secure/, 'X-Forwarded-Proto believed from the trusted proxy');
    // The log names the forwarded client of each checked failure, and says the hub is slowed.
    assert.match(rig.red.log, /dashboard sign-in from 198\.51\.0\.9 refused: wrong password or token \(sign-ins slowed for the whole hub: one per 60 s\)/);
  });
});

describe('the editor\'s token endpoint behind adminAuth', () => {
  const dir = tempDir('dms3-adminauth-');
  const userDir = join(dir.dir, 'node-red');
  mkdirSync(join(userDir, 'node_modules'), { recursive: true });
  symlinkSync(root, join(userDir, 'node_modules', 'node-red-contrib-dms3'), 'dir');
  writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'dms3-adminauth', private: true, dependencies: { 'node-red-contrib-dms3': '*' } }));
  const hash = '$2b$10$jjSEVhsHIdmSDF6qQvWTP.K5lhjvPlIbvrM9d1dxhJqMuqJlvjIuy'; // bcrypt of "x"
  const red = new NodeRed({ userDir, settings: { adminAuth: { type: 'credentials', users: [{ username: 'admin', password: hash, permissions: '*' }, { username: 'viewer', password: hash, permissions: 'read' }] } } });
  before(() => red.start());
  after(async () => {
    await red.stop();
    dir.remove();
  });

  async function login(username: string, scope: string): Promise<string> {
    const r = await red.request('POST', '/auth/token', { client_id: 'node-red-admin', grant_type: 'password', scope, username, password: 'x' });
    assert.equal(r.status, 200, r.text);
    return (r.json() as { access_token: string }).access_token;
  }

  it('mints only for a signed-in editor user who may write', async () => {
    assert.equal((await red.request('POST', '/dms3-server/agent-token')).status, 401);
    const viewer = await login('viewer', 'read');
    assert.equal((await red.request('POST', '/dms3-server/agent-token', undefined, { authorization: `Bearer ${viewer}` })).status, 401);
    const admin = await login('admin', '*');
    const ok = await red.request('POST', '/dms3-server/agent-token', undefined, { authorization: `Bearer ${admin}` });
    assert.equal(ok.status, 200);
    assert.match((ok.json() as { stored: string }).stored, /^sha256:[0-9a-f]{64}$/);
    assert.ok(!red.log.includes((ok.json() as { token: string }).token), 'the minted token is not logged');
  });
});

describe('npm start', () => {
  const start = (env: Record<string, string>, args: string[] = []) => {
    const dir = tempDir('dms3-start-');
    const userDir = join(dir.dir, 'user');
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'start.mjs'), ...args], { env: { ...process.env, DMS3_USER_DIR: userDir, DMS3_ADMIN_USER: '', DMS3_ADMIN_HASH: '', ...env }, encoding: 'utf8', timeout: 30_000 });
    const settings = existsSync(join(userDir, 'settings.js')) ? readFileSync(join(userDir, 'settings.js'), 'utf8') : null;
    dir.remove();
    return { status: r.status, stderr: r.stderr, settings };
  };
  const HASH = '$2b$10$jjSEVhsHIdmSDF6qQvWTP.K5lhjvPlIbvrM9d1dxhJqMuqJlvjIuy';

  it('refuses a non-loopback HOST without adminAuth, and says how', () => {
    for (const host of ['0.0.0.0', '192.168.1.10', '::']) {
      const r = start({ HOST: host }, ['--dry-run']);
      assert.equal(r.status, 78, r.stderr);
      assert.match(r.stderr, new RegExp(`refusing HOST=${host.replace(/\./g, '\\.')}`));
      assert.match(r.stderr, /adminAuth/);
      assert.match(r.stderr, /DMS3_ADMIN_USER=admin/);
      assert.match(r.stderr, /DMS3_ADMIN_HASH=.*bcryptjs/);
      assert.equal(r.settings, null, 'nothing written, nothing started');
    }
    assert.equal(start({ HOST: '0.0.0.0', DMS3_ADMIN_USER: 'admin', DMS3_ADMIN_HASH: 'not-a-hash' }, ['--dry-run']).status, 78);
  });

  it('starts on a LAN address with adminAuth, and on loopback without it', () => {
    const lan = start({ HOST: '0.0.0.0', DMS3_ADMIN_USER: 'admin', DMS3_ADMIN_HASH: HASH }, ['--dry-run']);
    assert.equal(lan.status, 0, lan.stderr);
    assert.match(lan.settings!, /adminAuth: \{ type: 'credentials', users: \[\{ username: "admin", password: "\$2b\$10\$jjSE/);
    assert.match(lan.settings!, /uiHost: "0\.0\.0\.0"/);
    const local = start({ HOST: '127.0.0.1' }, ['--dry-run']);
    assert.equal(local.status, 0, local.stderr);
    assert.ok(!local.settings!.includes('adminAuth'));
  });
});
