// The dashboard, served by the hub under <base>/: a page of cards (the server and every agent) kept live
// over Server-Sent Events, a sign-in form, and the page's own assets (no CDN). The model is lib/dashboard.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { agentCard, agentId, cardOrder, isShown, mergePresence, SERVER_ID, type Card, type DashboardOptions, type ServerCard } from '../../lib/dashboard';
import { classify, msUntilChange, type HealthLevel } from '../../lib/health';
import { prettyName } from '../../lib/os-release';
import type { AgentChange, AgentEntry } from '../../lib/registry';
import type { Identity } from './auth';
import { HttpError, readBody, sameSite, sendJson } from './http';
import type { Hub, Logger, RouteContext } from './hub';
import { LoginLimiter, type Sessions } from './session';

/** The page's files, as the build lays them out (dist/dashboard beside dist/nodes). */
export const ASSET_DIR = join(__dirname, '..', '..', 'dashboard');
const ASSETS: Record<string, { file: string; type: string }> = {
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/icon.svg': { file: 'icon.svg', type: 'image/svg+xml' },
};
const MAX_VIEWERS = 100;
const MAX_BUFFERED = 1024 * 1024; // a viewer this far behind is dropped (it reconnects and gets a snapshot)
const FORM_LIMIT = 4096;
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export interface DashboardSetup {
  hub: Hub;
  options: DashboardOptions;
  sessions: Sessions;
  /** The hub-wide sign-in limiter (a default one when absent; tests pass one with their own clock). */
  limiter?: LoginLimiter;
  /** The server card's name, this package's and Node-RED's versions. */
  server: { name: string; version: string; nodeRed: string };
  /** The custom files, resolved to absolute paths (or null for the shipped ones). */
  files: { stylesheet: string | null; template: string | null };
  keepAliveMs?: number;
  log: Logger;
}

function osRelease(): string {
  try {
    const name = prettyName(readFileSync('/etc/os-release', 'utf8'));
    if (name) return name;
  } catch {
    /* not Linux, or no os-release: fall back below */
  }
  return `${os.type()} ${os.release()}`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function redirect(res: ServerResponse, location: string): void {
  res.statusCode = 303;
  res.setHeader('Location', location);
  res.setHeader('Cache-Control', 'no-store');
  res.end();
}

function sendPage(res: ServerResponse, status: number, html: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.end(html);
}

/** Fills `{{name}}` placeholders; unknown ones stay as they are. */
export function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (whole, name: string) => values[name] ?? whole);
}

async function readForm(req: IncomingMessage & { body?: unknown }): Promise<Record<string, unknown>> {
  // A body parser earlier in the chain may have read the form already.
  if (req.body && typeof req.body === 'object' && !Buffer.isBuffer(req.body) && req.readableEnded) return req.body as Record<string, unknown>;
  return Object.fromEntries(new URLSearchParams((await readBody(req, FORM_LIMIT)).toString('utf8')));
}

export class Dashboard {
  private readonly viewers = new Set<ServerResponse>();
  /** The health level last sent for each known agent (hidden ones too). */
  private readonly levels = new Map<string, HealthLevel>();
  private order: string[] = [];
  private readonly limiter: LoginLimiter;
  private readonly removers: (() => void)[] = [];
  private readonly osRelease = osRelease();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity; // when the timer fires
  private keepAlive: NodeJS.Timeout | null = null;
  private counts = '';
  private settling: NodeJS.Immediate | null = null;

  constructor(private readonly s: DashboardSetup) {
    this.limiter = s.limiter ?? new LoginLimiter();
  }

