// The whole system on real hosts (network namespaces): presence scan → dms3-state → hub → three agents →
// Motion, with the shipped server flow in a real node-red. One bed, the scenarios in order; each prints
// its timeline (the test's actions, the flow's decisions, each agent's log).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it, type TestContext } from 'node:test';
import { Bed, PHONES, PIS, SUBNET, TIMING, until } from '../../support/e2e-bed';
import { missing, requireSystem } from '../../support/system';

const NEEDS = { root: true, commands: ['ip', 'unshare', 'motion', 'arping', 'arp-scan', 'ndisc6', 'ping'] };
const NAMES = PIS.map((p) => p.name);
const MOVE_MS = 2500;

describe('end to end: the family comes and goes', () => {
  let bed: Bed;

  before(async () => {
    if (missing(NEEDS)) return; // each test reports the skip (or fails under CI)
    bed = await Bed.start();
  });
  after(async () => {
    await bed?.stop();
  });

  /** Runs one scenario and prints its timeline, also when it fails. */
  async function scenario(t: TestContext, fn: () => Promise<void>, from = Date.now()): Promise<void> {
    if (!requireSystem(t, NEEDS)) return;
    try {
      await fn();
    } finally {
      console.log(`\n== timeline: ${t.name}\n${await bed.timeline(from)}\n`);
    }
  }

  it('1. everybody home: surveillance stays stopped, although one phone ignores ping', async (t) => {
    // The timeline starts with the bed: until the first scan the state node holds its start-up state.
    await scenario(t, async () => {
      assert.throws(() => bed.lan.exec('srv', ['ping', '-c', '1', '-W', '1', `${SUBNET}.102`]), 'bob does not answer ping');
      // Watch for longer than the grace plus a few scans.
      await new Promise((r) => setTimeout(r, (TIMING.grace + 3 * TIMING.scanInterval) * 1000));
      const probe = await bed.probe();
      const firstPresence = probe.find((e) => e.topic === 'presence');
      assert.ok(firstPresence, 'the scan reported presence');
      const presence = probe.filter((e) => e.topic === 'presence');
      assert.ok(presence.every((e) => e.payload.home === true), 'never away');
      const devices = presence.at(-1)!.payload.devices;
      assert.deepEqual(
        devices.map((d: any) => [d.name, d.present]),
        PHONES.map((p) => [p.name, true]),
      );
      assert.equal(devices.find((d: any) => d.name === 'bob').ip, `${SUBNET}.102`);
      assert.match(devices.find((d: any) => d.name === 'cat').ip, /^fe80:/);
      const states = probe.filter((e) => e.topic === 'state' && e.at >= firstPresence.at);
      assert.ok(states.length > 0 && states.every((e) => e.payload.state === 'stop'), `decisions since presence was known: ${JSON.stringify(states.map((e) => e.payload))}`);
      const s = await bed.state();
      assert.deepEqual([s.state, s.reason], ['stop', 'someone-home']);
      // Each agent, from its first "stop" on, is told nothing else. (An apply of the start-up state
      // already under way may finish after that; the stop queued behind it follows at once.)
      for (const n of NAMES) {
        const told = bed.agentLines(n).filter((l) => l.text.startsWith('hub: '));
        const first = told.findIndex((l) => l.text.startsWith('hub: stop'));
        assert.ok(first >= 0 && told.slice(first).every((l) => l.text.startsWith('hub: stop')), `${n}: ${told.map((l) => l.text).join('; ')}`);
      }
      await bed.settled('stop', 10_000);
      assert.equal(await bed.detection('porch'), 'Camera 0 Detection status PAUSE');
      assert.match(await bed.detection('garden'), /^unreachable/, 'process mode: no Motion while stopped');
      assert.equal(existsSync(bed.flagFile('garage')), false);
    }, bed?.startedAt);
  });

  it('2. the last phone leaves: after the grace every agent arms, Motion detects, the API says why', async (t) => {
    await scenario(t, async () => {
      const othersLeft = Math.max(bed.phone('cat', false), bed.phone('bob', false));
      await until(
        async () => (await bed.probe()).find((e) => e.topic === 'presence' && e.at > othersLeft && e.payload.devices.filter((d: any) => d.present === false).length === 2),
        30_000,
        'bob and cat gone',
      );
      const s0 = await bed.state();
      assert.deepEqual([s0.state, s0.reason], ['stop', 'someone-home'], 'ann is still home');

      const left = bed.phone('ann', false);
      const s = await bed.settled('start', 60_000);
      assert.deepEqual([s.state, s.reason, s.override], ['start', 'nobody-home', 'auto']);
      const times = bed.appliedTimes('start', left);
      console.log(`phone leaves → all armed: ${times.all.toFixed(2)} s (grace ${TIMING.grace} s, so ${(times.all - TIMING.grace).toFixed(2)} s beyond it); each: ${JSON.stringify(times.each)}`);
      assert.ok(times.all >= TIMING.grace, 'not before the grace');

      await until(async () => (await bed.detection('porch')) === 'Camera 0 Detection status ACTIVE', 10_000, 'porch detection ACTIVE');
      await until(async () => (await bed.detection('garden')) === 'Camera 0 Detection status ACTIVE', 30_000, 'garden Motion running, detection ACTIVE');
      assert.ok(existsSync(bed.flagFile('garage')), 'garage started');
      const list = await bed.agents();
      for (const n of NAMES) {
        const a = list.find((x) => x.name === n);
        assert.deepEqual([a.connected, a.applied, a.motion, a.error], [true, 'start', 'running', null], n);
      }
      assert.deepEqual(
        list.map((a) => a.hostname).sort(),
        PIS.map((p) => p.hostname).sort(),
      );

      // The dashboard (real Chromium on the server) says the same, live.
      await bed.dashboardShows('#state', ['Armed', 'nobody home']);
      const server = await bed.dashboardShows('#cards > li[data-id="server"]', ['Armed', 'nobody home', '3 (3 connected)']);
      for (const p of PHONES) assert.match(server, new RegExp(`${p.name}\\s+away`), server);
      for (const pi of PIS) await bed.dashboardShows(`#cards > li[data-id="agent:${pi.name}"]`, [pi.hostname, 'Running', 'Armed', 'connected (WebSocket)']);
      assert.deepEqual((await bed.dashboard()).blocked, [], 'the page loads nothing from elsewhere');
    });
  });

  it('3. movement in the camera stream while armed: one mail with the picture, the Pi\'s hostname and the pixel share', async (t) => {
    await scenario(t, async () => {
      assert.equal((await bed.state()).state, 'start');
      const porchBefore = (await bed.agents()).find((a) => a.name === 'porch');
      const mailsBefore = bed.smtp.mails.length;
      const moved = await bed.move('porch', MOVE_MS);

      const mail = (await bed.smtp.waitForMails(mailsBefore + 1, 60_000))[mailsBefore];
      console.log(`movement → mail accepted: ${((mail.at - moved) / 1000).toFixed(2)} s (movement ${MOVE_MS / 1000} s, Motion event_gap 2 s, mail gathering ${TIMING.mailQuiet} s after the last picture)`);
      await new Promise((r) => setTimeout(r, (TIMING.mailMaxWait + 3) * 1000));
      assert.equal(bed.smtp.mails.length, mailsBefore + 1, 'one mail for the event');

      const events = (await bed.probe()).filter((e) => e.topic === 'event' && e.at >= moved).map((e) => e.payload);
      assert.ok(events.length >= 2, `${events.length} pictures reached the flow`);
      assert.deepEqual([...new Set(events.map((e) => `${e.agent}/${e.hostname}/${e.camera}/${e.eventId}/${e.kind}`))], [`porch/porch-pi/0/${events[0].eventId}/picture`], 'one event of the porch, pictures only');
      const best = events.reduce((a, b) => (b.pixels > a.pixels ? b : a));
      const percent = best.percent > 0 && best.percent < 0.1 ? '<0.1' : best.percent.toFixed(1);

      assert.match(mail.parsed.subject ?? '', /^DMS3 porch-pi: motion on camera 0 at /);
      assert.deepEqual(mail.envelope.to, ['family@example.test']);
      assert.ok(mail.parsed.text?.includes(`${percent} % of the frame changed, ${best.pixels.toLocaleString('en-US')} pixels changed`), mail.parsed.text);
      assert.ok(mail.parsed.text?.includes(`Pictures in event: ${events.length}`), mail.parsed.text);
      const inline = mail.parsed.attachments.find((a) => a.contentType === 'image/jpeg' && a.cid);
      assert.ok(inline, 'an inline picture');
      assert.ok(String(mail.parsed.html).includes(`cid:${inline.cid}`), 'shown in the HTML');
      assert.equal(inline.size, best.file.size, 'the picture with the most changed pixels');

      // The registry and the dashboard count the porch's events.
      const porch = await until(async () => {
        const a = (await bed.agents()).find((x) => x.name === 'porch');
        return a.events > porchBefore.events && a;
      }, 20_000, "the porch's event count to rise");
      assert.equal(porch.eventsReceived - (porchBefore.eventsReceived ?? 0), events.length);
      await bed.dashboardShows('#cards > li[data-id="agent:porch"]', [`Events\n${porch.events}`]);
      assert.equal((await bed.agents()).find((a) => a.name === 'garden').eventsReceived ?? 0, 0, "the garden's camera saw nothing");
    });
  });

  it('4. a phone comes back: every agent stops within two scan intervals', async (t) => {
    await scenario(t, async () => {
      const back = bed.phone('ann', true);
      const s = await bed.settled('stop', 60_000);
      assert.deepEqual([s.state, s.reason], ['stop', 'someone-home']);
      const decided = (await bed.probe()).find((e) => e.topic === 'state' && e.at > back && e.payload.state === 'stop')!;
      const times = bed.appliedTimes('stop', back);
      console.log(
        `phone returns → decision ${((decided.at - back) / 1000).toFixed(2)} s, all disarmed ${times.all.toFixed(2)} s (scan interval ${TIMING.scanInterval} s); each: ${JSON.stringify(times.each)}`,
      );
      assert.equal(await bed.detection('porch'), 'Camera 0 Detection status PAUSE');
      assert.match(await bed.detection('garden'), /^unreachable/);
      assert.equal(existsSync(bed.flagFile('garage')), false);
      await bed.dashboardShows('#state', ['Disarmed', 'someone home']);

      // Movement no longer mails.
      const mails = bed.smtp.mails.length;
      const moved = await bed.move('porch', MOVE_MS);
      await new Promise((r) => setTimeout(r, (TIMING.mailMaxWait + 5) * 1000));
      assert.deepEqual((await bed.probe()).filter((e) => e.topic === 'event' && e.at >= moved), [], 'no event while disarmed');
      assert.equal(bed.smtp.mails.length, mails, 'no mail while disarmed');
    });
  });

  it('5. an Always On window opens while people are home, then closes', async (t) => {
    await scenario(t, async () => {
      // A one-minute window starting at the next minute edge (at least 5 s away).
      const now = new Date();
      const start = new Date(now);
      start.setSeconds(0, 0);
      start.setMinutes(start.getMinutes() + (60 - now.getSeconds() < 5 ? 2 : 1));
      const end = new Date(start.getTime() + 60_000);
      const hhmm = (d: Date) => `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
      const flow = bed.flow.map((n) => (n.type === 'dms3-always-on' ? { ...n, windows: [{ start: hhmm(start), end: hhmm(end), days: [] }] } : n));
      await bed.redeployNodes(flow);
      bed.note(`Always On window ${hhmm(start)}–${hhmm(end)} deployed`);

      const on = await bed.settled('start', end.getTime() - Date.now());
      assert.deepEqual([on.state, on.reason], ['start', 'always-on']);
      const opened = bed.appliedTimes('start', start.getTime());
      console.log(`window opens → all armed: ${opened.all.toFixed(2)} s after the edge; each: ${JSON.stringify(opened.each)}`);

      const off = await bed.settled('stop', end.getTime() - Date.now() + 30_000);
      assert.deepEqual([off.state, off.reason], ['stop', 'someone-home']);
      const closed = bed.appliedTimes('stop', end.getTime());
      console.log(`window closes → all disarmed: ${closed.all.toFixed(2)} s after the edge; each: ${JSON.stringify(closed.each)}`);
      await bed.redeployNodes(bed.flow.map((n) => (n.type === 'dms3-always-on' ? { ...n, windows: [] } : n)));
    });
  });

  it('6. manual override from the API: start, stop, auto', async (t) => {
    await scenario(t, async () => {
      const override = async (mode: string) => {
        const r = await bed.api('POST', '/dms3/api/override', { mode });
        assert.equal(r.status, 200, r.text);
        return r.json();
      };
      const started = await override('start');
      assert.deepEqual([started.state, started.reason, started.override], ['start', 'override', 'start']);
      assert.equal((await bed.settled('start', 60_000)).seq, started.seq);
      assert.ok((await bed.detection('porch')).endsWith('ACTIVE'));

      const stopped = await override('stop');
      assert.deepEqual([stopped.state, stopped.reason, stopped.override], ['stop', 'override', 'stop']);
      assert.equal((await bed.settled('stop', 60_000)).seq, stopped.seq);

      const auto = await override('auto');
      assert.deepEqual([auto.state, auto.reason, auto.override], ['stop', 'someone-home', 'auto']);
      assert.equal((await bed.settled('stop', 60_000)).seq, auto.seq, 'the new decision reached every agent');
      assert.equal(await bed.detection('porch'), 'Camera 0 Detection status PAUSE');
    });
  });
});
