// A hook killed (SIGKILL) in the middle of its upload does not lose the event: it noted its intent in
// the spool before it started, and the agent sends the event from Motion's file later.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadHookConfig } from '../../agent/hook-config';
import { deliverSpool, type SpoolEntry } from '../../agent/spool';
import { makeToken, startAgent, tempDir, until, writeConfig } from '../support/agent-process';
import { makeJpeg } from '../support/images';

const tmp = tempDir('dms3-hook-killed-');
after(() => tmp.remove());

async function listen(handler: (req: IncomingMessage, body: Buffer, res: import('node:http').ServerResponse) => void, answerAt: 'headers' | 'end'): Promise<{ server: Server; base: string; seen: number }> {
  const state = { server: null as unknown as Server, base: '', seen: 0 };
  state.server = createServer((req, res) => {
    state.seen++;
    const chunks: Buffer[] = [];
    if (answerAt === 'headers') return handler(req, Buffer.alloc(0), res);
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => handler(req, Buffer.concat(chunks), res));
  });
  await new Promise<void>((r) => state.server.listen(0, '127.0.0.1', r));
  state.base = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}/dms3`;
  return state;
}

describe('a hook killed mid-upload', () => {
  it('leaves its intent in the spool, and the agent sends the event from where Motion saved it', async () => {
    const token = makeToken();
    // A hub that takes the request and never answers: the hook is killed while it waits.
    const stalled = await listen(() => {}, 'headers');
    const spool = join(tmp.dir, 'spool');
    const jpg = makeJpeg(160, 120);
    const file = join(tmp.dir, '01-20251203070000-01.jpg');
    writeFileSync(file, jpg);
    const config = writeConfig(tmp.dir, `server: ${stalled.base}\nname: porch\nspool:\n  dir: ${spool}\n`, 'hook.yaml');
    const run = startAgent(['hook', 'picture', '--file', file, '--camera', '1', '--event', '4', '--pixels', '500', '--config', config], { DMS3_TOKEN: token });
    await until(() => stalled.seen > 0, 15_000, 'the upload under way');
    await run.stop('SIGKILL');
    stalled.server.closeAllConnections();
    stalled.server.close();

    const names = readdirSync(spool);
    assert.equal(names.filter((n) => n.endsWith('.data')).length, 0, 'no copy: the file is still Motion\'s');
    const notes = names.filter((n) => n.endsWith('.json'));
    assert.equal(notes.length, 1, names.join(', '));
    const intent = JSON.parse(readFileSync(join(spool, notes[0]), 'utf8')) as SpoolEntry;
    assert.equal(intent.source, file);

    // The hub is back; the agent's spool run leaves a fresh intent to its hook, then sends an old one.
    const got: { key: string | undefined; body: Buffer; query: string }[] = [];
    const good = await listen((req, body, res) => {
      got.push({ key: req.headers['idempotency-key'] as string | undefined, body, query: req.url ?? '' });
      res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ id: 'x', duplicate: false }));
    }, 'end');
    after(() => good.server.close());
    const hookConfig = loadHookConfig(writeConfig(tmp.dir, `server: ${good.base}\nname: porch\nspool:\n  dir: ${spool}\n`, 'agent.yaml'), { DMS3_TOKEN: token });
    const young = await deliverSpool(hookConfig, () => {});
    assert.deepEqual([young.delivered, young.remaining, got.length], [0, 1, 0]);
    const old = await deliverSpool(hookConfig, () => {}, { intentGraceMs: 0 });
    assert.deepEqual([old.delivered, old.remaining], [1, 0]);
    assert.equal(got.length, 1);
    assert.equal(got[0].key, intent.key, 'the same Idempotency-Key: a hub that had it answers duplicate');
    assert.ok(got[0].body.equals(jpg), 'the file itself');
    assert.match(got[0].query, /event=4/);
    assert.deepEqual(readdirSync(spool), []);
  });

  it('an intent whose file has changed since the hook saw it is dropped with a log line', async () => {
    const spool = join(tmp.dir, 'spool-gone');
    const file = join(tmp.dir, 'gone.jpg');
    writeFileSync(file, makeJpeg(64, 48));
    const token = makeToken();
    const stalled = await listen(() => {}, 'headers');
    const config = writeConfig(tmp.dir, `server: ${stalled.base}\nname: porch\nspool:\n  dir: ${spool}\n`, 'hook-gone.yaml');
    const run = startAgent(['hook', 'picture', '--file', file, '--camera', '1', '--event', '5', '--config', config], { DMS3_TOKEN: token });
    await until(() => stalled.seen > 0, 15_000, 'the upload under way');
    await run.stop('SIGKILL');
    stalled.server.closeAllConnections();
    stalled.server.close();
    writeFileSync(file, 'x'); // changed: not the picture the hook saw
    const lines: string[] = [];
    const r = await deliverSpool(loadHookConfig(config, { DMS3_TOKEN: token }), (l) => lines.push(l), { intentGraceMs: 0 });
    assert.deepEqual([r.delivered, r.dropped, r.remaining], [0, 1, 0]);
    assert.match(lines.join('\n'), /has changed since Motion saved it/);
  });
});
