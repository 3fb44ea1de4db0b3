// Pure parts of the agent: argv splitting, Motion status parsing, log redaction, os-release.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { splitArgs } from '../../agent/argv';
import { osRelease } from '../../agent/health';
import { prettyName } from '../../lib/os-release';
import { Log } from '../../agent/log';
import { confirms, contradicts } from '../../agent/motion/controller';
import { parseDetectionStatus } from '../../agent/motion/webcontrol';

describe('agent parts', () => {
  it('splits a command line like a shell would, without running one', () => {
    assert.deepEqual(splitArgs('motion -n -c /etc/motion/motion.conf'), ['motion', '-n', '-c', '/etc/motion/motion.conf']);
    assert.deepEqual(splitArgs(`a "b c" 'd "e"' f\\ g "h\\"i" ''`), ['a', 'b c', 'd "e"', 'f g', 'h"i', '']);
    assert.deepEqual(splitArgs('echo $HOME; rm -rf / | x'), ['echo', '$HOME;', 'rm', '-rf', '/', '|', 'x']);
    assert.throws(() => splitArgs('a "b'), /unterminated " quote/);
  });

  it("parses Motion's plain-text detection status", () => {
    assert.deepEqual(parseDetectionStatus('Camera 0 Detection status ACTIVE \n'), ['ACTIVE']);
    assert.deepEqual(parseDetectionStatus('Camera 1 Detection status PAUSE\nCamera 2 Detection status ACTIVE\n'), ['PAUSE', 'ACTIVE']);
    assert.equal(parseDetectionStatus('Bad Request \nThe server did not understand your request.'), null);
  });

  it('knows which Motion status confirms or contradicts a state', () => {
    assert.ok(confirms('start', 'running'));
    assert.ok(confirms('stop', 'paused') && confirms('stop', 'stopped'));
    assert.ok(!confirms('start', 'unknown') && !confirms('stop', 'failed'));
    assert.ok(contradicts('start', 'paused') && contradicts('stop', 'running'));
    assert.ok(!contradicts('start', 'failed') && !contradicts('stop', 'unknown'));
  });

  it('redacts the token, Bearer values and Authorization headers from log lines', () => {
    const log = new Log('debug');
    log.addSecret('s3cret-token-value');
    assert.equal(log.redact('connecting with s3cret-token-value'), 'connecting with ***');
    assert.equal(log.redact('headers {"Authorization":"Bearer abc.def"}'), 'headers {"Authorization":"Bearer ***"}');
    assert.equal(log.redact('authorization: Basic YWRtaW46eA=='), 'authorization: Basic ***');
    assert.equal(log.redact('no token: set DMS3_TOKEN'), 'no token: set DMS3_TOKEN');
  });

  it('reads PRETTY_NAME from os-release', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dms3-osr-'));
    try {
      writeFileSync(join(dir, 'os-release'), 'NAME="Raspbian GNU/Linux"\nPRETTY_NAME="Raspbian GNU/Linux 12 (bookworm)"\nID=raspbian\n');
      assert.equal(osRelease(join(dir, 'os-release')), 'Raspbian GNU/Linux 12 (bookworm)');
      assert.match(osRelease(join(dir, 'missing')), /\S/);
      // The one parser the agent and the dashboard share.
      assert.equal(prettyName("PRETTY_NAME='Debian GNU/Linux 12 (bookworm)'\n"), 'Debian GNU/Linux 12 (bookworm)');
      assert.equal(prettyName('PRETTY_NAME=Alpine\n'), 'Alpine');
      assert.equal(prettyName('NAME=x\nPRETTY_NAME=""\n'), null);
      assert.equal(prettyName('NAME=x\n'), null);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
