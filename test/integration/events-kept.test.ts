// An accepted event is not lost and not mailed twice: a real `node-red` process with the hub,
// dms3-event → dms3-mail and a real SMTP server, killed with SIGKILL right after the hub's 201.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { health } from '../support/agent';
import { makeToken, until } from '../support/agent-process';
import { makeJpeg } from '../support/images';
import { HubRig } from '../support/real-hub';
import { TestSmtp } from '../support/smtp';

describe('accepted events are kept until mailed (real Node-RED, kill -9)', () => {
  const smtp = new TestSmtp();
  let rig: HubRig;
  let n = 0;

  before(async () => {
    await smtp.start();
    rig = new HubRig({
      token: makeToken(),
      extraNodes: [
        { id: 'smtp1', type: 'dms3-smtp', name: '', host: '127.0.0.1', port: smtp.port, security: 'none', from: 'dms3@example.com' },
        { id: 'ev1', type: 'dms3-event', z: 'tab1', name: '', server: 'hub1', wires: [['mail1']] },
        // Gathering (quiet 2 s) keeps the mail in memory well past the kill.
        { id: 'mail1', type: 'dms3-mail', z: 'tab1', name: '', smtp: 'smtp1', to: 'family@example.com', quiet: 2, maxWait: 5, cooldown: 0, wires: [] },
      ],
    });
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
});