  start(): void {
    const { hub } = this.s;
    const r = (method: 'GET' | 'POST', path: string, handler: (req: IncomingMessage, res: ServerResponse, ctx: RouteContext) => void | Promise<void>, prefix = false) =>
      this.removers.push(hub.route(method, path, handler, { access: 'public', prefix }));
    r('GET', '/', (req, res, ctx) => this.page(req, res, ctx.identity));
    r('GET', '/login', (_req, res, ctx) => (this.signedIn(ctx.identity) ? redirect(res, './') : this.loginPage(res, 200, '')));
    r('POST', '/login', (req, res) => this.login(req, res));
    r('POST', '/logout', (req, res) => {
      this.s.sessions.signOut(req, res);
      redirect(res, this.s.options.access === 'password' ? 'login' : './');
    });
    r('GET', '/assets', (_req, res, ctx) => this.asset(res, ctx.rest), true);
    r('GET', '/api/view', (_req, res, ctx) => {
      this.mayView(ctx.identity);
      sendJson(res, 200, this.snapshot());
    });
    r('GET', '/api/events', (_req, res, ctx) => this.events(res, ctx.identity));

    hub.registry.on('agent', this.onAgent);
    hub.on('state', this.onServer);
    hub.on('presence', this.onServer);
    this.removers.push(
      () => hub.registry.off('agent', this.onAgent),
      () => hub.off('state', this.onServer),
      () => hub.off('presence', this.onServer),
    );
    this.keepAlive = setInterval(() => this.guard('keep-alive', () => {
      for (const v of this.viewers) this.write(v, ': keep-alive\n\n');
    }), this.s.keepAliveMs ?? 15_000);
    this.counts = JSON.stringify(hub.registry.counts());
    this.order = this.computeOrder();
    this.refresh();
  }

  /** Ends every event stream (viewers then show the connection as lost) and removes routes and timers. */
  stop(): void {
    for (const remove of this.removers.splice(0)) remove();
    if (this.timer) clearTimeout(this.timer);
    if (this.settling) clearImmediate(this.settling);
    if (this.keepAlive) clearInterval(this.keepAlive);
    for (const v of this.viewers) v.end();
    this.viewers.clear();
  }

