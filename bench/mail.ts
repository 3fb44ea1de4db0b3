// Mail benchmark: template compile and per-mail render time, and the time from a dms3-mail input to the
// mail accepted by a real SMTP server on 127.0.0.1 (gathering window 0, so this is the node's own cost).
// Run: npm run build && node dist/bench/mail.js   → bench/results-mail.json
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { composeMail, FIELD_SET } from '../lib/mail/compose';
import { compileMjml, DEFAULT_MJML_PATH } from '../lib/mail/template';
import mailNode from '../nodes/dms3-mail/dms3-mail';
import { TemplateSource } from '../nodes/dms3-mail/templates';
import smtpNode from '../nodes/dms3-smtp/dms3-smtp';
import { sampleJob } from '../test/support/mail-preview';
import { pictureEvent } from '../test/support/motion-event';
import { helper } from '../test/support/red';
import { TestSmtp } from '../test/support/smtp';

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  const r = (n: number) => Math.round(n * 1000) / 1000;
  return { n: s.length, mean: r(s.reduce((a, b) => a + b, 0) / s.length), p50: r(at(0.5)), p99: r(at(0.99)), max: r(s[s.length - 1]) };
}

async function templateNumbers() {
  const source = readFileSync(DEFAULT_MJML_PATH, 'utf8');
  let t = performance.now();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('mjml');
  const requireMs = performance.now() - t;
  t = performance.now();
  await compileMjml(source, FIELD_SET);
  const firstCompileMs = performance.now() - t;
  const recompiles: number[] = [];
  for (let i = 0; i < 10; i++) {
    t = performance.now();
    await compileMjml(source, FIELD_SET);
    recompiles.push(performance.now() - t);
  }
  const templates = await new TemplateSource('', 'DMS3 {{hostname}}: motion on camera {{camera}} at {{localTime}}').get();
  const job = sampleJob();
  const to = [{ name: '', address: 'family@example.com' }];
  const renders: number[] = [];
  for (let i = 0; i < 1000; i++) {
    t = performance.now();
    composeMail(job, templates, { to, maxClipBytes: 20 * 1024 * 1024 });
    renders.push(performance.now() - t);
  }
  return { requireMjmlMs: Math.round(requireMs), firstCompileMs: Math.round(firstCompileMs), recompileMs: stats(recompiles), renderPerMailMs: stats(renders.slice(50)) };
}

async function endToEnd(events: number) {
  const userDir = mkdtempSync(join(tmpdir(), 'dms3-mail-bench-'));
  const smtp = new TestSmtp();
  await smtp.start();
  helper.settings({ userDir });
  await helper.load(
    [smtpNode, mailNode],
    [
      { id: 'acct', type: 'dms3-smtp', host: '127.0.0.1', port: smtp.port, security: 'none', from: 'dms3@example.com' },
      { id: 'm', type: 'dms3-mail', smtp: 'acct', to: 'family@example.com', quiet: 0, maxWait: 0, cooldown: 0, dailyCap: 0, wires: [] },
    ],
  );
  const m = helper.getNode('m');
  const latencies: number[] = [];
  try {
    // Warm-up: template compile and the first SMTP connection.
    for (let i = 0; i < events + 3; i++) {
      const accepted = new Promise<number>((resolve) => (smtp.onAccepted = () => resolve(performance.now())));
      const t0 = performance.now();
      m.receive({ payload: pictureEvent({ eventId: `bench-${i}` }) });
      const t1 = await accepted;
      if (i >= 3) latencies.push(t1 - t0);
      await smtp.waitForMails(i + 1);
    }
  } finally {
    await helper.unload();
    await smtp.stop();
    rmSync(userDir, { recursive: true, force: true });
  }
  return stats(latencies);
}

async function main() {
  const template = await templateNumbers();
  const inputToAcceptedMs = await endToEnd(50);
  const results = {
    when: new Date().toISOString(),
    machine: { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model },
    template,
    inputToSmtpAcceptedMs: {
      ...inputToAcceptedMs,
      note: "gathering window 0 s (the default 5 s window adds 5 s by design); includes smtp-server's fixed 100 ms greeting pause (early-talker check), so the node's own share is about 100 ms less",
    },
  };
  writeFileSync(join(__dirname, '..', '..', 'bench', 'results-mail.json'), JSON.stringify(results, null, 2) + '\n');
  console.log(JSON.stringify(results, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
