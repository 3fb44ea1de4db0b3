// Renders a sample DMS3 mail the way a mail client shows it: cid: pictures become data: URLs.
import type { MailJob } from '../../lib/mail/aggregate';
import { DEFAULT_SUBJECT } from '../../lib/mail/options';
import { composeMail, type OutgoingMail } from '../../lib/mail/compose';
import { TemplateSource } from '../../nodes/dms3-mail/templates';
import { movieEvent, pictureEvent, sceneJpeg } from './motion-event';

export function sampleJob(over: Partial<MailJob> = {}): MailJob {
  const data = sceneJpeg(640, 480, 0.45, 82);
  const best = pictureEvent({
    agent: 'pi-garden-01', hostname: 'garden-pi', camera: 'Front yard', eventId: '20250601-0417', time: '2025-06-01T22:14:05.000Z',
    pixels: 18342, width: 640, height: 480, percent: (18342 / (640 * 480)) * 100,
    file: { name: '0417-20250601221405-07.jpg', mime: 'image/jpeg', size: data.length, data },
  });
  return {
    kind: 'event', key: 'sample', first: best, best, extras: [], clip: movieEvent({ eventId: '20250601-0417' }, 3_400_000),
    pictures: 14, suppressed: 2, capped: 0, ids: [], ...over,
  };
}

export async function sampleMail(job: MailJob = sampleJob()): Promise<OutgoingMail> {
  const templates = await new TemplateSource('', DEFAULT_SUBJECT).get();
  return composeMail(job, templates, { to: [{ name: '', address: 'family@example.com' }], maxClipBytes: 20 * 1024 * 1024 });
}

/** The HTML with its cid: references replaced by data: URLs of the matching attachments. */
export function inlineImages(mail: OutgoingMail): string {
  let html = mail.html;
  for (const a of mail.attachments) {
    if (a.cid) html = html.split(`cid:${a.cid}`).join(`data:${a.contentType};base64,${a.content.toString('base64')}`);
  }
  return html;
}
