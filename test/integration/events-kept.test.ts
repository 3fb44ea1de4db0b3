// An accepted event is not lost and not mailed twice: a real `node-red` process with the hub,
// dms3-event → dms3-mail and a real SMTP server, killed with SIGKILL right after the hub's 201.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spoolEvent } from '../../agent/spool';
import { health } from '../support/agent';
import { makeToken, until } from '../support/agent-process';
import { makeJpeg } from '../support/images';
import { agentSetup, HubRig, mailNodes } from '../support/real-hub';
import { TestSmtp } from '../support/smtp';

describe('accepted events are kept until mailed (real Node-RED, kill -9)', () => {
  const smtp = new TestSmtp();
  let rig: HubRig;
  let n = 0;

  before(async () => {
    await smtp.start();
    // Gathering (quiet 2 s) keeps the mail in memory well past the kill.
    rig = new HubRig({ token: makeToken(), extraNodes: mailNodes(smtp.port, { quiet: 2, maxWait: 5 }) });
    await rig.start();
  });
  after(async () => {
    await rig.close();
    await smtp.stop();
  });

  const storeDir = () => join(rig.userDir, 'dms3', 'events-hub1');
  const outboxDir = () => join(rig.userDir, 'dms3-outbox', 'mail1');
  const outboxed = () => (existsSync(outboxDir()) ? readdirSync(outboxDir()).filter((f) => f.endsWith('.json')) : []);
  const stored = () => (existsSync(storeDir()) ? readdirSync(storeDir()).filter((f) => f.endsWith('.event')) : []);

  /** Uploads one picture of a new Motion event; returns the answer and the key used. */
  async function upload(key = `key-${process.pid}-${++n}-0123456789`, event = n) {
    const res = await fetch(`${rig.httpUrl}/event?agent=kitchen&camera=1&event=${event}&kind=picture&pixels=900`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${rig.opts.token}`, 'Content-Type': 'image/jpeg', 'Idempotency-Key': key },
      body: new Uint8Array(makeJpeg(160, 120)),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: (await res.json()) as { id?: string; duplicate?: boolean }, key };
  }

  async function killAndRestart() {
    await rig.stopNodeRed('SIGKILL');
    await rig.restartNodeRed();
  }

  it('an event answered 201 and killed before its mail left is mailed after the restart, once', async () => {
    const first = await upload();
    assert.equal(first.status, 201);
    assert.equal(stored().length, 1, 'on disk before the answer');
    await killAndRestart();
    const mails = await smtp.waitForMails(1, 30_000);
    assert.equal(mails.length, 1);
    assert.match(String(mails[0].parsed.headers.get('x-dms3-event')), new RegExp(`^kitchen/1/${n}$`));
    await until(() => stored().length === 0, 15_000, 'the store to be empty once the mail is in the outbox');
    // The agent's retry of the same upload is a duplicate, not a second event.
    const again = await upload(first.key, n);
    assert.deepEqual([again.status, again.body.duplicate], [200, true]);
  });

  it('an event delivered again after its mail was stored (a crash before the store heard) is not mailed twice', async () => {
    const aside = join(rig.dir, 'aside');
    mkdirSync(aside, { recursive: true });
    const before = smtp.mails.length;
    const r = await upload();
    assert.equal(r.status, 201);
    const [file] = stored();
    copyFileSync(join(storeDir(), file), join(aside, file));
    await smtp.waitForMails(before + 1, 30_000);
    await until(() => stored().length === 0, 15_000, 'the event finished');
    // The sent mail has left the outbox too: a second mail could only come from the replay.
    await until(() => outboxed().length === 0, 15_000, 'the outbox emptied');
    // As if Node-RED had died after the mail was stored but before the event was removed.
    await rig.stopNodeRed('SIGKILL');
    copyFileSync(join(aside, file), join(storeDir(), file));
    await rig.restartNodeRed();
    await until(() => stored().length === 0, 15_000, 'the replayed event finished');
    // A later event's mail: the outbox sends in order, so a second mail of the replayed one would be here first.
    const replayed = n;
    assert.equal((await upload()).status, 201);
    await until(() => smtp.mails.some((m) => String(m.parsed.headers.get('x-dms3-event')) === `kitchen/1/${n}`), 30_000, 'the later mail');
    const mine = smtp.mails.filter((m) => String(m.parsed.headers.get('x-dms3-event')) === `kitchen/1/${replayed}`);
    assert.equal(mine.length, 1, 'one mail for the replayed event');
  });

  it('keeps the per-agent event count across a kill -9', async () => {
    const r = await upload();
    assert.equal(r.status, 201);
    const was = n; // every upload of this file was accepted once, across the restarts
    await killAndRestart();
    // The agent says hello (as a polling agent does) after the restart: its count is the earlier run's.
    const hello = await rig.api('POST', '/api/report', { v: 1, type: 'hello', name: 'kitchen', health: health() });
    assert.equal(hello.status, 200, hello.text);
    const kitchen = (await rig.agentList()).find((a) => a.name === 'kitchen');
    assert.equal(kitchen?.eventsReceived, was);
  });

  it('an agent killed (kill -9) while it delivers its spool: every spooled event is mailed, once', async (t) => {
    const spool = join(rig.dir, 'spool-porch');
    const file = join(rig.dir, 'spooled.jpg');
    const jpg = makeJpeg(160, 120);
    writeFileSync(file, jpg);
    const events: number[] = [];
    for (let i = 0; i < 60; i++) {
      const event = ++n;
      events.push(event);
      const meta = { agent: 'porch', hostname: 'porch-pi', camera: '1', cameraName: null, event, eventId: null, kind: 'picture' as const, pixels: 900, noise: null, time: null, name: 'spooled.jpg' };
      await spoolEvent({ dir: spool, maxFiles: 1000, maxBytes: 100 * 1024 * 1024 }, { meta, key: `spool-${process.pid}-${event}-0123456789`, mime: 'image/jpeg', size: jpg.length }, file, () => {});
    }
    const left = () => readdirSync(spool).filter((f) => f.endsWith('.json')).length;
    const a = agentSetup(rig.dir, { name: 'porch', server: rig.wsUrl, mode: 'noop', extra: `spool:\n  dir: ${spool}` });
    const run = rig.agent(a.config);
    await until(() => left() < 55, 30_000, 'the delivery under way');
    await rig.stopAgent(run, 'SIGKILL');
    t.diagnostic(`agent killed with ${left()} of 60 spooled events left`);
    rig.agent(a.config);
    await until(() => left() === 0, 60_000, 'the spool delivered');
    const header = (m: (typeof smtp.mails)[number]) => String(m.parsed.headers.get('x-dms3-event'));
    await until(() => events.every((e) => smtp.mails.some((m) => header(m) === `porch/1/${e}`)), 60_000, 'a mail for every spooled event');
    for (const e of events) {
      const ids = new Set(smtp.mails.filter((m) => header(m) === `porch/1/${e}`).map((m) => String(m.parsed.messageId)));
      assert.equal(ids.size, 1, `event ${e} in ${ids.size} mails`);
    }
  });
});
