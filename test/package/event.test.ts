// Motion events through a real `node-red` process: the hook (a real process) uploads, Node-RED is
// stopped and started again, and neither the restart nor the spool makes an event count twice.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spooled } from '../../agent/spool';
import { startAgent } from '../support/agent-process';
import { makeJpeg } from '../support/images';
import { NodeRed } from '../support/node-red-process';

const root = join(__dirname, '..', '..', '..');
const HOOK = join(root, 'dist', 'agent', 'cli.js');
const TOKEN = 'package-event-token-0123456789';

const flow = [
  { id: 'etab', type: 'tab', label: 'events' },
  { id: 'ehub', type: 'dms3-server', name: '', base: '/dms3', heartbeat: 10, eventLimit: 25 },
  { id: 'eev', type: 'dms3-event', z: 'etab', name: '', server: 'ehub', agents: '', cameras: '', kind: '', wires: [['ekeep']] },
  {
    id: 'ekeep',
    type: 'function',
    z: 'etab',
    func: "const p = msg.payload; const l = global.get('events') || []; l.push([p.agent, p.eventId, p.file.name, p.file.size, p.percent]); global.set('events', l); return null;",
    outputs: 1,
    wires: [[]],
  },
  { id: 'eget', type: 'http in', z: 'etab', url: '/t/events', method: 'get', wires: [['eread']] },
  { id: 'eread', type: 'function', z: 'etab', func: "msg.payload = global.get('events') || []; return msg;", outputs: 1, wires: [['eout']] },
  { id: 'eout', type: 'http response', z: 'etab', wires: [] },
];

/** The hook as Motion runs it: its own process, with only the environment given. */
function hook(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [HOOK, 'hook', ...args], { timeout: 30_000, env: { PATH: process.env.PATH, ...env } }, (err, _out, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stderr }));
  });
}

describe('motion events in a real node-red, across a restart', () => {
  const work = mkdtempSync(join(tmpdir(), 'dms3-pkg-event-'));
  const userDir = join(work, 'user');
  let red: NodeRed;

  before(async () => {
    mkdirSync(join(userDir, 'node_modules'), { recursive: true });
    symlinkSync(root, join(userDir, 'node_modules', 'node-red-contrib-dms3'), 'dir');
    writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true, dependencies: { 'node-red-contrib-dms3': '*' } }));
    red = new NodeRed({ userDir, env: { DMS3_TOKEN: TOKEN } });
    await red.start();
    await red.deploy(flow);
  });

  after(async () => {
    await red?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('does not count a retried upload twice after a restart, and the agent delivers what was spooled while it was down', async () => {
    const cfg = join(work, 'agent.yaml');
    writeFileSync(cfg, `server: ws://127.0.0.1:${red.port}/dms3/agent\nname: porch\nmotion:\n  mode: command\n  start: "true"\n  stop: "true"\nspool:\n  dir: ${join(work, 'spool')}\n`);
    const env = { DMS3_TOKEN: TOKEN };
    const first = join(work, '01.jpg');
    writeFileSync(first, makeJpeg(320, 240));
    const second = join(work, '02.jpg');
    writeFileSync(second, makeJpeg(640, 480));
    const run = (file: string, event: string) => hook(['picture', '--config', cfg, '--file', file, '--pixels', '7680', '--camera', '1', '--event', event], env);
    const events = async () => (await red.request('GET', '/t/events')).json();

    assert.deepEqual(await run(first, '1'), { code: 0, stderr: '' });
    assert.deepEqual(await events(), [['porch', '1', '01.jpg', readFileSync(first).length, 10]]);
    const keyFiles = join(userDir, 'dms3');
    assert.ok(existsSync(join(keyFiles, 'event-keys-ehub.log')), 'the keys are kept under the user directory');

    await red.stop();
    const down = await run(second, '2');
    assert.equal(down.code, 0);
    assert.match(down.stderr, /hub unavailable \(connect ECONNREFUSED/);
    assert.equal((await spooled(join(work, 'spool'))).length, 1);

    await red.start();
    // The same upload again (as after a lost answer): known from before the restart.
    assert.deepEqual(await run(first, '1'), { code: 0, stderr: '' });
    // The running agent delivers the spool as soon as it is connected.
    const agent = startAgent(['run', '--config', cfg], env);
    try {
      await agent.waitForOutput(/spool: 1 event\(s\) delivered, 0 dropped, 0 waiting/, 30_000);
    } finally {
      await agent.stop();
    }
    assert.equal((await spooled(join(work, 'spool'))).length, 0);
    const seen = await events();
    assert.deepEqual(seen, [
      ['porch', '1', '01.jpg', readFileSync(first).length, 10],
      ['porch', '2', '02.jpg', readFileSync(second).length, 2.5],
    ]);
    assert.doesNotMatch(red.log, /\[error\]/);
  });

  it('refuses a hook with a wrong token for good (exit 1, nothing spooled)', async () => {
    const cfg = join(work, 'wrong.yaml');
    writeFileSync(cfg, `server: ws://127.0.0.1:${red.port}/dms3/agent\nname: porch\ntoken: wrong-token-0123456789\nspool:\n  dir: ${join(work, 'spool-wrong')}\n`);
    const file = join(work, '03.jpg');
    writeFileSync(file, makeJpeg(64, 48));
    const r = await hook(['picture', '--config', cfg, '--file', file, '--camera', '1', '--event', '3']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the hub refused the event \(401 missing or wrong token/);
    assert.equal((await spooled(join(work, 'spool-wrong'))).length, 0);
  });
});
