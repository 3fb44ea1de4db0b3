// The outbox on a real file system: atomic records, ordering, clean-up of leftovers, failed/.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { OutgoingMail } from '../../lib/mail/compose';
import { Outbox } from '../../nodes/dms3-mail/outbox';

let dir: string;

function mail(subject: string): OutgoingMail {
  return {
    to: [{ name: '', address: 'a@example.com' }],
    subject,
    html: '<p>x</p>',
    text: 'x',
    attachments: [{ filename: 'p.jpg', contentType: 'image/jpeg', content: Buffer.from([1, 2, 3]), cid: 'c@dms3' }],
    meta: { agent: 'a', camera: 'c', eventId: '1', kind: 'event' },
  };
}

describe('mail outbox', () => {
  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'dms3-outbox-test-')), 'box');
  });
  afterEach(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

  it('stores mails with their attachments privately and lists them oldest first', async () => {
    const box = new Outbox(dir);
    assert.deepEqual(await box.list(), []); // no directory yet
    const b = await box.put(mail('b'), 2000);
    const a = await box.put(mail('a'), 1000);
    const listed = await box.list();
    assert.deepEqual(listed.map((m) => m.subject), ['a', 'b']);
    assert.equal(listed[0].attachments[0].cid, 'c@dms3');
    assert.deepEqual(readdirSync(dir).sort(), [`${a.id}.0.bin`, `${a.id}.json`, `${b.id}.0.bin`, `${b.id}.json`].sort());
    assert.equal(statSync(join(dir, `${a.id}.json`)).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    await box.remove(a);
    assert.deepEqual((await box.list()).map((m) => m.subject), ['b']);
    assert.equal(await box.exists(a), false);
  });

  it('removes leftovers of an interrupted write and keeps a given-up mail in failed/', async () => {
    const box = new Outbox(dir);
    const m = await box.put(mail('kept'));
    writeFileSync(join(dir, 'lmno12345-0badcafe.0.bin'), 'orphan'); // attachment whose record never got written
    writeFileSync(join(dir, `${m.id}.json.tmp`), '{'); // an interrupted rewrite
    assert.deepEqual((await box.list()).map((x) => x.subject), ['kept']);
    assert.deepEqual(readdirSync(dir).sort(), [`${m.id}.0.bin`, `${m.id}.json`].sort());
    await box.fail(m);
    assert.deepEqual(await box.list(), []);
    assert.ok(existsSync(join(dir, 'failed', `${m.id}.json`)));
    assert.ok(existsSync(join(dir, 'failed', `${m.id}.0.bin`)));
  });
});
