import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../agent/config';

const ENV = { DMS3_TOKEN: 'env-token' };

function problems(yaml: string, env: NodeJS.ProcessEnv = ENV): { key: string; line: number | null; message: string }[] {
  try {
    parseConfig(yaml, 'agent.yaml', env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('agent config', () => {
  it('accepts the minimal file and fills in the defaults', () => {
    const cfg = parseConfig(
      'server: ws://192.168.1.10:1880/dms3/agent\nname: picam-alpha\nmotion:\n  mode: command\n  start: sudo systemctl start motion\n  stop: sudo systemctl stop motion\n',
      'agent.yaml',
      ENV,
    );
    assert.equal(cfg.transport, 'websocket');
    assert.equal(cfg.token, 'env-token');
    assert.equal(cfg.name, 'picam-alpha');
    assert.deepEqual(cfg.motion, { mode: 'command', start: 'sudo systemctl start motion', stop: 'sudo systemctl stop motion', status: undefined, timeout: 30 });
    assert.deepEqual(cfg.audio, { player: 'aplay', start: undefined, stop: undefined });
    assert.deepEqual([cfg.reportInterval, cfg.pollInterval, cfg.reconnectMaxBackoff], [15, 5, 30]);
    assert.deepEqual(cfg.serverLost, { after: 60, action: 'keep' });
    assert.equal(cfg.log.level, 'info');
  });

  it('reads every documented key of agent/config.example.yaml', () => {
    const example = join(__dirname, '..', '..', '..', 'agent', 'config.example.yaml');
    const cfg = parseConfig(readFileSync(example, 'utf8'), example, ENV);
    assert.equal(cfg.motion.mode, 'process');
  });

  it('process mode: a command string is split into argv without a shell; the default runs motion -n', () => {
    const cfg = parseConfig(`server: wss://hub/dms3/agent\nmotion:\n  mode: process\n  command: motion -n -c "/etc/motion/my motion.conf"\n`, 'a', ENV);
    assert.deepEqual(cfg.motion, { mode: 'process', command: ['motion', '-n', '-c', '/etc/motion/my motion.conf'], stopTimeout: 10 });
    const dflt = parseConfig(`server: wss://hub/dms3/agent\nmotion: {mode: process}\n`, 'a', ENV);
    assert.deepEqual(dflt.motion, { mode: 'process', command: ['motion', '-n'], stopTimeout: 10 });
  });

  it('webcontrol mode: defaults to all cameras on 127.0.0.1:8080', () => {
    const cfg = parseConfig(`server: http://hub:1880/dms3\nmotion:\n  mode: webcontrol\n`, 'a', ENV);
    assert.equal(cfg.transport, 'polling');
    assert.deepEqual(cfg.motion, { mode: 'webcontrol', url: 'http://127.0.0.1:8080', cameras: [0], user: undefined, password: undefined, timeout: 5 });
    const list = parseConfig(`server: http://hub:1880/dms3\nmotion:\n  mode: webcontrol\n  url: http://127.0.0.1:7999/\n  cameras: [1, 2]\n`, 'a', ENV);
    assert.deepEqual(list.motion.mode === 'webcontrol' && [list.motion.url, list.motion.cameras], ['http://127.0.0.1:7999', [1, 2]]);
  });

  it('takes the token from DMS3_TOKEN first, then token, then token_file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dms3-cfg-'));
    try {
      writeFileSync(join(dir, 'token'), 'file-token\n');
      const base = 'server: ws://hub/dms3/agent\nmotion: {mode: process}\n';
      assert.equal(parseConfig(`${base}token: inline\n`, 'a', ENV).token, 'env-token');
      assert.equal(parseConfig(`${base}token: inline\n`, 'a', {}).token, 'inline');
      assert.equal(parseConfig(`${base}token_file: ${join(dir, 'token')}\n`, 'a', {}).token, 'file-token');
      assert.equal(parseConfig(base, 'a', {}).token, null);
      const missing = problems(`${base}token_file: ${join(dir, 'nope')}\n`, {});
      assert.deepEqual(missing.map((p) => [p.key, p.line]), [['token_file', 3]]);
      assert.match(missing[0].message, /cannot read: ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Each broken file: the problems expected as [key, line, message pattern].
  const broken: [string, string, [string, number, RegExp][]][] = [
    ['an unknown top-level key', 'server: ws://hub/a\nmotion: {mode: process}\nlogg: {level: debug}\n', [['logg', 3, /unknown key \(allowed here: server, token, token_file, name, motion/]]],
    [
      'an unknown key inside the chosen mode',
      'server: ws://hub/a\nmotion:\n  mode: webcontrol\n  url: http://127.0.0.1:8080\n  start: x\n',
      [['motion.start', 5, /unknown key \(allowed here: mode, url, cameras, user, password, timeout\)/]],
    ],
    ['a bad Motion mode', 'server: ws://hub/a\nmotion:\n  mode: systemd\n', [['motion.mode', 3, /"systemd": must be one of process, webcontrol, command/]]],
    ['a missing mode', 'server: ws://hub/a\nmotion:\n  start: x\n', [['motion.mode', 2, /is required but missing/]]],
    ['a missing server', 'name: cam\nmotion: {mode: process}\n', [['server', 1, /is required but missing/]]],
    ['a server that is not a URL', 'server: ws://\nmotion: {mode: process}\n', [['server', 1, /must be a ws:\/\/, wss:\/\/, http:\/\/ or https:\/\/ URL/]]],
    [
      'several bad values at once',
      'server: ws://hub/a\nmotion: {mode: process, stop_timeout: 0}\nreport_interval: "15"\nserver_lost:\n  after: 30\n  action: panic\nlog:\n  level: trace\n',
      [
        ['motion.stop_timeout', 2, /0: must be a number of seconds from 1 to 300/],
        ['report_interval', 3, /"15": must be a number of seconds/],
        ['server_lost.action', 6, /"panic": must be one of keep, start, stop/],
        ['log.level', 8, /"trace": must be one of error, warn, info, debug/],
      ],
    ],
    ['a bad camera list item', 'server: ws://hub/a\nmotion:\n  mode: webcontrol\n  cameras:\n    - 1\n    - front\n', [['motion.cameras[1]', 6, /"front": must be integer/]]],
    ['a name with spaces', 'server: ws://hub/a\nname: my camera\nmotion: {mode: process}\n', [['name', 2, /must be a name of 1-64 letters/]]],
    ['token and token_file together', 'server: ws://hub/a\ntoken: a\ntoken_file: /x\nmotion: {mode: process}\n', [['token_file', 3, /either token or token_file/]]],
    ['webcontrol user without password', 'server: ws://hub/a\nmotion:\n  mode: webcontrol\n  user: admin\n', [['motion.user', 4, /both user and password/]]],
    ['a process command with an open quote', "server: ws://hub/a\nmotion:\n  mode: process\n  command: motion -c 'x\n", [['motion.command', 4, /unterminated ' quote/]]],
    ['a duplicate key (YAML)', 'server: ws://hub/a\nmotion: {mode: process}\nserver: ws://other/a\n', [['', 3, /YAML syntax: Map keys must be unique/]]],
    ['a tab-indented file (YAML)', 'server: ws://hub/a\nmotion:\n\tmode: process\n', [['', 3, /YAML syntax/]]],
  ];
  for (const [what, yaml, expected] of broken) {
    it(`names key and line for ${what}`, () => {
      const got = problems(yaml);
      assert.equal(got.length, expected.length, JSON.stringify(got));
      expected.forEach(([key, line, re], i) => {
        assert.equal(got[i].key, key);
        assert.equal(got[i].line, line, `${key}: ${JSON.stringify(got[i])}`);
        assert.match(got[i].message, re);
      });
    });
  }

  it('an empty file says what is required', () => {
    assert.match(problems('# nothing\n')[0].message, /"server" and "motion" are required/);
  });

  it('the error message lists "file:line: key: message" for each problem', () => {
    try {
      parseConfig('server: ws://hub/a\nmotion:\n  mode: x\n', '/etc/dms3/agent.yaml', ENV);
      assert.fail('expected an error');
    } catch (err) {
      assert.equal((err as Error).message, '/etc/dms3/agent.yaml:3: motion.mode: "x": must be one of process, webcontrol, command');
    }
  });
});
