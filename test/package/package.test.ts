// Packaging: pack the package, install the tarball into a fresh Node-RED user directory and start a
// real node-red; its admin API must serve our nodes, editor, help, icons, locales and examples.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NodeRed } from '../support/node-red-process';

const root = join(__dirname, '..', '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const types = Object.keys(pkg['node-red'].nodes);
// NODE_BIN / NODE_RED_DIR run the same checks on another Node and Node-RED (e.g. Node 22 + Node-RED 5).
const nodeBin = process.env.DMS3_NODE_BIN;
const redDir = process.env.DMS3_NODE_RED_DIR;

describe(`package installed into a real node-red${redDir ? ` (${redDir})` : ''}`, () => {
  const work = mkdtempSync(join(tmpdir(), 'dms3-pkg-'));
  const userDir = join(work, 'user');
  let red: NodeRed;

  before(async () => {
    const tgz = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: root }).toString().trim().split('\n').pop()!;
    execFileSync('mkdir', ['-p', userDir]);
    writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true }));
    execFileSync('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--silent', join(work, tgz)], { cwd: userDir, stdio: 'inherit' });
    red = new NodeRed({
      userDir,
      node: nodeBin,
      redDir,
      env: { DMS3_TOKEN: 'package-test-token' },
      settings: { contextStorage: { default: { module: 'localfilesystem', config: { flushInterval: 1 } }, memory: { module: 'memory' } } },
    });
    await red.start();
  });

  after(async () => {
    await red?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs the intended Node-RED version', async () => {
    const expected = JSON.parse(readFileSync(require.resolve('node-red/package.json', redDir ? { paths: [redDir] } : undefined), 'utf8')).version;
    assert.match(red.log, new RegExp(`Node-RED version: v${expected.replace(/\./g, '\\.')}`));
  });

  it('registers every node of the package', async () => {
    const res = await red.request('GET', '/nodes', undefined, { accept: 'application/json' });
    assert.equal(res.status, 200);
    const sets = res.json().filter((s: any) => s.module === pkg.name);
    const registered = sets.flatMap((s: any) => s.types);
    assert.deepEqual(registered.sort(), [...types].sort());
    for (const s of sets) assert.equal(s.enabled && !s.err, true, `${s.id}: ${s.err}`);
  });

  it('serves each node’s editor, help and messages', async () => {
    const html = (await red.request('GET', '/nodes', undefined, { accept: 'text/html' })).text;
    for (const t of types) {
      assert.ok(html.includes(`RED.nodes.registerType('${t}'`), `editor script of ${t}`);
      assert.ok(html.includes(`data-template-name="${t}"`), `edit dialog of ${t}`);
      assert.ok(html.includes(`data-help-name="${t}"`), `help of ${t}`);
    }
    for (const t of types) {
      const res = await red.request('GET', `/locales/${pkg.name}/${t}?lng=en-US`);
      assert.equal(res.status, 200);
      assert.ok(Object.keys(res.json()[t] ?? {}).length > 0, `messages of ${t}: ${res.text}`);
    }
  });

  it('serves the icons', async () => {
    for (const icon of readdirSync(join(root, 'icons'))) {
      const res = await red.request('GET', `/icons/${pkg.name}/${icon}`);
      assert.equal(res.status, 200, icon);
      assert.match(res.text, /<svg/);
    }
  });

  it('lists the examples, including the server flow identical to flows/', async () => {
    const res = await red.request('GET', `/library/examples/flows/${pkg.name}/`);
    assert.equal(res.status, 200, res.text);
    const names = (res.json() as { fn: string }[]).map((e) => e.fn);
    assert.ok(names.includes('01 DMS3 server'), res.text);
    const example = await red.request('GET', `/library/examples/flows/${pkg.name}/01 DMS3 server`.replace(/ /g, '%20'));
    assert.deepEqual(example.json(), JSON.parse(readFileSync(join(root, 'flows', 'dms3-server.json'), 'utf8')));
  });

  it('deploys the shipped server flow without errors', async () => {
    const flow = JSON.parse(readFileSync(join(root, 'flows', 'dms3-server.json'), 'utf8'));
    const mark = red.log.length;
    await red.deploy(flow);
    const deployed = (await red.request('GET', '/flows', undefined, { 'Node-RED-API-Version': 'v2' })).json();
    assert.equal(deployed.flows.length, flow.length);
    assert.doesNotMatch(red.log.slice(mark), /\[error\]/);
  });

  it('serves the dashboard from the installed package', async () => {
    assert.equal((await red.request('GET', '/dms3/login')).status, 200);
    for (const asset of ['app.js', 'style.css', 'icon.svg']) assert.equal((await red.request('GET', `/dms3/assets/${asset}`)).status, 200, asset);
  });

  it('offers examples that together use every node type, and each deploys', async () => {
    const files = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.json')).sort();
    const examples = files.map((f) => JSON.parse(readFileSync(join(root, 'examples', f), 'utf8')) as any[]);
    const used = new Set(examples.flat().map((n) => n.type));
    assert.deepEqual(types.filter((t) => !used.has(t)), [], 'node types that no example shows');
    for (const [i, example] of examples.entries()) {
      // Keep the test off real networks: no real interface to scan, no Home Assistant to dial.
      const nodes = example.map((n) => ({
        ...n,
        ...(n.type === 'dms3-presence-scan' ? { iface: 'dms3-none0' } : {}),
        ...(n.type === 'dms3-ha-server' ? { url: 'http://127.0.0.1:9', credentials: { token: 'example-test-token' } } : {}),
        ...(n.type === 'dms3-smtp' ? { host: '127.0.0.1', port: 9 } : {}),
        ...(n.wires !== undefined ? { z: `extab${i}` } : {}),
      }));
      const mark = red.log.length;
      await red.deploy([{ id: `extab${i}`, type: 'tab', label: files[i] }, ...nodes]);
      const errors = red.log
        .slice(mark)
        .split('\n')
        .filter((l) => l.includes('[error]') && !l.includes('dms3-none0') && !l.includes('127.0.0.1:9'));
      assert.deepEqual(errors, [], `${files[i]}`);
    }
  });

  it('keeps the surveillance decision across a restart (node context)', async () => {
    const flow = [
      { id: 'ptab', type: 'tab', label: 'persistence' },
      { id: 'pin', type: 'http in', z: 'ptab', url: '/t/override', method: 'post', wires: [['pchg', 'pres']] },
      { id: 'pres', type: 'http response', z: 'ptab', statusCode: '204', wires: [] },
      { id: 'pchg', type: 'change', z: 'ptab', rules: [{ t: 'set', p: 'topic', pt: 'msg', to: 'override', tot: 'str' }, { t: 'set', p: 'payload', pt: 'msg', to: 'payload.mode', tot: 'msg' }], wires: [['pstate']] },
      { id: 'pstate', type: 'dms3-state', z: 'ptab', startup: 'start', wires: [['pkeep']] },
      { id: 'pkeep', type: 'function', z: 'ptab', func: "global.set('last', msg.payload, 'memory'); return null;", outputs: 1, wires: [[]] },
      { id: 'pget', type: 'http in', z: 'ptab', url: '/t/state', method: 'get', wires: [['pread']] },
      { id: 'pread', type: 'function', z: 'ptab', func: "msg.payload = global.get('last', 'memory') || null; return msg;", outputs: 1, wires: [['pout']] },
      { id: 'pout', type: 'http response', z: 'ptab', wires: [] },
    ];
    await red.deploy(flow);
    const state = async () => (await red.request('GET', '/t/state')).json();
    assert.equal((await red.request('POST', '/t/override', { mode: 'stop' })).status, 204);
    let before: any;
    for (let i = 0; i < 100 && before?.override !== 'stop'; i++) {
      before = await state();
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual([before.state, before.reason, before.override], ['stop', 'override', 'stop']);
    await red.stop();
    await red.start();
    let afterRestart: any = null;
    for (let i = 0; i < 100 && !afterRestart; i++) {
      afterRestart = await state();
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(afterRestart, before, 'the restored decision, with its original "since"');
  });
});
