import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { hubBase, loadHookConfig } from '../../agent/hook-config';
import { parseHookArgs, runHook } from '../../agent/hook';
import { makeJpeg } from '../support/images';

const dir = mkdtempSync(join(tmpdir(), 'dms3-hook-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function config(text: string): string {
  const path = join(dir, `agent-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, text);
  return path;
}

describe('hook arguments', () => {
  it('reads Motion’s values', () => {
    const a = parseHookArgs(['picture', '--file', '/var/lib/motion/01.jpg', '--pixels', '1234', '--camera', '1', '--event', '7', '--camera-name', 'Front door', '--noise', '12', '--event-id', '20250301100000', '--time=2025-03-01T10:00:00']);
    assert.deepEqual(a, {
      kind: 'picture',
      file: '/var/lib/motion/01.jpg',
      config: '/etc/dms3/agent.yaml',
      raw: { pixels: '1234', camera: '1', event: '7', cameraName: 'Front door', noise: '12', eventId: '20250301100000', time: '2025-03-01T10:00:00' },
    });
  });

  it('takes an unset specifier as no value, quoted ("") or vanished (next flag, or the end)', () => {
    const a = parseHookArgs(['movie', '--camera-name', '', '--file', 'm.mkv', '--noise', '--camera', '2', '--event', '3', '--event-id']);
    assert.deepEqual(a.raw, { cameraName: '', noise: '', camera: '2', event: '3', eventId: '' });
    assert.equal(a.kind, 'movie');
  });

  it('names what is wrong', () => {
    assert.throws(() => parseHookArgs([]), { message: /^kind "": expected "picture" or "movie"/ });
    assert.throws(() => parseHookArgs(['sound', '--file', 'x']), { message: /^kind "sound"/ });
    assert.throws(() => parseHookArgs(['picture', '--camera', '1']), { message: /^--file "": missing/ });
    assert.throws(() => parseHookArgs(['picture', '--file', 'a.jpg', '--colour', 'red']), { message: /^argument "--colour": unknown/ });
    assert.throws(() => parseHookArgs(['picture', '--file', 'a.jpg', 'stray']), { message: /^argument "stray": unknown/ });
    assert.throws(() => parseHookArgs(['picture', '--file', 'a.jpg', '--camera', '1', '--camera', '2']), { message: /^--camera "--camera": given twice/ });
  });

  it('exits 2 with the field named for bad numbers, missing fields and files that are not what they claim', async () => {
    const cfg = config('server: ws://127.0.0.1:9/dms3/agent\nname: kitchen\ntoken: t\n');
    const jpg = join(dir, 'a.jpg');
    writeFileSync(jpg, makeJpeg(64, 48));
    const txt = join(dir, 'notes.jpg');
    writeFileSync(txt, 'not a picture');
    const run = async (argv: string[]) => {
      const lines: string[] = [];
      const code = await runHook(argv, {}, (l) => lines.push(l));
      return { code, text: lines.join('\n') };
    };
    const base = ['--config', cfg, '--camera', '1', '--event', '7'];
    assert.deepEqual(await run(['picture', '--file', jpg, '--pixels', 'lots', ...base]), { code: 2, text: '--pixels "lots": expected a whole number (0 or more)' });
    assert.deepEqual(await run(['picture', '--file', jpg, '--config', cfg, '--event', '7']), { code: 2, text: '--camera "": missing' });
    assert.deepEqual(await run(['picture', '--file', txt, ...base]), { code: 2, text: `--file "${txt}": not a picture (by its bytes)` });
    assert.deepEqual(await run(['movie', '--file', jpg, ...base]), { code: 2, text: `--file "${jpg}": kind "movie" does not fit a image/jpeg file` });
    assert.deepEqual(await run(['picture', '--file', join(dir, 'gone.jpg'), ...base]), { code: 2, text: `--file "${join(dir, 'gone.jpg')}": no such file` });
    const r = await run(['picture', '--file', jpg, '--config', join(dir, 'none.yaml')]);
    assert.equal(r.code, 2);
    assert.match(r.text, /^config .*none\.yaml: ENOENT/);
  });
});

describe('hook config', () => {
  it('derives the hub’s HTTP base from the agent’s server URL', () => {
    assert.equal(hubBase('ws://hub.lan:1880/dms3/agent'), 'http://hub.lan:1880/dms3');
    assert.equal(hubBase('wss://hub.example/red/dms3/agent/'), 'https://hub.example/red/dms3');
    assert.equal(hubBase('http://127.0.0.1:1880/dms3'), 'http://127.0.0.1:1880/dms3');
    assert.equal(hubBase('https://[::1]:8443/x/agent?x=1'), 'https://[::1]:8443/x');
    assert.throws(() => hubBase('ftp://hub/dms3'), { message: /^server "ftp:\/\/hub\/dms3": expected the hub URL/ });
    assert.throws(() => hubBase('hub:1880'), { message: /^server "hub:1880"/ });
  });

  it('reads the keys it needs, with defaults', () => {
    const c = loadHookConfig(config('server: ws://hub:1880/dms3/agent\nname: kitchen\ntoken: from-file\n'), {});
    assert.deepEqual(c, { base: 'http://hub:1880/dms3', name: 'kitchen', token: 'from-file', spool: { dir: '/var/lib/dms3/spool', maxBytes: 200 * 1048576, maxFiles: 1000 } });
    const s = loadHookConfig(config('server: ws://hub/dms3/agent\nname: k\ntoken: t\nspool:\n  dir: /tmp/s\n  max_mb: 1.5\n  max_files: 10\n'), {});
    assert.deepEqual(s.spool, { dir: '/tmp/s', maxBytes: 1572864, maxFiles: 10 });
  });

  it('takes the token from DMS3_TOKEN, then token_file, then token', () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'secret-from-file\n');
    const path = config(`server: ws://hub/dms3/agent\nname: k\ntoken: inline\ntoken_file: ${tokenFile}\n`);
    assert.equal(loadHookConfig(path, { DMS3_TOKEN: 'from-env' }).token, 'from-env');
    assert.equal(loadHookConfig(path, {}).token, 'secret-from-file');
    assert.equal(loadHookConfig(config('server: ws://hub/dms3/agent\nname: k\ntoken: inline\n'), {}).token, 'inline');
  });

  it('names the key that is wrong', () => {
    assert.throws(() => loadHookConfig(config('server: ws://hub/dms3/agent\nname: k\n'), {}), { message: /^token null: missing/ });
    assert.throws(() => loadHookConfig(config('name: k\ntoken: t\n'), {}), { message: /^server null: expected a text/ });
    assert.throws(() => loadHookConfig(config('server: ws://hub/a\nname: [1]\ntoken: t\n'), {}), { message: /^name \[1\]/ });
    assert.throws(() => loadHookConfig(config('server: ws://hub/a\nname: k\ntoken: t\nspool:\n  max_mb: -1\n'), {}), { message: /^spool.max_mb -1: expected a positive number/ });
    assert.throws(() => loadHookConfig(config('server: ws://hub/a\nname: k\ntoken_file: /nonexistent/token\n'), {}), { message: /^token_file: "\/nonexistent\/token": cannot read: ENOENT/ });
    assert.throws(() => loadHookConfig(config('server: [unclosed\n'), {}), { message: /^config .*: / });
  });
});
