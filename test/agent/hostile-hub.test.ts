// A hostile or broken hub against real `dms3-agent` processes: endless, huge, trickled, garbage,
// silent and cut answers. The polling agent's memory stays bounded, it keeps its last state and keeps
// polling, and it applies the next good decision; the hook finishes within its deadline and spools.
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeToken, startAgent, tempDir, until, writeConfig, type AgentRun } from '../support/agent-process';
import { HOSTILE_MODES, rssOf, startHostileHub, type HostileHub, type HostileMode } from '../support/hostile-hub';
import { makeJpeg } from '../support/images';
import { agentSetup } from '../support/real-hub';

/** The agent's RSS bound under every hostile answer (an idle agent is ~50-60 MB). */
const RSS_BOUND = 150 * 1024 * 1024;
/** The hook's bound: its deadline (5 s for a picture) with a wide margin for a loaded machine. */
const HOOK_BOUND_MS = 30_000;

const tmp = tempDir('dms3-hostile-');
after(() => tmp.remove());

async function sampleRss(pid: number, until: Promise<unknown>): Promise<number> {
  let max = 0;
  let done = false;
  void until.finally(() => (done = true));
  while (!done) {
    max = Math.max(max, await rssOf(pid).catch(() => 0));
    await new Promise((r) => setTimeout(r, 100));
  }
  return max;
}

describe('polling agent against a hostile hub', () => {
  for (const mode of HOSTILE_MODES) {
    it(`${mode} answers: memory bounded, last state kept, polling goes on, the next good decision applied`, async (t) => {
      const token = makeToken();
      const hub = await startHostileHub('start');
      t.after(() => hub.close());
      const a = agentSetup(tmp.dir, { name: `hostile-${mode}`, server: `http://127.0.0.1:${new URL(hub.base).port}/dms3`, mode: 'command' });
      const run: AgentRun = startAgent(['run', '--config', a.config], { DMS3_TOKEN: token });
      t.after(() => run.stop('SIGKILL'));
      await until(() => hub.reports.find((r) => r.type === 'applied' && r.seq === 1), 20_000, 'applied start');

      hub.mode = mode;
      const polls = (m: HostileMode) => hub.requests.filter((r) => r.mode === m && r.path.endsWith('/api/state')).length;
      // Two polls answered this way: the agent came back after the first (its schedule holds).
      const twice = until(() => polls(mode) >= 2 && run.output().match(/cannot poll the hub/g)?.length, 60_000, `two ${mode} polls`);
      const rss = await sampleRss(run.pid, twice);
      await twice;
      t.diagnostic(`${mode}: agent max RSS ${(rss / 1048576).toFixed(0)} MB`);
      assert.ok(rss < RSS_BOUND, `RSS ${rss} under ${RSS_BOUND}`);
      assert.deepEqual(a.commands(), ['start'], 'the hostile answer changed nothing');
      assert.doesNotMatch(run.output(), /applied stop|Error:|at .*\.js:\d+/);

      hub.mode = 'good';
      const seq = hub.setState('stop');
      await until(() => hub.reports.find((r) => r.type === 'applied' && r.seq === seq), 40_000, 'applied stop from the good hub');
      assert.deepEqual(a.commands(), ['start', 'stop']);
      assert.ok(!run.output().includes(token), 'no token in the log');
    });
  }
});

describe('hook against a hostile hub', () => {
  const jpg = join(tmp.dir, 'event.jpg');
  writeFileSync(jpg, makeJpeg());
  for (const mode of HOSTILE_MODES) {
    it(`${mode} answers: the hook exits within its deadline and spools the event`, async (t) => {
      const hub: HostileHub = await startHostileHub();
      t.after(() => hub.close());
      hub.mode = mode;
      const spool = join(tmp.dir, `spool-${mode}`);
      const config = writeConfig(tmp.dir, `server: ${hub.base}\nname: hook-${mode}\nspool:\n  dir: ${spool}\n`, `hook-${mode}.yaml`);
      const started = Date.now();
      const run = startAgent(['hook', 'picture', '--file', jpg, '--camera', '1', '--event', '1', '--config', config], { DMS3_TOKEN: makeToken() });
      const timer = setTimeout(() => run.child.kill('SIGKILL'), HOOK_BOUND_MS);
      const exit = await run.exited;
      clearTimeout(timer);
      const ms = Date.now() - started;
      t.diagnostic(`${mode}: hook exited after ${ms} ms`);
      assert.deepEqual(exit, { code: 0, signal: null }, run.output());
      assert.match(run.output(), /hub unavailable \(.*\): event spooled as /);
      assert.equal(readdirSync(spool).filter((f) => f.endsWith('.json')).length, 1, 'one event spooled');
      assert.ok(hub.requests.some((r) => r.path.endsWith('/event')), 'the hook did try the hub');
    });
  }

  it('an answer that quotes the token back: the hook spools and prints no token', async (t) => {
    const hub = await startHostileHub();
    t.after(() => hub.close());
    hub.mode = 'echo';
    const token = makeToken();
    const spool = join(tmp.dir, 'spool-echo');
    const config = writeConfig(tmp.dir, `server: ${hub.base}\nname: hook-echo\nspool:\n  dir: ${spool}\n`, 'hook-echo.yaml');
    const run = startAgent(['hook', 'picture', '--file', jpg, '--camera', '1', '--event', '1', '--config', config], { DMS3_TOKEN: token });
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.output());
    assert.match(run.output(), /hub unavailable \(503 unavailable; you sent Bearer \*\*\*\): event spooled/);
    assert.ok(!run.output().includes(token), run.output());
  });
});
