// The CLI as a real process: check-config on good and broken files, --version, --help, and `run`
// refusing a bad configuration with EX_CONFIG (78).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli, tempDir, writeConfig } from '../support/agent-process';

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
