// dms3-mail: Motion events in, one mail per event out (see lib/mail/aggregate.ts for the rules).
// This file adapts: validation → aggregator → template → durable outbox → SMTP, plus status and done().
// An input completes (done) once the mail that carries it is in the outbox and in the journal, so the
// hub keeps an event until then; an event the journal already knows (a replay after a crash) is not mailed again.
import nodemailer from 'nodemailer';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { validateMotionEvent } from '../../lib/event';
import { Aggregator, eventKey, type MailJob } from '../../lib/mail/aggregate';
import { composeMail } from '../../lib/mail/compose';
import { parseMailOptions, type MailOptions } from '../../lib/mail/options';
import { transportOptions, unfilled, type SmtpAccount } from '../../lib/mail/smtp';
import type { Done, Node, NodeAPI, NodeDef, NodeMessage } from '../shared/red';
import { Courier } from './courier';
import { MailJournal } from './journal';
import { Outbox, type StoredMail } from './outbox';
import { TemplateSource } from './templates';

interface MailDef extends NodeDef {
  smtp?: string;
  template?: string;
}

const CLOSE_WRITE_MS = 10_000;
const SEEN_IDS = 10_000;

function summary(mail: StoredMail): NodeMessage {
  return { topic: 'dms3-mail', payload: { ...mail.meta, subject: mail.subject, id: mail.id, attempts: mail.attempts, error: mail.lastError } };
}

