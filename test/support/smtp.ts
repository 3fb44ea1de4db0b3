// A real SMTP server on 127.0.0.1 for tests: smtp-server receives, mailparser parses.
// stop()/start() keep the port, so a test can take "the mail server" down and bring it back.
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { waitFor } from './red';

export interface ReceivedMail {
  parsed: ParsedMail;
  raw: Buffer;
  envelope: { from: string; to: string[]; user: string | undefined };
  at: number; // Date.now() when the DATA was complete
}

export class TestSmtp {
  readonly mails: ReceivedMail[] = [];
  private server: SMTPServer | null = null;
  port = 0;
  /** Called when a message's data has arrived, before it is parsed (for timing). */
  onAccepted: ((at: number) => void) | null = null;

  /**
   * `user`/`password` make authentication required; mail to `reject` is refused with 550; `path` listens
   * on a Unix socket instead of 127.0.0.1 (for a namespace, through an ns-proxy).
   */
  constructor(private readonly opts: { user?: string; password?: string; reject?: string[]; path?: string } = {}) {}

  async start(): Promise<void> {
    const { user, password, reject = [] } = this.opts;
    const server = new SMTPServer({
      authOptional: !user,
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      closeTimeout: 200,
      disableReverseLookup: true,
      logger: false,
      onAuth(auth, _session, cb) {
        if (auth.username === user && auth.password === password) cb(null, { user: auth.username });
        else cb(new Error('Invalid username or password'));
      },
      onRcptTo(address, _session, cb) {
        if (reject.includes(address.address)) cb(Object.assign(new Error('No such user here'), { responseCode: 550 }));
        else cb();
      },
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const at = Date.now();
          this.onAccepted?.(at);
          const raw = Buffer.concat(chunks);
          // keepCidLinks: leave cid: references in the HTML as the sender wrote them.
          simpleParser(raw, { keepCidLinks: true }).then(
            (parsed) => {
              const envelope = {
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                to: session.envelope.rcptTo.map((r) => r.address),
                user: session.user as string | undefined,
              };
              this.mails.push({ parsed, raw, envelope, at });
              cb();
            },
            (err: Error) => cb(err),
          );
        });
      },
    });
    // A client killed mid-session (a kill -9 of Node-RED) resets its connection: not the server's failure.
    server.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      const listening = () => {
        server.server.off('error', reject);
        resolve();
      };
      if (this.opts.path) server.listen(this.opts.path, listening);
      else server.listen(this.port, '127.0.0.1', listening);
    });
    if (!this.opts.path) this.port = (server.server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Wait until at least `n` mails have arrived; returns them all. */
  async waitForMails(n: number, ms = 15000): Promise<ReceivedMail[]> {
    await waitFor(() => this.mails.length >= n, ms, `${n} mail(s) at the test SMTP server (have ${this.mails.length})`);
    return this.mails;
  }
}
