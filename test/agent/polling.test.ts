// The agent as a real process in polling mode (server: http://…/dms3): GET /api/state, POST /api/report.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startTestHub } from '../support/agent-hub';
import { makeToken, startAgent, tempDir, until, writeConfig } from '../support/agent-process';

describe('agent over HTTP polling (separate process, test hub)', () => {
  it('polls the state, applies it and reports hello, applied and health', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.remove());
    const token = makeToken();
    const hub = await startTestHub({ token, state: 'start', reason: 'always-on' });
    t.after(() => hub.close());
    const marker = join(tmp.dir, 'running');
    const config = writeConfig(
      tmp.dir,
      [
        `server: ${hub.httpUrl}`,
        'name: poller',
        'motion:',
        '  mode: command',
        `  start: touch ${marker}`,
        `  stop: rm -f ${marker}`,
        `  status: test -f ${marker}`,
        'poll_interval: 1',
        'report_interval: 2',
        '',
      ].join('\n'),
    );
    const agent = startAgent(['run', '--config', config, '--log-level', 'debug'], { DMS3_TOKEN: token });
    t.after(async () => {
      await agent.stop('SIGKILL');
    });

    const started = await until(() => hub.of('applied').find((a) => a.seq === 1), 15_000, 'applied start');
    assert.deepEqual([started.state, started.ok, started.motion], ['start', true, 'running']);
    assert.ok(existsSync(marker));
    const hello = hub.received[0];
    assert.equal(hello.via, 'poll');
    assert.equal(hello.msg.type === 'hello' && hello.msg.name, 'poller');

    const stop = hub.setState('stop', 'someone-home');
    const stopped = await until(() => hub.of('applied').find((a) => a.seq === stop.seq), 15_000, 'applied stop');
    assert.deepEqual([stopped.state, stopped.ok, stopped.motion], ['stop', true, 'stopped']);
    assert.ok(!existsSync(marker));
    const health = await until(() => hub.of('health').find((h) => h.health.applied === 'stop'), 15_000, 'a health report');
    assert.equal(health.health.reportInterval, 2);
    assert.ok(hub.received.every((r) => r.via === 'poll'));
    assert.deepEqual(hub.invalid, []);
    assert.ok(!agent.output().includes(token), 'no token in the log');
  });

  it('a refused token is logged as a 401 and retried', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.remove());
    const hub = await startTestHub({ token: makeToken() });
    t.after(() => hub.close());
    const wrong = makeToken();
    const config = writeConfig(tmp.dir, `server: ${hub.httpUrl}/\nmotion:\n  mode: command\n  start: "true"\n  stop: "true"\nreconnect_max_backoff: 2\n`);
    const agent = startAgent(['run', '--config', config], { DMS3_TOKEN: wrong });
    t.after(async () => {
      await agent.stop('SIGKILL');
    });
    await agent.waitForOutput(/ERROR the hub refused the token \(HTTP 401 Unauthorized\).*retrying in/);
    await until(() => hub.refused >= 2, 20_000, 'a retry');
    assert.equal(hub.received.length, 0);
    assert.ok(!agent.output().includes(wrong));
  });
});