export = function (RED: NodeAPI) {
  function MailNode(this: Node, config: MailDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const refuse = (problem: string) => {
      node.status({ fill: 'red', shape: 'ring', text: problem.slice(0, 60) });
      node.error(problem);
      node.on('input', (_msg, _send, done) => done(new Error(problem)));
    };

    const userDir = typeof RED.settings.userDir === 'string' ? RED.settings.userDir : join(homedir(), '.node-red');
    let opts: MailOptions;
    let templates: TemplateSource;
    try {
      opts = parseMailOptions(config);
      const path = typeof config.template === 'string' ? config.template.trim() : '';
      // A relative template path is taken from Node-RED's user directory.
      templates = new TemplateSource(path && resolve(userDir, path), opts.subject, (m) => node.warn(m));
    } catch (err) {
      refuse(`invalid configuration: ${(err as Error).message}`);
      return;
    }
    const smtp = config.smtp ? (RED.nodes.getNode(config.smtp) as (Node & SmtpAccount) | null) : null;
    if (!smtp?.settings) {
      refuse(smtp ? `SMTP server: ${smtp.problem}` : 'no SMTP server configured');
      return;
    }
    const from = smtp.settings.from;
    // Never "ready" with the example's stand-ins: say what to fill in.
    const toFill = unfilled(smtp.settings, opts.to);
    if (toFill.length) node.warn(`fill in the ${toFill.join(' and ')}: the example values (smtp.example.com, you@example.com) deliver no mail`);
    const transport = nodemailer.createTransport(transportOptions(smtp.settings));
    const outbox = new Outbox(join(userDir, 'dms3-outbox', node.id.replace(/[^\w.-]/g, '_')));
    let journal: MailJournal | null = null;
    try {
      journal = new MailJournal(join(outbox.dir, 'journal.log'), outbox.mailedSync());
    } catch (err) {
      node.warn(`mail journal not kept (${(err as Error).message}): after a restart, events delivered again may be mailed twice`);
    }
    const aggregator = new Aggregator(opts);
    aggregator.restore(journal?.list() ?? [], Date.now());
    const pending = new Map<string, Done[]>(); // event key → done() of the inputs that wait for its mail
    const seen = new Map<string, string>(); // ids offered in this run → their event key
    let repeated = 0;
    let timer: NodeJS.Timeout | undefined;
    let problem: string | null = null;

    const courier = new Courier(
      outbox,
      async (mail) => {
        await transport.sendMail({
          from,
          to: mail.to,
          subject: mail.subject,
          html: mail.html,
          text: mail.text,
          // One Message-ID per stored mail: a resend after a crash mid-delivery is recognisable as the same mail.
          messageId: `<${mail.id}@dms3.outbox>`,
          headers: { 'X-DMS3-Event': `${mail.meta.agent}/${mail.meta.camera}/${mail.meta.eventId}` },
          attachments: mail.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, cid: a.cid, path: outbox.file(a.file) })),
        });
      },
      { retryFirstMs: opts.retryFirstMs, giveUpMs: opts.giveUpMs },
      {
        onSent: () => showStatus(),
        onRetry: (mail, err, delay) => {
          node.warn(`mail "${mail.subject}" not sent (${err.message}); retrying in ${Math.round(delay / 1000)} s, ${courier.queued} queued`);
          showStatus();
        },
        onFailed: (mail, err, waited) => {
          if (!waited) node.error(`mail "${mail.subject}" failed: ${err.message} (kept in ${outbox.dir}/failed)`, summary(mail));
          showStatus();
        },
      },
    );

    function showStatus() {
      if (problem) {
        node.status({ fill: 'red', shape: 'ring', text: problem.slice(0, 60) });
        return;
      }
      const c = aggregator.counters(Date.now());
      const parts = courier.sent ? [`sent ${courier.sent}`] : [];
      if (courier.queued) parts.push(`queued ${courier.queued}`);
      if (courier.failed) parts.push(`failed ${courier.failed}`);
      if (c.gathering) parts.push(`collecting ${c.gathering}`);
      const skipped = c.filtered + c.suppressed + c.capped;
      if (skipped) parts.push(`skipped ${skipped}`);
      if (repeated) parts.push(`already mailed ${repeated}`);
      if (c.capReached) parts.push(`cap ${opts.dailyCap}/day reached`);
      if (toFill.length && !courier.sent) {
        node.status({ fill: 'yellow', shape: 'ring', text: `fill in: ${toFill.join(', ')} (example values)${parts.length ? `; ${parts.join(', ')}` : ''}`.slice(0, 80) });
        return;
      }
      const fill = courier.failed ? 'red' : courier.retrying || c.capReached ? 'yellow' : c.gathering ? 'blue' : 'green';
      node.status({ fill, shape: courier.retrying ? 'ring' : 'dot', text: parts.join(', ') || 'ready' });
    }

    async function dispatch(jobs: MailJob[]) {
      for (const job of jobs) {
        const dones = pending.get(job.key) ?? [];
        pending.delete(job.key);
        let stored = false;
        const carried = () => {
          stored = true;
          try {
            journal?.add({ at: Date.now(), key: job.key, agent: job.first.agent, camera: job.first.camera, ids: job.ids });
          } catch (err) {
            node.warn(`mail journal: ${(err as Error).message}`);
          }
          dones.forEach((d) => d());
        };
        try {
          const mail = composeMail(job, await templates.get(), { to: opts.to, maxClipBytes: opts.maxClipBytes });
          await courier.enqueue(mail, carried);
          problem = null; // e.g. a template file that was missing at start and has been fixed
        } catch (err) {
          if (!stored && dones.length) dones.forEach((d) => d(err as Error));
          else node.error(`mail for event ${job.first.eventId} of camera ${job.first.camera} failed: ${(err as Error).message}`, { topic: 'dms3-mail', payload: { agent: job.first.agent, camera: job.first.camera, eventId: job.first.eventId } });
        }
        showStatus();
      }
    }

    function schedule() {
      clearTimeout(timer);
      const next = aggregator.nextDue();
      if (next === null) return;
      timer = setTimeout(
        () => {
          void dispatch(aggregator.due(Date.now()));
          schedule();
          showStatus();
        },
        Math.max(0, next - Date.now()),
      );
    }

    node.on('input', (msg, _send, done) => {
      let event;
      try {
        event = validateMotionEvent(msg.payload);
      } catch (err) {
        node.status({ fill: 'red', shape: 'ring', text: (err as Error).message.slice(0, 60) });
        done(err as Error);
        return;
      }
      const motion = msg.motion as { id?: unknown } | undefined;
      const id = typeof motion?.id === 'string' ? motion.id : undefined;
      if (id !== undefined && (journal?.has(id) || seen.has(id))) {
        repeated++;
        showStatus();
        // Seen in this run but its mail not stored yet (the hub restarted alone): it completes with that mail.
        const waiting = journal?.has(id) ? undefined : pending.get(seen.get(id)!);
        if (waiting) waiting.push(done);
        else done();
        return;
      }
      if (id !== undefined) {
        seen.set(id, eventKey(event));
        if (seen.size > SEEN_IDS) seen.delete(seen.keys().next().value as string);
      }
      const offer = aggregator.offer(event, Date.now(), id);
      if (offer.capReached) node.warn(`daily cap of ${opts.dailyCap} mails reached: further events today are counted, not mailed`);
      // An input that is in a mail completes when that mail is stored; the others at once.
      if (offer.outcome === 'opened' || offer.outcome === 'joined' || offer.outcome === 'released' || offer.outcome === 'follow-up') {
        const key = eventKey(event);
        pending.set(key, [...(pending.get(key) ?? []), done]);
      } else {
        done();
      }
      void dispatch(offer.mails);
      schedule();
      showStatus();
    });

    node.on('close', (removed: boolean, done: () => void) => {
      clearTimeout(timer);
      courier.stop();
      // Mails still being gathered go to the outbox, so the next start sends them.
      const jobs = removed ? [] : aggregator.flush(Date.now());
      const flushed = Promise.race([dispatch(jobs), new Promise((r) => setTimeout(r, CLOSE_WRITE_MS).unref())]);
      void flushed.then(() => {
        // Inputs whose mail is not stored stay unfinished, so the hub delivers their events again.
        pending.clear();
        journal?.close();
        transport.close();
        if (removed && courier.queued) node.warn(`node removed with ${courier.queued} unsent mail(s) left in ${outbox.dir}`);
        done();
      });
    });

    templates.get().then(
      () => showStatus(),
      (err: Error) => {
        problem = `template: ${err.message}`;
        node.error(problem);
        showStatus();
      },
    );
    courier.start().then(
      () => showStatus(),
      (err: Error) => {
        problem = `outbox ${outbox.dir}: ${err.message}`;
        node.error(problem);
        showStatus();
      },
    );
  }
  RED.nodes.registerType('dms3-mail', MailNode);
};
