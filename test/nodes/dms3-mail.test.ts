// dms3-mail on the real Node-RED runtime, sending to a real SMTP server on 127.0.0.1.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { decode } from 'jpeg-js';
import mailNode from '../../nodes/dms3-mail/dms3-mail';
import smtpNode from '../../nodes/dms3-smtp/dms3-smtp';
import { delay, helper, waitFor } from '../support/red';
import { movieEvent, pictureEvent, sampleJpeg, sceneJpeg } from '../support/motion-event';
import { TestSmtp } from '../support/smtp';

let smtp: TestSmtp;
let userDir: string;

// Flow nodes on a tab need x and y, or Node-RED takes them for config nodes (and Catch/Complete miss them).
function flow(mail: Record<string, unknown> = {}, account: Record<string, unknown> = {}) {
  const at = { x: 100, y: 100 };
  return [
    { id: 'tab', type: 'tab', label: 'mail' },
    { id: 'acct', type: 'dms3-smtp', z: 'tab', host: '127.0.0.1', port: smtp.port, security: 'none', from: 'DMS3 <dms3@example.com>', ...account },
    {
      id: 'm', type: 'dms3-mail', z: 'tab', ...at, smtp: 'acct', to: 'family@example.com, Bob <bob@example.com>',
      quiet: 0.2, maxWait: 10, cooldown: 0, dailyCap: 100, retryFirst: 0.2, extraPictures: 0, movies: 'attach', maxClipMB: 20, wires: [],
      ...mail,
    },
    { id: 'catch', type: 'catch', z: 'tab', ...at, scope: ['m'], uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'tab', ...at, wires: [] },
    { id: 'complete', type: 'complete', z: 'tab', ...at, scope: ['m'], uncaught: false, wires: [['completed']] },
    { id: 'completed', type: 'helper', z: 'tab', ...at, wires: [] },
  ];
}

async function load(mail: Record<string, unknown> = {}, account: Record<string, unknown> = {}, credentials: Record<string, unknown> = {}) {
  helper.settings({ userDir });
  await helper.load([smtpNode, mailNode], flow(mail, account), credentials);
}

function statuses(): any[] {
  const seen: any[] = [];
  helper.getNode('m').on('call:status', (call: any) => seen.push(call.args[0]));
  return seen;
}

function outboxFiles(): string[] {
  const dir = join(userDir, 'dms3-outbox', 'm');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
}

