// Faults on the whole system (network namespaces, real node-red, real agents and Motion): hostile
// clients, an agent, Motion and Node-RED killed, a Pi's cable cut. Nothing may be lost; every agent
// must end on the hub's decision. One bed, the faults in order; each prints its timeline.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { Bed, PIS, TIMING, until, type ProbeEntry } from '../../support/e2e-bed';
import { unixRequest } from '../../support/node-red-process';
import { missing, requireSystem } from '../../support/system';

const NEEDS = { root: true, commands: ['ip', 'unshare', 'motion', 'arping', 'arp-scan', 'ndisc6', 'ping'] };
const NAMES = PIS.map((p) => p.name);
const MOVE_MS = 2500;

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

  /**
   * A body larger than the route allows. `declared`: only the headers, with a Content-Length over the
   * limit (the hub answers before any byte of the body); `chunked`: 40 MiB without a length, counted as
   * it arrives. Resolves with the status, or "reset" when the server closed the connection on unread
   * data first (TCP then drops the answer; the upload is refused either way).
   */
  function oversized(path: string, type: string, mode: 'declared' | 'chunked'): Promise<number | 'reset'> {
    return new Promise((resolve) => {
      let answered = false;
      const headers: Record<string, string> = { host: 'localhost', authorization: `Bearer ${bed.token}`, 'content-type': type };
      if (mode === 'declared') headers['content-length'] = String(30 * 1024 * 1024);
      const req = httpRequest({ socketPath: bed.sock('red'), agent: false, method: 'POST', path, headers }, (res) => {
        answered = true;
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', () => !answered && resolve('reset'));
      if (mode === 'declared') return void req.flushHeaders();
      const chunk = Buffer.alloc(1024 * 1024, 0x55);
      let sent = 0;
      const pump = () => {
        while (!answered && sent < 40) {
          sent++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!answered) req.end();
      };
      pump();
    });
  }

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

      bed.note('bad requests: no token, wrong token, garbage, oversized, fake files');
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
      assert.equal(await oversized('/dms3/api/report', 'application/octet-stream', 'declared'), 413);
      assert.ok(['413', 'reset'].includes(String(await oversized('/dms3/api/report', 'application/octet-stream', 'chunked'))));
      const bigJson = await api('POST', '/dms3/api/report', Buffer.alloc(1024 * 1024, 0x7b), bed.token);
      assert.ok(bigJson.status === 400 || bigJson.status === 413, `1 MiB of JSON: ${bigJson.status}`);
      // The event endpoint: no token, bytes that are not the picture they claim to be (under a name that
      // tries to be a path), a type it does not take, oversized uploads.
      const eventPath = '/dms3/event?agent=porch&camera=0&event=98&kind=picture&name=..%2F..%2Fetc%2Fpasswd.jpg';
      assert.equal((await api('POST', eventPath, Buffer.from('not a picture'), null, 'image/jpeg')).status, 401);
      const fake = await api('POST', eventPath, Buffer.from('not a picture'), bed.token, 'image/jpeg');
      assert.equal(fake.status, 400, fake.text);
      assert.equal((await api('POST', eventPath, Buffer.from('#!/bin/sh'), bed.token, 'application/x-sh')).status, 415);
      const eventUpload = '/dms3/event?agent=porch&camera=0&event=99&kind=picture&name=big.jpg';
      assert.equal(await oversized(eventUpload, 'image/jpeg', 'declared'), 413, 'declared too large');
      const chunked = await oversized(eventUpload, 'image/jpeg', 'chunked');
      assert.ok(chunked === 413 || chunked === 'reset', `chunked, too large: ${chunked}`);

      // A flood: 60 upgrades without or with a wrong token, 30 sockets with the token sending bad frames,
      // one frame over the limit; a decision made in the middle of it must still reach every agent.
      bed.note('flood: 60 upgrades without a valid token, 30 sockets sending bad frames, one oversized frame');
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
      const probe = await bed.probe();
      const events = agentEvents(probe, from);
      assert.deepEqual(events.filter((e) => e.event === 'disconnected' || e.event === 'connected'), [], 'no agent lost its connection');
      assert.deepEqual(probe.filter((e) => e.topic === 'event' && e.at >= from), [], 'no refused upload reached the flow');
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

  it('the SMTP server is down for a while: the mail of an event in that time arrives once it is back', async (t) => {
    await scenario(t, async () => {
      assert.equal((await bed.state()).state, 'start');
      await bed.smtp.stop();
      const down = bed.note('SMTP server stopped');
      const mails = bed.smtp.mails.length;
      const moved = await bed.move('porch', MOVE_MS);
      const events = await until(async () => {
        const e = (await bed.probe()).filter((x) => x.topic === 'event' && x.at >= moved);
        return e.length > 0 && e;
      }, 30_000, 'the event in the flow');
      await new Promise((r) => setTimeout(r, (TIMING.mailMaxWait + 4) * 1000)); // gathered, and the first tries failed
      assert.equal(bed.smtp.mails.length, mails);
      await bed.smtp.start();
      const up = bed.note(`SMTP server back after ${((Date.now() - down) / 1000).toFixed(1)} s`);
      const mail = (await bed.smtp.waitForMails(mails + 1, 60_000))[mails];
      console.log(`SMTP back → mail accepted ${((mail.at - up) / 1000).toFixed(2)} s later (first retry ${TIMING.mailRetryFirst} s, doubling)`);
      assert.match(mail.parsed.subject ?? '', /^DMS3 porch-pi: motion on camera 0/);
      assert.ok(mail.parsed.text?.includes(`Event:             ${events[0].payload.eventId}`), mail.parsed.text);
      await new Promise((r) => setTimeout(r, 5000));
      assert.equal(bed.smtp.mails.length, mails + 1, 'exactly once');
    });
  });

  it("a Pi's cable is cut for longer than the server-lost time: it applies its action, and converges when the link returns", async (t) => {
    await scenario(t, async () => {
      const armed = await bed.settled('start', 30_000);
      const garage = PIS.find((p) => p.name === 'garage')!;
      assert.equal(garage.serverLost.action, 'stop', 'the garage disarms when it loses the hub');
      const cut = bed.note("garage's cable cut");
      bed.lan.link('garage', false);
      await until(async () => agentEvents(await bed.probe(), cut, 'garage').some((e) => e.event === 'disconnected'), 30_000, 'the hub drops the garage');
      const lost = await until(() => bed.agentLines('garage').find((l) => l.at >= cut && l.text.startsWith('WARN server lost')), 90_000, 'server lost on the garage');
      await until(() => !existsSync(bed.flagFile('garage')), 10_000, 'garage disarmed by its server-lost action');
      const acted = bed.appliedAt('garage', 'stop', cut)!;
      console.log(`cable cut → server-lost action ${((lost.at - cut) / 1000).toFixed(1)} s (the agent's 30 s watchdog + server_lost.after ${garage.serverLost.after} s), applied ${((acted - cut) / 1000).toFixed(1)} s`);

      const restored = bed.note("garage's cable back");
      bed.lan.link('garage', true);
      const s = await bed.settled('start', 60_000);
      assert.equal(s.seq, armed.seq, 'the same decision as before the cut');
      assert.ok(existsSync(bed.flagFile('garage')));
      const back = bed.appliedAt('garage', 'start', restored)!;
      console.log(`cable back → garage armed again ${((back - restored) / 1000).toFixed(2)} s`);
      const notice = await until(async () => agentEvents(await bed.probe(), restored, 'garage').find((e) => e.event === 'server-lost'), 20_000, 'server-lost notice in the flow');
      assert.match(notice.detail, /applied server_lost.action "stop"/);
    });
  });

  it('Node-RED killed and restarted while armed: agents reconnect and converge, the decision is kept, events spooled meanwhile arrive once', async (t) => {
    await scenario(t, async () => {
      const before = await bed.settled('start', 30_000);
      assert.equal(before.reason, 'override');
      await bed.red.stop('SIGKILL'); // at once: the override was on disk before it was answered
      const killed = bed.note('node-red killed (SIGKILL)');
      await until(() => NAMES.every((n) => bed.agentLines(n).some((l) => l.at >= killed && /hub/.test(l.text) && /^WARN/.test(l.text))), 20_000, 'every agent noticed');
      // Down for longer than the garage's server-lost time: it disarms on its own and must come back.
      await until(() => !existsSync(bed.flagFile('garage')), 20_000, 'the garage applied its server-lost action');
      // Movement while the hub is away: the hook keeps the pictures in the porch's spool.
      await bed.move('porch', MOVE_MS);
      const inSpool = () => (existsSync(bed.spoolDir('porch')) ? readdirSync(bed.spoolDir('porch')).filter((f) => f.endsWith('.json')) : []);
      let seen = -1;
      const spooled = await until(
        async () => {
          const n = inSpool().length;
          const steady = n > 0 && n === seen; // Motion's event has ended and the hooks are done
          seen = n;
          if (!steady) await new Promise((r) => setTimeout(r, 1500));
          return steady && n;
        },
        30_000,
        'pictures spooled on the porch',
      );
      bed.note(`${spooled} pictures in the porch's spool`);
      const mails = bed.smtp.mails.length;

      await bed.red.start();
      const back = bed.note('node-red running again');
      const s = await bed.settled('start', 60_000);
      assert.deepEqual([s.state, s.reason, s.override], [before.state, before.reason, before.override], 'the decision survived the restart');
      assert.ok(s.seq > before.seq);
      const each: Record<string, number> = {};
      for (const n of NAMES) {
        const connected = bed.agentLines(n).find((l) => l.at >= back - 5000 && l.text.startsWith('connected to the hub'))!;
        const told = bed.agentLines(n).find((l) => l.at >= connected.at && l.text.startsWith('hub: start'))!;
        each[n] = Math.round(told.at - back) / 1000;
      }
      const garageArmed = bed.appliedAt('garage', 'start', back)!;
      console.log(
        `node-red back → every agent has the decision: ${Math.max(...Object.values(each)).toFixed(2)} s; each: ${JSON.stringify(each)}; the garage armed again ${((garageArmed - back) / 1000).toFixed(2)} s (reconnect backoff capped at ${TIMING.reconnectMaxBackoff} s)`,
      );
      const states = (await bed.probe()).filter((e) => e.topic === 'state');
      assert.deepEqual([states[0].payload.state, states[0].payload.reason], ['start', 'override'], 'the first decision after the restart is the kept one');
      assert.ok(existsSync(bed.flagFile('garage')));

      // The pictures taken while Node-RED was down: delivered from the spool once, and mailed once.
      const delivered = await until(async () => {
        const e = (await bed.probe()).filter((x) => x.topic === 'event' && x.payload.agent === 'porch');
        return e.length >= spooled && e;
      }, 30_000, `the ${spooled} spooled pictures in the flow`);
      console.log(`node-red back → the ${spooled} spooled pictures in the flow ${((delivered.at(-1)!.at - back) / 1000).toFixed(2)} s later`);
      await until(() => bed.smtp.mails.length > mails, 30_000, 'their mail');
      await until(() => inSpool().length === 0, 10_000, 'the spool emptied');
      await new Promise((r) => setTimeout(r, (TIMING.mailMaxWait + 2) * 1000));
      const names = (await bed.probe()).filter((x) => x.topic === 'event' && x.payload.agent === 'porch').map((e) => e.payload.file.name);
      assert.equal(names.length, spooled, `each spooled picture once: ${names.join(' ')}`);
      assert.equal(new Set(names).size, names.length);
      assert.equal(bed.smtp.mails.length, mails + 1, 'one mail for the event');
      assert.ok(readdirSync(bed.spoolDir('porch')).length === 0, 'nothing left behind in the spool');
    });
  });


  it('back to automatic: every agent follows presence again', async (t) => {
    await scenario(t, async () => {
      const auto = await override('auto');
      assert.deepEqual([auto.state, auto.reason], ['stop', 'someone-home']);
      assert.equal((await bed.settled('stop', 60_000)).seq, auto.seq);
    });
  });
});
