// Faults on the whole system (network namespaces, real node-red, real agents and Motion): hostile
// clients, an agent, Motion and Node-RED killed, a Pi's cable cut. Nothing may be lost; every agent
// must end on the hub's decision. One bed, the faults in order; each prints its timeline.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { Bed, PIS, TIMING, until, type ProbeEntry } from '../../support/e2e-bed';
import { unixRequest } from '../../support/node-red-process';
import { missing, requireSystem } from '../../support/system';

const NEEDS = { root: true, commands: ['ip', 'unshare', 'motion', 'arping', 'arp-scan', 'ndisc6', 'ping'] };
const NAMES = PIS.map((p) => p.name);

interface Outcome {
  status?: number; // HTTP status of a refused upgrade
  close?: number; // WebSocket close code
}

describe('end to end: faults', () => {
  let bed: Bed;

  before(async () => {
    if (missing(NEEDS)) return;
    bed = await Bed.start();
  });
  after(async () => {
    await bed?.stop();
  });

  async function scenario(t: TestContext, fn: () => Promise<void>): Promise<void> {
    if (!requireSystem(t, NEEDS)) return;
    const from = Date.now();
    try {
      await fn();
    } finally {
      console.log(`\n== timeline: ${t.name}\n${await bed.timeline(from)}\n`);
    }
  }

  async function override(mode: string) {
    const r = await bed.api('POST', '/dms3/api/override', { mode });
    assert.equal(r.status, 200, r.text);
    return r.json();
  }

  const agentEvents = (probe: ProbeEntry[], since: number, name?: string) =>
    probe.filter((e) => e.topic === 'agent' && e.at >= since && (!name || e.payload.agent.name === name)).map((e) => ({ at: e.at, event: e.payload.event as string, detail: e.payload.detail as string }));

  /** A WebSocket to the hub's agent endpoint through the Unix socket into the server's namespace. */
  function hostileSocket(token: string | null, send: (ws: WebSocket) => void): Promise<Outcome> {
    return new Promise((resolve) => {
      const ws = new WebSocket(`ws+unix:${bed.sock('red')}:/dms3/agent`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
      const timer = setTimeout(() => {
        ws.terminate();
        resolve({});
      }, 20_000);
      ws.on('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        resolve({ status: res.statusCode });
        ws.terminate();
      });
      ws.on('open', () => send(ws));
      ws.on('close', (code) => {
        clearTimeout(timer);
        resolve({ close: code });
      });
      ws.on('error', () => undefined);
    });
  }

  it('hostile input is refused and the agents stay connected', async (t) => {
    await scenario(t, async () => {
      const from = Date.now();
      const api = (method: string, path: string, body: string | Buffer | undefined, token: string | null, type = 'application/json') =>
        unixRequest(bed.sock('red'), method, path, { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) }, body);

      // No token, a wrong token: 401 for the API and the WebSocket.
      assert.equal((await api('GET', '/dms3/api/state', undefined, null)).status, 401);
      assert.equal((await api('GET', '/dms3/api/state', undefined, 'wrong-token-0123456789')).status, 401);
      assert.equal((await api('POST', '/dms3/api/override', '{"mode":"start"}', 'wrong-token-0123456789')).status, 401);
      // Garbage JSON, a bad value, oversized bodies. With httpAdminRoot "/" (Node-RED's default) the editor's
      // JSON body parser (limit: apiMaxLength, 5 MB) reads every application/json body first: it answers
      // bad JSON with its own 400, and a JSON body under 5 MB reaches the hub already parsed.
      const garbage = await api('POST', '/dms3/api/override', '{"mode": st', bed.token);
      assert.equal(garbage.status, 400, garbage.text);
      assert.equal((await api('POST', '/dms3/api/override', '{"mode":"panic"}', bed.token)).status, 400);
      assert.equal((await api('POST', '/dms3/api/report', '\u0000\u0001 not json', bed.token, 'text/plain')).status, 400);
      assert.equal((await api('POST', '/dms3/api/report', Buffer.alloc(1024 * 1024, 0x7b), bed.token, 'application/octet-stream')).status, 413);
      const bigJson = await api('POST', '/dms3/api/report', Buffer.alloc(1024 * 1024, 0x7b), bed.token);
      assert.ok(bigJson.status === 400 || bigJson.status === 413, `1 MiB of JSON: ${bigJson.status}`);

      // A flood: 60 upgrades without or with a wrong token, 30 sockets with the token sending bad frames,
      // one frame over the limit; a decision made in the middle of it must still reach every agent.
      const flood: Promise<Outcome>[] = [];
      for (let i = 0; i < 30; i++) flood.push(hostileSocket(null, () => undefined), hostileSocket(`wrong-${i}-0123456789abcdef`, () => undefined));
      const junk = ['not json', '{"v":1,"type":"hello"}', '{"v":9,"type":"hello","name":"x","health":{}}', '{"v":1,"type":"applied","seq":1}', Buffer.from([0xff, 0x00, 0x13, 0x37])];
      for (let i = 0; i < 30; i++) flood.push(hostileSocket(bed.token, (ws) => ws.send(junk[i % junk.length])));
      flood.push(hostileSocket(bed.token, (ws) => ws.send(Buffer.alloc(100 * 1024, 0x61))));
      const decided = await override('start');
      const outcomes = await Promise.all(flood);
      assert.deepEqual(outcomes.slice(0, 60), Array.from({ length: 60 }, () => ({ status: 401 })), 'upgrades without a valid token');
      assert.deepEqual(outcomes.slice(60, 90), Array.from({ length: 30 }, () => ({ close: 1008 })), 'bad frames');
      assert.deepEqual(outcomes[90], { close: 1009 }, 'frame over 64 KiB');
      assert.equal((await bed.settled('start', 30_000)).seq, decided.seq);

      const auto = await override('auto');
      assert.equal((await bed.settled('stop', 60_000)).seq, auto.seq);
      const events = agentEvents(await bed.probe(), from);
      assert.deepEqual(events.filter((e) => e.event === 'disconnected' || e.event === 'connected'), [], 'no agent lost its connection');
      assert.ok(!bed.red.log.includes(bed.token), 'the token never appears in the Node-RED log');
    });
  });

  it('an agent killed and restarted gets the current state at once', async (t) => {
    await scenario(t, async () => {
      await bed.agent('garage').stop('SIGKILL');
      bed.note('garage agent killed');
      // The decision changes while it is away.
      const decided = await override('start');
      await bed.settled('start', 60_000, ['porch', 'garden']);
      const started = bed.note('garage agent started again');
      const run = bed.startAgent('garage');
      await bed.settled('start', 30_000);
      const got = bed.agentLines('garage').find((l) => l.at >= started && l.text.startsWith(`hub: start`))!;
      const applied = bed.appliedAt('garage', 'start', started)!;
      console.log(`agent restart → state received ${((got.at - started) / 1000).toFixed(2)} s, applied ${((applied - started) / 1000).toFixed(2)} s after the spawn`);
      assert.match(got.text, new RegExp(`seq ${decided.seq}`));
      assert.ok(existsSync(bed.flagFile('garage')));
      assert.ok(run.output().includes('connected to the hub'));
    });
  });

  it('Motion killed while armed: restarted in process mode, reported in webcontrol mode; the flow hears of it', async (t) => {
    await scenario(t, async () => {
      await bed.settled('start', 30_000);
      await until(async () => (await bed.detection('garden')).endsWith('ACTIVE'), 30_000, 'garden Motion running');
      const from = Date.now();

      // Process mode: the agent's own Motion dies; the agent restarts it.
      const pid = Number([...bed.agent('garden').output().matchAll(/started motion .*\(pid (\d+)\)/g)].at(-1)![1]);
      assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^motion\0/);
      process.kill(pid, 'SIGKILL');
      bed.note(`garden's Motion (pid ${pid}) killed`);
      // Webcontrol mode: the Motion service dies; the agent can only report it.
      await bed.motion.get('porch')!.kill('SIGKILL');
      bed.note("porch's Motion service killed");

      await until(async () => agentEvents(await bed.probe(), from, 'garden').some((e) => e.event === 'motion-restarted'), 30_000, 'garden: motion-restarted in the flow');
      await until(async () => (await bed.detection('garden')).endsWith('ACTIVE'), 30_000, 'garden Motion back, detection ACTIVE');
      const porch = await until(
        async () => agentEvents(await bed.probe(), from, 'porch').find((e) => e.event === 'motion' || e.event === 'motion-failed'),
        30_000,
        'porch: Motion status change in the flow',
      );
      assert.match(porch.detail, /running → (unknown|failed)/);
      const garden = agentEvents(await bed.probe(), from, 'garden');
      assert.ok(garden.some((e) => e.event === 'motion-failed' && /SIGKILL/.test(e.detail)), JSON.stringify(garden));
      const porchEntry = (await bed.agents()).find((a) => a.name === 'porch');
      assert.notEqual(porchEntry.motion, 'running', 'the registry no longer says running');

      // The service comes back (systemd would restart it): the agent sees detection running again.
      await bed.startMotion('porch');
      await until(async () => (await bed.agents()).find((a) => a.name === 'porch')?.motion === 'running', 30_000, 'porch reports Motion running again');
      assert.equal(await bed.detection('porch'), 'Camera 0 Detection status ACTIVE');
    });
  });

  it("a Pi's cable is cut for longer than the server-lost time: it applies its action, and converges when the link returns", async (t) => {
    await scenario(t, async () => {
      const auto = await override('auto');
      await bed.settled('stop', 60_000);
      const garage = PIS.find((p) => p.name === 'garage')!;
      assert.equal(garage.serverLost.action, 'start', 'the garage arms when it loses the hub');
      const cut = bed.note("garage's cable cut");
      bed.lan.link('garage', false);
      await until(async () => agentEvents(await bed.probe(), cut, 'garage').some((e) => e.event === 'disconnected'), 30_000, 'the hub drops the garage');
      const lost = await until(() => bed.agentLines('garage').find((l) => l.at >= cut && l.text.startsWith('WARN server lost')), 90_000, 'server lost on the garage');
      await until(() => existsSync(bed.flagFile('garage')), 10_000, 'garage armed by its server-lost action');
      const armed = bed.appliedAt('garage', 'start', cut)!;
      console.log(`cable cut → server-lost action ${((lost.at - cut) / 1000).toFixed(1)} s (watchdog + server_lost.after ${garage.serverLost.after} s), armed ${((armed - cut) / 1000).toFixed(1)} s`);

      const restored = bed.note("garage's cable back");
      bed.lan.link('garage', true);
      const s = await bed.settled('stop', 60_000);
      assert.equal(s.seq, auto.seq);
      assert.equal(existsSync(bed.flagFile('garage')), false);
      const back = bed.appliedAt('garage', 'stop', restored)!;
      console.log(`cable back → garage disarmed ${((back - restored) / 1000).toFixed(2)} s`);
      const notice = await until(async () => agentEvents(await bed.probe(), restored, 'garage').find((e) => e.event === 'server-lost'), 20_000, 'server-lost notice in the flow');
      assert.match(notice.detail, /applied server_lost.action "start"/);
    });
  });

  it('Node-RED killed and restarted: agents reconnect and converge, the decision is kept', async (t) => {
    await scenario(t, async () => {
      const before = await bed.settled('stop', 30_000);
      await new Promise((r) => setTimeout(r, 1500)); // the context store flushes every second
      await bed.red.stop('SIGKILL');
      const killed = bed.note('node-red killed (SIGKILL)');
      await until(() => NAMES.every((n) => bed.agentLines(n).some((l) => l.at >= killed && /hub/.test(l.text) && /^WARN/.test(l.text))), 20_000, 'every agent noticed');
      // Down for longer than the garage's server-lost time: it arms on its own and must come back.
      await until(() => existsSync(bed.flagFile('garage')), 20_000, 'the garage applied its server-lost action');
      await bed.red.start();
      const back = bed.note('node-red running again');
      // At once: the decision kept in the state node's context (its reason says presence is not known yet).
      const kept = await bed.settled('stop', 60_000);
      assert.ok(kept.seq > before.seq);
      const each: Record<string, number> = {};
      for (const n of NAMES) {
        const connected = bed.agentLines(n).find((l) => l.at >= back - 5000 && l.text.startsWith('connected to the hub'))!;
        const applied = bed.agentLines(n).find((l) => l.at >= connected.at && l.text.startsWith(`hub: stop`))!;
        each[n] = Math.round(applied.at - back) / 1000;
      }
      console.log(`node-red back → every agent has the decision: ${Math.max(...Object.values(each)).toFixed(2)} s; each: ${JSON.stringify(each)} (reconnect backoff capped at ${TIMING.reconnectMaxBackoff} s)`);
      // Then presence speaks again and confirms it.
      const confirmed = await until(async () => (await bed.state()).reason === before.reason && (await bed.state()), 60_000, 'presence after the restart');
      assert.equal((await bed.settled('stop', 30_000)).seq, confirmed.seq);
      const states = (await bed.probe()).filter((e) => e.topic === 'state');
      assert.equal(states[0].payload.state, 'stop', `the first decision after the restart is the kept one: ${JSON.stringify(states[0].payload)}`);
      assert.equal(existsSync(bed.flagFile('garage')), false);
    });
  });
});