describe('dms3-mail node (real SMTP server on 127.0.0.1)', () => {
  beforeEach(async () => {
    userDir = mkdtempSync(join(tmpdir(), 'dms3-mail-test-'));
    smtp = new TestSmtp();
    await smtp.start();
  });
  afterEach(async () => {
    await helper.unload();
    await smtp.stop();
    rmSync(userDir, { recursive: true, force: true });
  });

  it('mails a real JPEG event once, with the picture inline, the facts, a text part and dark-mode styles', async () => {
    await load();
    const completed: any[] = [];
    helper.getNode('completed').on('input', (m: any) => completed.push(m));
    const jpeg = sampleJpeg();
    helper.getNode('m').receive({ payload: pictureEvent({ hostname: 'garden-pi', camera: 'yard', pixels: 4321, width: 320, height: 240, percent: (4321 / 76800) * 100 }) });
    const [mail] = await smtp.waitForMails(1);
    await delay(600);
    assert.equal(smtp.mails.length, 1, 'exactly one mail');
    const p = mail.parsed;
    assert.match(p.subject ?? '', /^DMS3 garden-pi: motion on camera yard at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    assert.deepEqual(mail.envelope.to.sort(), ['bob@example.com', 'family@example.com']);
    assert.equal(mail.envelope.from, 'dms3@example.com');
    // Inline picture: referenced by cid in the HTML, carried as an attachment with that content id.
    assert.equal(p.attachments.length, 1);
    const att = p.attachments[0];
    assert.ok(att.cid, 'attachment has a content id');
    assert.equal(att.contentId, `<${att.cid}>`);
    assert.ok((p.html || '').includes(`src="cid:${att.cid}"`), 'html references the cid');
    assert.equal(att.contentType, 'image/jpeg');
    assert.ok(att.content.equals(jpeg), 'the picture arrives byte for byte');
    const img = decode(att.content);
    assert.deepEqual([img.width, img.height], [320, 240]);
    // Facts.
    const html = p.html || '';
    assert.ok(html.includes('garden-pi') && html.includes('4,321') && html.includes('5.6'), 'hostname, pixels and percent in html');
    assert.match(p.text ?? '', /5\.6 % of the frame changed, 4,321 pixels changed/);
    assert.match(p.text ?? '', /Host:\s+garden-pi/);
    assert.match(html, /@media \(prefers-color-scheme: dark\)/);
    assert.match(html, /<meta name="color-scheme" content="light dark">/);
    assert.equal(p.headers.get('x-dms3-event'), 'pi-garden/yard/17');
    // The input completes once its mail was accepted; the outbox is empty again.
    await waitFor(() => completed.length === 1, 5000, 'complete');
    assert.deepEqual(outboxFiles(), []);
  });

  it('an event delivered twice (by id) is mailed once; both inputs complete only once the mail is stored, and a restart knows it', async () => {
    await load({ quiet: 0.5 });
    const completed: any[] = [];
    helper.getNode('completed').on('input', (m: any) => completed.push(m));
    const msg = () => ({ payload: pictureEvent({ eventId: '31' }), motion: { id: 'event-id-31' } });
    helper.getNode('m').receive(msg());
    helper.getNode('m').receive(msg()); // the hub restarted alone and delivered it again
    await delay(100);
    assert.equal(completed.length, 0, 'not complete while the mail is being gathered');
    await smtp.waitForMails(1);
    await waitFor(() => completed.length === 2, 5000, 'both complete');
    // A later run (same outbox and journal): the same id is recognised and not mailed.
    await helper.unload();
    await load({ quiet: 0.2 });
    const again: any[] = [];
    helper.getNode('completed').on('input', (m: any) => again.push(m));
    helper.getNode('m').receive({ ...msg(), payload: pictureEvent({ eventId: '32' }), motion: { id: 'event-id-31' } });
    await waitFor(() => again.length === 1, 5000, 'completed at once');
    helper.getNode('m').receive({ payload: pictureEvent({ eventId: '33' }), motion: { id: 'event-id-33' } });
    await smtp.waitForMails(2);
    await delay(300);
    assert.deepEqual(
      smtp.mails.map((m) => m.parsed.headers.get('x-dms3-event')),
      ['pi-garden/yard/31', 'pi-garden/yard/33'],
    );
  });

  it('a flood of 50 pictures of one event sends one mail with the picture that changed most', async () => {
    await load({ quiet: 0.5 });
    const best = sceneJpeg(320, 240, 0.9, 70);
    const m = helper.getNode('m');
    for (let i = 0; i < 50; i++) {
      const data = i === 37 ? best : sampleJpeg();
      m.receive({ payload: pictureEvent({ pixels: i === 37 ? 20000 : 1000 + i, file: { name: `17-${i}.jpg`, mime: 'image/jpeg', size: data.length, data } }) });
    }
    const [mail] = await smtp.waitForMails(1);
    await delay(1500);
    assert.equal(smtp.mails.length, 1, 'one mail for the whole event');
    assert.equal(mail.parsed.attachments.length, 1);
    assert.equal(mail.parsed.attachments[0].filename, '17-37.jpg');
    assert.ok(mail.parsed.attachments[0].content.equals(best));
    assert.match(mail.parsed.text ?? '', /Pictures in event: 50/);
    assert.match(mail.parsed.text ?? '', /20,000 pixels changed/);
  });

  it('holds the per-camera cooldown and names the suppressed events in the next mail', async () => {
    await load({ cooldown: 3, quiet: 0.2 });
    const m = helper.getNode('m');
    m.receive({ payload: pictureEvent({ eventId: '1' }) });
    m.receive({ payload: pictureEvent({ eventId: '2' }) }); // while event 1 is gathered: suppressed
    await smtp.waitForMails(1);
    m.receive({ payload: pictureEvent({ eventId: '3' }) }); // right after the mail: in the cooldown
    m.receive({ payload: pictureEvent({ camera: 'door', eventId: '3' }) }); // another camera: mailed
    await smtp.waitForMails(2);
    assert.match(smtp.mails[1].parsed.subject ?? '', /camera door/);
    await delay(3500); // the cooldown has passed
    m.receive({ payload: pictureEvent({ eventId: '4' }) });
    const mails = await smtp.waitForMails(3);
    await delay(500);
    assert.equal(mails.length, 3);
    assert.match(mails[2].parsed.text ?? '', /Event:\s+4/);
    // Each count goes into the first mail of the camera that leaves after the suppressed event.
    assert.match(mails[0].parsed.text ?? '', /1 more event\(s\) on this camera since its last mail were not mailed \(cooldown\)/);
    assert.doesNotMatch(mails[1].parsed.text ?? '', /cooldown/);
    assert.match(mails[2].parsed.text ?? '', /1 more event\(s\) on this camera since its last mail were not mailed \(cooldown\)/);
  });

  it('holds the daily cap, warns once and shows it in the status', async () => {
    await load({ dailyCap: 2 });
    const seen = statuses();
    const warnings: string[] = [];
    helper.getNode('m').on('call:warn', (call: any) => warnings.push(String(call.args[0])));
    const m = helper.getNode('m');
    for (let i = 1; i <= 4; i++) m.receive({ payload: pictureEvent({ eventId: String(i) }) });
    await smtp.waitForMails(2);
    await delay(1000);
    assert.equal(smtp.mails.length, 2);
    assert.equal(warnings.filter((w) => /daily cap of 2 mails reached/.test(w)).length, 1);
    assert.ok(seen.some((s) => /cap 2\/day reached/.test(s.text) && s.fill === 'yellow'), JSON.stringify(seen.at(-1)));
  });

  it('keeps a mail while the SMTP server is down and sends it when the server returns', async () => {
    await smtp.stop();
    await load({ retryFirst: 0.2 });
    const seen = statuses();
    const warnings: string[] = [];
    helper.getNode('m').on('call:warn', (call: any) => warnings.push(String(call.args[0])));
    helper.getNode('m').receive({ payload: pictureEvent() });
    await waitFor(() => warnings.some((w) => /not sent .*retrying/.test(w)), 10000, 'a retry warning');
    assert.equal(outboxFiles().length, 1, 'the mail waits in the outbox');
    assert.ok(seen.some((s) => /queued 1/.test(s.text)), 'status shows it queued');
    await delay(500);
    await smtp.start(); // same port
    await smtp.waitForMails(1, 20000);
    await delay(500);
    assert.equal(smtp.mails.length, 1);
    await waitFor(() => outboxFiles().length === 0, 5000, 'an empty outbox');
    await waitFor(() => seen.at(-1)?.text === 'sent 1' && seen.at(-1)?.fill === 'green', 5000, 'status sent 1');
  });

  it('sends what was in the outbox after Node-RED restarts, exactly once', async () => {
    await smtp.stop();
    await load({ retryFirst: 0.2 });
    helper.getNode('m').receive({ payload: pictureEvent() });
    await waitFor(() => outboxFiles().length === 1, 10000, 'a mail in the outbox');
    const [file] = outboxFiles();
    await helper.unload();
    await smtp.start();
    await load({ retryFirst: 0.2 }); // same node id, same userDir
    const [mail] = await smtp.waitForMails(1, 20000);
    await delay(1500);
    assert.equal(smtp.mails.length, 1, 'exactly once');
    assert.equal(mail.parsed.messageId, `<${file.replace(/\.json$/, '')}@dms3.outbox>`);
    assert.equal(mail.parsed.attachments.length, 1);
    assert.deepEqual(outboxFiles(), []);
  });

  it('a mail still being gathered at shutdown goes to the outbox and is sent after the restart', async () => {
    await load({ quiet: 60, maxWait: 120 });
    helper.getNode('m').receive({ payload: pictureEvent() });
    await delay(200);
    await helper.unload();
    assert.equal(smtp.mails.length, 0);
    assert.equal(outboxFiles().length, 1);
    await load({ quiet: 60, maxWait: 120 });
    await smtp.waitForMails(1);
    await delay(500);
    assert.equal(smtp.mails.length, 1);
  });

  it('sends the clip of an event already mailed as a follow-up', async () => {
    await load();
    const m = helper.getNode('m');
    m.receive({ payload: pictureEvent() });
    await smtp.waitForMails(1);
    m.receive({ payload: movieEvent({}, 50_000) });
    const mails = await smtp.waitForMails(2);
    const follow = mails[1].parsed;
    assert.match(follow.subject ?? '', /\(clip\)$/);
    assert.equal(follow.attachments.length, 1);
    assert.equal(follow.attachments[0].filename, '17-20250601221405.mkv');
    assert.equal(follow.attachments[0].size, 50_000);
    assert.ok(!(follow.html || '').includes('cid:'));
  });

  it('uses the user’s own MJML template (a path relative to the user directory)', async () => {
    writeFileSync(
      join(userDir, 'my-mail.mjml'),
      '<mjml><mj-body><mj-section><mj-column><mj-text>Bewegung bei {{camera}} auf {{hostname}}: {{percent}} %</mj-text><mj-image src="{{imageSrc}}" /></mj-column></mj-section></mj-body></mjml>',
    );
    await load({ template: 'my-mail.mjml', subject: 'Kamera {{camera}}' });
    helper.getNode('m').receive({ payload: pictureEvent({ camera: 'Hof & Tor' }) });
    const [mail] = await smtp.waitForMails(1);
    assert.equal(mail.parsed.subject, 'Kamera Hof & Tor');
    assert.match(mail.parsed.html || '', /Bewegung bei Hof &amp; Tor auf garden-pi: 5\.6 %/);
    assert.ok((mail.parsed.html || '').includes(`src="cid:${mail.parsed.attachments[0].cid}"`));
  });

  it('authenticates with the credentials of the SMTP account', async () => {
    await smtp.stop();
    smtp = new TestSmtp({ user: 'cams', password: 's3cret' });
    await smtp.start();
    await load({}, {}, { acct: { user: 'cams', password: 's3cret' } });
    helper.getNode('m').receive({ payload: pictureEvent() });
    const [mail] = await smtp.waitForMails(1);
    assert.equal(mail.envelope.user, 'cams');
  });

  it('refuses a bad event with an error naming the field, for a Catch node', async () => {
    await load();
    const caught: any[] = [];
    helper.getNode('caught').on('input', (msg: any) => caught.push(msg));
    const seen = statuses();
    helper.getNode('m').receive({ payload: { ...pictureEvent(), pixels: 'many' } });
    await waitFor(() => caught.length === 1, 5000, 'a caught error');
    assert.match(caught[0].error.message, /msg\.payload\.pixels "many"/);
    assert.ok(seen.some((s) => s.fill === 'red'));
  });

  it('reports a mail the server refuses for good to the Catch node and keeps it in failed/', async () => {
    await smtp.stop();
    smtp = new TestSmtp({ reject: ['nobody@example.com'] });
    await smtp.start();
    await load({ to: 'nobody@example.com' });
    const caught: any[] = [];
    helper.getNode('caught').on('input', (msg: any) => caught.push(msg));
    helper.getNode('m').receive({ payload: pictureEvent() });
    await waitFor(() => caught.length === 1, 10000, 'a caught error');
    assert.match(caught[0].error.message, /550|No such user/);
    assert.equal(caught[0].payload.eventId, '17');
    assert.deepEqual(outboxFiles(), []);
    assert.equal(readdirSync(join(userDir, 'dms3-outbox', 'm', 'failed')).filter((f) => f.endsWith('.json')).length, 1);
  });

  it('gives a mail up after the configured time and reports it to the Catch node', async () => {
    await smtp.stop();
    await load({ retryFirst: 0.2, giveUp: 0.001 }); // 3.6 s
    const caught: any[] = [];
    helper.getNode('caught').on('input', (msg: any) => caught.push(msg));
    helper.getNode('m').receive({ payload: pictureEvent({ eventId: '23' }) });
    await waitFor(() => caught.length === 1, 20000, 'a caught error');
    assert.match(caught[0].error.message, /gave up after \d+ attempts/);
    assert.equal(caught[0].payload.eventId, '23');
    assert.deepEqual(outboxFiles(), []);
    assert.equal(readdirSync(join(userDir, 'dms3-outbox', 'm', 'failed')).filter((f) => f.endsWith('.json')).length, 1);
  });

  it('says what to fill in while the example values (smtp.example.com, you@example.com) are there, never "ready"', async () => {
    helper.settings({ userDir });
    await helper.load([smtpNode, mailNode], flow({ to: 'you@example.com' }, { host: 'smtp.example.com' }));
    const m = helper.getNode('m');
    await waitFor(() => /^fill in/.test(m.status.lastCall?.args[0]?.text ?? ''), 5000, 'the fill-in status');
    const last = m.status.lastCall.args[0];
    assert.deepEqual([last.fill, last.shape], ['yellow', 'ring']);
    assert.equal(last.text, 'fill in: SMTP server, recipients (example values)');
    assert.ok(m.warn.getCalls().some((c: any) => /fill in the SMTP server and recipients/.test(String(c.args[0]))));
  });

  it('refuses a bad configuration with a red status naming the field', async () => {
    await load({ to: 'family@example.com, bob' });
    const caught: any[] = [];
    helper.getNode('caught').on('input', (msg: any) => caught.push(msg));
    helper.getNode('m').receive({ payload: pictureEvent() });
    await waitFor(() => caught.length === 1, 5000, 'a caught error');
    assert.match(caught[0].error.message, /invalid configuration: to "bob"/);
  });
});
