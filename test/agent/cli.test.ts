// The CLI as a real process: check-config on good and broken files, --version, --help, and `run`
// refusing a bad configuration with EX_CONFIG (78).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeToken, runCli, startAgent, tempDir, until, writeConfig } from '../support/agent-process';

const MINIMAL = `server: ws://192.168.1.10:1880/dms3/agent
name: picam-alpha
motion:
  mode: command
  start: sudo systemctl start motion
  stop: sudo systemctl stop motion
`;

const BROKEN: { name: string; yaml: string; expect: RegExp[] }[] = [
  {
    name: 'an unknown key',
    yaml: `server: ws://hub/dms3/agent\nmotion:\n  mode: command\n  start: a\n  stop: b\nreport_intervall: 10\n`,
    expect: [/agent\.yaml:6: report_intervall: unknown key/],
  },
  {
    name: 'an unknown Motion mode',
    yaml: `server: ws://hub/dms3/agent\nmotion:\n  mode: daemon\n`,
    expect: [/agent\.yaml:3: motion\.mode: "daemon": must be one of process, webcontrol, command/],
  },
  {
    name: 'a missing stop command and a wrong type',
    yaml: `server: ws://hub/dms3/agent\nreport_interval: often\nmotion:\n  mode: command\n  start: a\n`,
    expect: [/agent\.yaml:2: report_interval: "often": must be a number of seconds/, /agent\.yaml:3: motion\.stop: is required but missing/],
  },
  {
    name: 'a server URL of the wrong scheme',
    yaml: `# hub\n\nserver: ftp://hub/dms3\nmotion: {mode: process}\n`,
    expect: [/agent\.yaml:3: server: "ftp:\/\/hub\/dms3": must be a ws:\/\/, wss:\/\/, http:\/\/ or https:\/\/ URL/],
  },
  {
    name: 'a YAML syntax error',
    yaml: `server: ws://hub/dms3/agent\nmotion:\n  mode: process\n  command: [motion, -n\n`,
    expect: [/agent\.yaml:\d+: YAML syntax: /],
  },
];