  /** A timer's work: nothing it throws may reach Node-RED. */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.s.log.error(`dashboard ${what} failed: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  // ---- access

  private signedIn(identity: Identity | null): boolean {
    return identity?.kind === 'session' || identity?.kind === 'hub';
  }

  private mayView(identity: Identity | null): void {
    if (this.s.options.access === 'password' && !this.signedIn(identity)) throw new HttpError(401, 'sign in to the dashboard first');
  }

  /**
   * Signs in with a password or token (setting the cookie). Failures count for the whole hub, not per
   * address (addresses are cheap to change, and behind a proxy everybody shares one); a browser that
   * signed in before passes the hub-wide limiter with a few failures of its own.
   */
  private signIn(req: IncomingMessage, res: ServerResponse, secret: string): 'ok' | 'wrong' | number {
    const { sessions } = this.s;
    const known = sessions.knownDevice(req);
    if (!known) {
      const slot = this.limiter.take();
      if (!slot.ok) return slot.retryMs;
    }
    if (!sessions.enabled || !sessions.checkSecret(secret)) {
      if (known) sessions.deviceFailed(req);
      else this.limiter.failed();
      this.s.log.warn(`dashboard sign-in from ${sessions.proxies.client(req)} refused: wrong password or token${this.limiter.engaged ? ` (sign-ins slowed for the whole hub: one per ${this.limiter.slotMs / 1000} s)` : ''}`);
      return 'wrong';
    }
    sessions.signIn(req, res);
    return 'ok';
  }

  /** The answer to a sign-in: on to the dashboard, or the form again with the reason. */
  private afterSignIn(res: ServerResponse, result: 'ok' | 'wrong' | number, wrong: string): void | Promise<void> {
    if (result === 'ok') return redirect(res, './');
    if (typeof result === 'number') {
      const s = Math.max(1, Math.ceil(result / 1000));
      res.setHeader('Retry-After', String(s));
      return this.loginPage(res, 429, `Too many failed sign-ins to this hub: try again in ${s} s.`);
    }
    return this.loginPage(res, 401, wrong);
  }

  // ---- pages

  private async page(req: IncomingMessage, res: ServerResponse, identity: Identity | null): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://hub');
    // Relative asset and API links need the trailing slash ("/dms3" → "/dms3/").
    const original = new URL((req as { originalUrl?: string }).originalUrl ?? req.url ?? '/', 'http://hub').pathname;
    if (!original.endsWith('/')) return redirect(res, `${original.slice(original.lastIndexOf('/') + 1)}/${url.search}`);
    const token = url.searchParams.get('token');
    if (token !== null) {
      // A link with the token signs in once; the redirect drops the token from the address bar.
      return this.afterSignIn(res, this.signIn(req, res, token), 'The token in that link is wrong.');
    }
    if (this.s.options.access === 'password' && !this.signedIn(identity)) return redirect(res, 'login');
    const config = {
      title: this.s.options.title,
      access: this.s.options.access,
      controls: this.signedIn(identity),
      signIn: this.s.sessions.enabled && !this.signedIn(identity),
      signOut: identity?.kind === 'session',
    };
    const json = JSON.stringify(config).replace(/</g, '\\u003c');
    const head = `${this.stylesheets()}\n<script id="dms3-config" type="application/json">${json}</script>\n<script src="assets/app.js" defer></script>`;
    sendPage(res, 200, fill(await this.template('index.html', this.s.files.template), { title: escapeHtml(this.s.options.title), head }));
  }

  private async loginPage(res: ServerResponse, status: number, error: string): Promise<void> {
    const values = {
      title: escapeHtml(this.s.options.title),
      head: this.stylesheets(),
      error: error ? `<p class="form-error" role="alert">${escapeHtml(error)}</p>` : '',
      back: this.s.options.access === 'password' ? '' : '<p><a href="./">Back to the dashboard</a></p>',
    };
    sendPage(res, status, fill(await this.template('login.html', null), values));
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!sameSite(req)) throw new HttpError(403, 'cross-site request refused');
    const form = await readForm(req);
    const password = typeof form.password === 'string' ? form.password : '';
    return this.afterSignIn(res, this.signIn(req, res, password), this.s.sessions.enabled ? 'Wrong password or token.' : 'Signing in is off: the hub has no dashboard password or hub token.');
  }

  private stylesheets(): string {
    const custom = this.s.files.stylesheet ? '\n<link rel="stylesheet" href="assets/custom.css">' : '';
    return `<link rel="icon" href="assets/icon.svg" type="image/svg+xml">\n<link rel="stylesheet" href="assets/style.css">${custom}`;
  }

  private template(name: string, custom: string | null): Promise<string> {
    return readFile(custom ?? join(ASSET_DIR, name), 'utf8');
  }

  private async asset(res: ServerResponse, rest: string): Promise<void> {
    const custom = rest === '/custom.css' ? this.s.files.stylesheet : null;
    const known = ASSETS[rest];
    if (!custom && !known) throw new HttpError(404, 'no such asset');
    const body = await readFile(custom ?? join(ASSET_DIR, known.file));
    res.statusCode = 200;
    res.setHeader('Content-Type', custom ? 'text/css; charset=utf-8' : known.type);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.end(body);
  }

  // ---- live view

  private events(res: ServerResponse, identity: Identity | null): void {
    this.mayView(identity);
    if (this.viewers.size >= MAX_VIEWERS) throw new HttpError(503, `too many dashboard viewers (limit ${MAX_VIEWERS})`);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no', // nginx: pass events through at once
    });
    this.viewers.add(res);
    res.on('close', () => this.viewers.delete(res));
    this.write(res, `retry: 3000\n\n${this.event('snapshot', this.snapshot())}`);
  }

  /** The whole view: every shown card, in display order. */
  snapshot(): { now: string; order: string[]; cards: Card[] } {
    this.refresh();
    const now = Date.now();
    const cards = new Map<string, Card>([[SERVER_ID, this.serverCard(now)]]);
    for (const a of this.s.hub.registry.list()) cards.set(agentId(a.name), agentCard(a, now, this.s.options.thresholds));
    return { now: new Date(now).toISOString(), order: this.order, cards: this.order.map((id) => cards.get(id)!) };
  }

  private serverCard(now: number): ServerCard {
    const { hub, server } = this.s;
    const state = hub.state;
    return {
      id: SERVER_ID,
      kind: 'server',
      name: server.name,
      hostname: os.hostname(),
      platform: os.platform(),
      arch: os.arch(),
      osRelease: this.osRelease,
      kernel: os.release(),
      uptime: Math.round(os.uptime()),
      uptimeAt: new Date(now).toISOString(),
      health: 'ok',
      version: server.version,
      nodeRed: server.nodeRed,
      agents: hub.registry.counts(),
      state: state && { state: state.state, reason: state.reason, since: state.since, override: state.override },
      presence: mergePresence(hub.presence),
    };
  }

  private readonly onServer = (): void => {
    this.broadcast('card', { now: new Date().toISOString(), card: this.serverCard(Date.now()) });
  };

  private readonly onAgent = (change: AgentChange): void => {
    if (change.event === 'removed') this.update(change.agent.name, null);
    else this.update(change.agent.name, change.agent);
    if (change.event !== 'removed') this.scheduleFor(change.agent);
    // The server card's counts: once per burst of reports.
    if (this.settling) return;
    this.settling = setImmediate(() => {
      this.settling = null;
      const counts = JSON.stringify(this.s.hub.registry.counts());
      if (counts !== this.counts) {
        this.counts = counts;
        this.onServer();
      }
    });
  };

  /** Sends what changed for one agent (null: it is gone) and the new card order if it changed. */
  private update(name: string, entry: AgentEntry | null, now = Date.now()): void {
    const before = this.levels.get(name);
    const card = entry && agentCard(entry, now, this.s.options.thresholds);
    if (card) this.levels.set(name, card.health);
    else this.levels.delete(name);
    const shownBefore = before !== undefined && isShown(before, this.s.options.onMissing);
    const shown = card !== null && isShown(card.health, this.s.options.onMissing);
    // The order depends only on which agents are shown (names do not change), so an ordinary report
    // costs O(1) here: with 1000 agents, each decision brings 1000 reports.
    let orderChanged = false;
    if (shown !== shownBefore) {
      const order = this.computeOrder();
      orderChanged = order.join('\n') !== this.order.join('\n');
      this.order = order;
    }
    const order = this.order;
    const at = new Date(now).toISOString();
    if (card && shown) this.broadcast('card', orderChanged ? { now: at, card, order } : { now: at, card });
    else if (shownBefore) this.broadcast('remove', { now: at, id: agentId(name), order });
  }

  private computeOrder(): string[] {
    const shown = this.s.hub.registry.list().filter((a) => {
      const level = this.levels.get(a.name);
      return level !== undefined && isShown(level, this.s.options.onMissing);
    });
    return cardOrder([{ id: SERVER_ID, kind: 'server', name: this.s.server.name }, ...shown.map((a) => ({ id: agentId(a.name), kind: 'agent' as const, name: a.name }))], this.s.options);
  }

  /** Re-classifies every agent by the clock, sends the changes, and sets the timer for the next one. */
  private refresh(): void {
    const now = Date.now();
    const { thresholds } = this.s.options;
    for (const a of this.s.hub.registry.list()) {
      if (this.levels.get(a.name) !== classify(a.lastReport, now, thresholds)) this.update(a.name, a, now);
    }
    this.schedule();
  }

  /** One agent reported: the timer only has to come sooner if this agent's next change is sooner. O(1) per report. */
  private scheduleFor(entry: AgentEntry): void {
    const now = Date.now();
    const ms = msUntilChange(entry.lastReport, now, this.s.options.thresholds);
    if (ms === null || now + ms >= this.timerAt) return;
    this.setTimer(now, ms);
  }

  private setTimer(now: number, ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    // setTimeout takes at most 2^31-1 ms; a later change is found by a later run.
    const delay = Math.min(ms + 5, 2 ** 31 - 1);
    this.timerAt = now + delay;
    this.timer = setTimeout(() => this.guard('health refresh', () => this.refresh()), delay);
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    const now = Date.now();
    let next: number | null = null;
    for (const a of this.s.hub.registry.list()) {
      const ms = msUntilChange(a.lastReport, now, this.s.options.thresholds);
      if (ms !== null && (next === null || ms < next)) next = ms;
    }
    if (next !== null) this.setTimer(now, next);
  }

  private event(name: string, data: unknown): string {
    return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
  }

  private broadcast(name: string, data: unknown): void {
    if (this.viewers.size === 0) return;
    const text = this.event(name, data);
    for (const v of this.viewers) this.write(v, text);
  }

  private write(res: ServerResponse, text: string): void {
    if (res.writableLength > MAX_BUFFERED) {
      this.viewers.delete(res);
      res.destroy();
      return;
    }
    res.write(text);
  }
}
