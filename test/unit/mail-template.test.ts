import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { composeMail, FIELD_SET, safeName } from '../../lib/mail/compose';
import { compileMjml, DEFAULT_MJML_PATH, escapeHtml, placeholders } from '../../lib/mail/template';
import { sampleJob, sampleMail } from '../support/mail-preview';
import { movieEvent } from '../support/motion-event';
import { TemplateSource } from '../../nodes/dms3-mail/templates';

const known = new Set(['a', 'b', 'name', 'n']);

describe('placeholders', () => {
  it('fills values, HTML-escaping every one in HTML mode', () => {
    const t = placeholders('<p title="{{name}}">{{ name }} & {{n}}</p>', known, { html: true });
    assert.equal(t.fill({ name: `<b>"Bob" & 'Al'</b>`, n: 3 }), '<p title="&lt;b&gt;&quot;Bob&quot; &amp; &#39;Al&#39;&lt;/b&gt;">&lt;b&gt;&quot;Bob&quot; &amp; &#39;Al&#39;&lt;/b&gt; & 3</p>');
    assert.equal(placeholders('{{name}}', known, { html: false }).fill({ name: '<b>' }), '<b>');
    assert.equal(escapeHtml(`&<>"'`), '&amp;&lt;&gt;&quot;&#39;');
  });

  it('shows {{#x}} blocks when set and {{^x}} blocks when not; nested blocks work', () => {
    const t = placeholders('[{{#a}}A{{#b}}B{{/b}}{{/a}}{{^a}}not a{{/a}}]', known, { html: true });
    assert.equal(t.fill({ a: 'x', b: 1 }), '[AB]');
    assert.equal(t.fill({ a: 'x', b: 0 }), '[A]');
    assert.equal(t.fill({ a: '', b: 1 }), '[not a]');
    assert.equal(t.fill({ a: false }), '[not a]');
    assert.equal(t.fill({ a: null }), '[not a]');
  });

  it('a block tag alone on its line leaves no blank line', () => {
    const t = placeholders('one\n  {{#a}}\ntwo\n  {{/a}}\nthree\n', known, { html: false });
    assert.equal(t.fill({ a: true }), 'one\ntwo\nthree\n');
    assert.equal(t.fill({ a: false }), 'one\nthree\n');
  });

  it('refuses unknown placeholders and unbalanced blocks, naming them', () => {
    assert.throws(() => placeholders('{{nmae}}', known, { html: true, field: 'subject' }), /subject "\{\{nmae\}\}": unknown placeholder/);
    assert.throws(() => placeholders('{{#a}}x', known, { html: true }), /"\{\{#a\}\}": block is never closed/);
    assert.throws(() => placeholders('x{{/a}}', known, { html: true }), /"\{\{\/a\}\}": closes a block that was never opened/);
    assert.throws(() => placeholders('{{#a}}{{/b}}', known, { html: true }), /closes a block while \{\{#a\}\} is open/);
  });
});

describe('the built-in mail template', () => {
  it('compiles without MJML warnings and loads nothing from outside', async () => {
    const { warnings, filler } = await compileMjml(readFileSync(DEFAULT_MJML_PATH, 'utf8'), FIELD_SET);
    assert.deepEqual(warnings, []);
    const html = filler.fill({});
    assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org)/, 'no external URL (fonts, images)');
    assert.doesNotMatch(html, /<link\b/);
  });

  it('renders every field, the inline picture by cid, dark-mode styles and a text part', async () => {
    const mail = await sampleMail();
    const { html, text, subject } = mail;
    assert.equal(subject, 'DMS3 garden-pi: motion on camera Front yard at ' + /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.exec(text)![0]);
    for (const s of ['garden-pi', 'Front yard', 'pi-garden-01', '20250601-0417', '2025-06-01T22:14:05.000Z', '18,342', '6.0', '640 × 480', '>14<']) {
      assert.ok(html.includes(s), `html has ${s}`);
    }
    assert.match(html, /2 more event\(s\) on this camera since its last mail were not mailed \(cooldown\)/);
    assert.match(html, /17-20250601221405\.mkv <span[^>]*>\(3\.2 MB, attached\)/);
    // The picture is inline: a cid: reference in the HTML and an attachment with that content id.
    const inline = mail.attachments.find((a) => a.cid);
    assert.ok(inline);
    assert.ok(html.includes(`src="cid:${inline.cid}"`));
    assert.equal(inline.contentType, 'image/jpeg');
    assert.equal(mail.attachments.length, 2); // picture + clip
    // Light and dark.
    assert.match(html, /<meta name="color-scheme" content="light dark">/);
    assert.match(html, /<meta name="supported-color-schemes" content="light dark">/);
    assert.match(html, /@media \(prefers-color-scheme: dark\)\s*\{[^}]*background-color: #0d1117/);
    // Plain text alternative with the same facts.
    for (const s of ['MOTION DETECTED', 'garden-pi', 'Front yard', '6.0 % of the frame changed', '18,342 pixels changed', 'Pictures in event: 14', 'Event:             20250601-0417', 'ISO 8601:          2025-06-01T22:14:05.000Z', '2 more event(s)']) {
      assert.ok(text.includes(s), `text has ${s}`);
    }
    assert.doesNotMatch(text, /<[a-z]/i);
    assert.doesNotMatch(text, /\n\n\n/, 'no runs of blank lines');
  });

  it('escapes hostile values from the event in HTML and keeps the subject on one line', async () => {
    const job = sampleJob();
    const evil = { ...job.first, camera: '<img src=x onerror=alert(1)>', hostname: 'pi"\r\nBcc: x@evil.example' };
    const mail = await sampleMail({ ...job, first: evil, best: { ...job.best!, camera: evil.camera } });
    assert.ok(!mail.html.includes('<img src=x'));
    assert.ok(mail.html.includes('&lt;img src=x onerror=alert(1)&gt;'));
    assert.ok(mail.html.includes('pi&quot;'));
    assert.doesNotMatch(mail.subject, /[\r\n]/);
  });

  it('a follow-up clip mail has no picture and names the clip; an oversized clip is mentioned, not attached', async () => {
    const clip = movieEvent({ eventId: '20250601-0417' }, 30 * 1024 * 1024);
    const mail = await sampleMail({ ...sampleJob(), kind: 'clip', best: null, extras: [], first: clip, clip, pictures: 0, suppressed: 0 });
    assert.match(mail.subject, /\(clip\)$/);
    assert.doesNotMatch(mail.html, /cid:/);
    assert.match(mail.html, /CLIP OF AN EARLIER ALERT/);
    assert.match(mail.html, /30\.0 MB, too large to attach: the limit is 20\.0 MB; it stays on garden-pi/);
    assert.equal(mail.attachments.length, 0);
    assert.match(mail.text, /The clip 17-20250601221405\.mkv is 30\.0 MB, more than the 20\.0 MB a mail may carry/);
  });

  it('recompiles a user template when the file changes, and keeps the last good one after a broken edit', async (t) => {
    const { mkdtempSync, rmSync, writeFileSync, utimesSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'dms3-tpl-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'mine.mjml');
    writeFileSync(file, '<mjml><mj-body><mj-section><mj-column><mj-text>v1 {{camera}}</mj-text></mj-column></mj-section></mj-body></mjml>');
    const warnings: string[] = [];
    const src = new TemplateSource(file, '{{camera}}', (w) => warnings.push(w));
    const job = sampleJob();
    const to = [{ name: '', address: 'a@example.com' }];
    assert.match(composeMail(job, await src.get(), { to, maxClipBytes: 1 }).html, /v1 Front yard/);
    writeFileSync(file, '<mjml><mj-body><mj-section><mj-column><mj-text>v2 {{hostname}}</mj-text></mj-column></mj-section></mj-body></mjml>');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    assert.match(composeMail(job, await src.get(), { to, maxClipBytes: 1 }).html, /v2 garden-pi/);
    writeFileSync(file, '<mjml><mj-body><mj-text>{{hostnme}}</mj-text></mj-body></mjml>');
    utimesSync(file, new Date(), new Date(Date.now() + 10000));
    assert.match(composeMail(job, await src.get(), { to, maxClipBytes: 1 }).html, /v2 garden-pi/);
    assert.ok(warnings.some((w) => /hostnme/.test(w)), warnings.join('\n'));
    await assert.rejects(new TemplateSource(join(dir, 'missing.mjml'), '').get(), /missing\.mjml.*ENOENT/);
  });

  it('makes client file names safe as attachment names', () => {
    assert.equal(safeName('../../etc/passwd', 'x'), 'passwd');
    assert.equal(safeName('C:\\cam\\a"b<c>.jpg', 'x'), 'a_b_c_.jpg');
    assert.equal(safeName('...', 'fallback.jpg'), 'fallback.jpg');
  });
});