describe('dms3-agent CLI', () => {
  it('check-config accepts the minimal file (token from DMS3_TOKEN)', () => {
    const tmp = tempDir();
    try {
      const file = writeConfig(tmp.dir, MINIMAL);
      const r = runCli(['check-config', '--config', file], { DMS3_TOKEN: 'x'.repeat(32) });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /OK \(agent "picam-alpha", Motion command mode, websocket to ws:\/\/192\.168\.1\.10:1880\/dms3\/agent\)/);
      const noToken = runCli(['check-config', '--config', file]);
      assert.equal(noToken.code, 0);
      assert.match(noToken.stdout, /no token in the file/);
    } finally {
      tmp.remove();
    }
  });

  for (const c of BROKEN) {
    it(`check-config rejects ${c.name}, naming the key and line`, () => {
      const tmp = tempDir();
      try {
        const file = writeConfig(tmp.dir, c.yaml);
        const r = runCli(['check-config', '--config', file]);
        assert.equal(r.code, 78);
        for (const re of c.expect) assert.match(r.stderr, re);
      } finally {
        tmp.remove();
      }
    });
  }

  it('check-config names a missing file', () => {
    const r = runCli(['check-config', '--config', '/nonexistent/dms3/agent.yaml']);
    assert.equal(r.code, 78);
    assert.match(r.stderr, /\/nonexistent\/dms3\/agent\.yaml: cannot read: ENOENT/);
  });

  it('run refuses a broken file and a missing token with exit code 78', () => {
    const tmp = tempDir();
    try {
      const bad = runCli(['run', '--config', writeConfig(tmp.dir, BROKEN[0].yaml, 'bad.yaml')]);
      assert.equal(bad.code, 78);
      assert.match(bad.stderr, /bad\.yaml:6: report_intervall: unknown key/);
      const noToken = runCli(['run', '--config', writeConfig(tmp.dir, MINIMAL)]);
      assert.equal(noToken.code, 78);
      assert.match(noToken.stdout, /ERROR .*no token: set DMS3_TOKEN/);
    } finally {
      tmp.remove();
    }
  });

  it('refuses hostile files with 78, the key and the line, no stack trace: oversized, alias bomb, /dev/zero and a FIFO as token file', () => {
    const tmp = tempDir();
    try {
      const fifo = join(tmp.dir, 'token.fifo');
      execFileSync('mkfifo', [fifo]);
      const bigToken = join(tmp.dir, 'big-token');
      writeFileSync(bigToken, 'x'.repeat(5000));
      const laughs = ['a: &a [x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 9 }, (_, i) => `b${i}: &b${i} [${Array(9).fill(i ? `*b${i - 1}` : '*a').join(', ')}]`)].join('\n');
      const cases: { file: string; yaml: string; expect: RegExp }[] = [
        { file: 'big.yaml', yaml: `server: ws://hub/dms3/agent\n# ${'x'.repeat(1024 * 1024)}\n`, expect: /big\.yaml: cannot read: larger than 1 MB/ },
        { file: 'bomb.yaml', yaml: `${laughs}\n${MINIMAL}`, expect: /bomb\.yaml:2: YAML aliases \(\*name\) expand too often/ },
        { file: 'zero.yaml', yaml: `${MINIMAL}token_file: /dev/zero\n`, expect: /zero\.yaml:7: token_file: "\/dev\/zero": cannot read: not a regular file/ },
        { file: 'fifo.yaml', yaml: `${MINIMAL}token_file: ${fifo}\n`, expect: /fifo\.yaml:7: token_file: ".*token\.fifo": cannot read: not a regular file/ },
        { file: 'long.yaml', yaml: `${MINIMAL}token_file: ${bigToken}\n`, expect: /long\.yaml:7: token_file: ".*big-token": cannot read: larger than 4 KB/ },
        { file: 'deep.yaml', yaml: `${MINIMAL}x: ${'['.repeat(100_000)}\n`, expect: /deep\.yaml:\d+: / },
      ];
      for (const c of cases) {
        const file = writeConfig(tmp.dir, c.yaml, c.file);
        for (const cmd of ['check-config', 'run']) {
          const r = runCli([cmd, '--config', file]);
          assert.equal(r.code, 78, `${cmd} ${c.file}: ${r.stderr}`);
          assert.match(r.stderr, c.expect);
          assert.doesNotMatch(r.stderr, /\n\s+at |Error:/, 'no stack trace');
          assert.ok(r.stderr.split('\n').length <= 12, 'a few lines, not one per problem of a hostile file');
        }
      }
    } finally {
      tmp.remove();
    }
  });

  it('never prints a token value: a mistyped token is named by its key and line only', () => {
    const tmp = tempDir();
    try {
      for (const [i, typo] of ['123456789012345678901234', '[dms3tok-abcdef0123456789]', '{dms3tok: abcdef0123456789}', '""'].entries()) {
        const file = writeConfig(tmp.dir, `${MINIMAL}token: ${typo}\n`, `typo-${i}.yaml`);
        const r = runCli(['check-config', '--config', file]);
        assert.equal(r.code, 78);
        assert.match(r.stderr, new RegExp(`typo-${i}\\.yaml:7: token: `));
        for (const part of ['123456789012345678901234', 'abcdef0123456789']) assert.ok(!r.stderr.includes(part) && !r.stdout.includes(part), r.stderr);
      }
    } finally {
      tmp.remove();
    }
  });

  it('no child inherits the token: a start command that dumps its environment', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.remove());
    const token = makeToken();
    const dump = join(tmp.dir, 'env');
    const audio = join(tmp.dir, 'audio-env');
    // An unreachable hub and server_lost → start: the start command and the audio cue run without a hub.
    const cue = join(tmp.dir, 'cue.sh'); // "played" by sh: dumps the player's environment
    writeFileSync(cue, `env > ${audio}\n`);
    const file = writeConfig(
      tmp.dir,
      `server: http://127.0.0.1:9/dms3\nmotion:\n  mode: command\n  start: env > ${dump}\n  stop: "true"\nserver_lost:\n  after: 1\n  action: start\naudio:\n  player: sh\n  start: ${cue}\n`,
    );
    const run = startAgent(['run', '--config', file], { DMS3_TOKEN: token, OTHER_VAR: 'kept' });
    t.after(() => run.stop('SIGKILL'));
    const env = await until(() => {
      try {
        const a = readFileSync(dump, 'utf8');
        const b = readFileSync(audio, 'utf8');
        return a.includes('OTHER_VAR') && b.includes('OTHER_VAR') ? a + b : null;
      } catch {
        return null;
      }
    }, 20_000, 'the start command and the audio cue to dump their environment');
    assert.match(env, /OTHER_VAR=kept/, 'the rest of the environment is passed on');
    assert.doesNotMatch(env, /DMS3_TOKEN/);
    assert.ok(!env.includes(token), 'no token value under any name');
    assert.ok(!run.output().includes(token), 'no token in the log');
  });

  it('--version prints the package version; --help lists the commands; bad usage exits 2', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
    const v = runCli(['--version']);
    assert.equal(v.code, 0);
    assert.equal(v.stdout.trim(), pkg.version);
    const h = runCli(['--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /run\s+connect to the hub/);
    assert.match(h.stdout, /check-config\s+validate/);
    assert.equal(runCli(['frobnicate']).code, 2);
    const badLevel = runCli(['run', '--log-level', 'loud']);
    assert.equal(badLevel.code, 2);
    assert.match(badLevel.stderr, /--log-level "loud": must be one of error, warn, info, debug/);
  });
});
