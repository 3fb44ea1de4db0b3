import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkEventMeta } from '../../lib/event-upload';
import type { HookConfig, SpoolOptions } from '../../agent/hook-config';
import { deliverSpool, spooled, spoolEvent } from '../../agent/spool';

const root = mkdtempSync(join(tmpdir(), 'dms3-spool-unit-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function setup(maxFiles = 100, maxBytes = 10 * 1048576): { opts: SpoolOptions; source: (bytes: number) => string } {
  const dir = join(root, `s${++n}`);
  return {
    opts: { dir, maxFiles, maxBytes },
    source: (bytes) => {
      const p = join(root, `f${n}-${bytes}-${Math.random()}.jpg`);
      writeFileSync(p, Buffer.alloc(bytes, 7));
      return p;
    },
  };
}

const meta = checkEventMeta({ agent: 'kitchen', camera: '1', event: '7', kind: 'picture', name: 'a.jpg' });
const entry = (size: number, key = 'k'.repeat(64)) => ({ meta, key, mime: 'image/jpeg', size });

describe('spool', () => {
  it('keeps a copy and its metadata, written under temporary names and renamed', async () => {
    const { opts, source } = setup();
    const src = source(1000);
    const stem = await spoolEvent(opts, entry(1000), src, () => {});
    assert.deepEqual(readdirSync(opts.dir).sort(), [`${stem}.data`, `${stem}.json`]);
    assert.deepEqual(readFileSync(join(opts.dir, `${stem}.data`)), readFileSync(src));
    const record = JSON.parse(readFileSync(join(opts.dir, `${stem}.json`), 'utf8'));
    assert.deepEqual({ ...record, spooledAt: typeof record.spooledAt }, { v: 1, meta, key: 'k'.repeat(64), mime: 'image/jpeg', size: 1000, spooledAt: 'string' });
  });

  it('lists events oldest first and drops the oldest beyond the number of events, with a log line', async () => {
    const { opts, source } = setup(3);
    const logs: string[] = [];
    const stems: string[] = [];
    for (let i = 0; i < 5; i++) {
      stems.push(await spoolEvent(opts, entry(100), source(100), (l) => logs.push(l)));
      await new Promise((r) => setTimeout(r, 2)); // distinct times
    }
    assert.deepEqual(await spooled(opts.dir), stems.slice(2));
    assert.equal(logs.length, 2);
    assert.match(logs[0], new RegExp(`^spool full \\(4 events, .* bounds 3 events, .*\\): dropped the oldest event ${stems[0]}$`));
    assert.ok(logs[1].endsWith(stems[1]));
    assert.equal(readdirSync(opts.dir).length, 6, 'no copy is left behind');
  });

  it('drops the oldest beyond the size bound, and refuses an event larger than the whole spool', async () => {
    const { opts, source } = setup(100, 10_000);
    const logs: string[] = [];
    const a = await spoolEvent(opts, entry(4000), source(4000), (l) => logs.push(l));
    await new Promise((r) => setTimeout(r, 2));
    const b = await spoolEvent(opts, entry(4000), source(4000), (l) => logs.push(l));
    await new Promise((r) => setTimeout(r, 2));
    assert.deepEqual(await spooled(opts.dir), [a, b]);
    const c = await spoolEvent(opts, entry(4000), source(4000), (l) => logs.push(l));
    assert.deepEqual(await spooled(opts.dir), [b, c]);
    assert.equal(logs.length, 1);
    await assert.rejects(spoolEvent(opts, entry(20_000), source(20_000), () => {}), { message: /larger than the whole spool/ });
    assert.deepEqual(await spooled(opts.dir), [b, c]);
  });

  it('leaves nothing behind when the copy fails', async () => {
    const { opts } = setup();
    await assert.rejects(spoolEvent(opts, entry(10), join(root, 'missing.jpg'), () => {}), { code: 'ENOENT' });
    assert.deepEqual(readdirSync(opts.dir), []);
  });

  it('keeps everything when the hub is unreachable, and removes old leftovers of a crash', async () => {
    const { opts, source } = setup();
    await spoolEvent(opts, entry(100), source(100), () => {});
    const old = new Date(Date.now() - 3600_000);
    writeFileSync(join(opts.dir, '.tmp-000-1-aa.data'), 'x');
    writeFileSync(join(opts.dir, '000-2-bb.data'), 'orphan copy');
    writeFileSync(join(opts.dir, '.tmp-999-3-cc.json'), 'young: a hook may be writing it');
    utimesSync(join(opts.dir, '.tmp-000-1-aa.data'), old, old);
    utimesSync(join(opts.dir, '000-2-bb.data'), old, old);
    // A port that was listening a moment ago and is closed now: connection refused.
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise((r) => srv.close(r));
    const config: HookConfig = { base: `http://127.0.0.1:${port}/dms3`, name: 'kitchen', token: 't', spool: opts };
    const logs: string[] = [];
    const r = await deliverSpool(config, (l) => logs.push(l));
    assert.equal(r.delivered, 0);
    assert.equal(r.remaining, 1);
    assert.match(r.error ?? '', /ECONNREFUSED/);
    assert.match(logs.join('\n'), /0 delivered, 0 dropped, 1 left \(stopped: .*ECONNREFUSED/);
    assert.equal(existsSync(join(opts.dir, '.tmp-000-1-aa.data')), false);
    assert.equal(existsSync(join(opts.dir, '000-2-bb.data')), false);
    assert.equal(existsSync(join(opts.dir, '.tmp-999-3-cc.json')), true);
  });

  it('drops an unreadable event and says so', async () => {
    const { opts, source } = setup();
    const stem = await spoolEvent(opts, entry(100), source(100), () => {});
    writeFileSync(join(opts.dir, `${stem}.json`), '{"v":1,"meta":'); // torn
    const logs: string[] = [];
    const r = await deliverSpool({ base: 'http://127.0.0.1:9/dms3', name: 'kitchen', token: 't', spool: opts }, (l) => logs.push(l));
    assert.deepEqual([r.dropped, r.remaining], [1, 0]);
    assert.match(logs[0], new RegExp(`spooled event ${stem} is unreadable .*: dropped`));
    assert.deepEqual(readdirSync(opts.dir), []);
  });
});
