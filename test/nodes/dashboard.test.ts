// The dashboard served by the hub node on the test helper's real Node-RED runtime: pages and assets,
// the three access modes, sign-in, the override's authorisation, the live event stream, and options.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import serverNode from '../../nodes/dms3-server/dms3-server';
import stateNode from '../../nodes/dms3-state/dms3-state';
import { call, health, TestAgent } from '../support/agent';
import { captureHttpNode } from '../support/http-node';
import { helper, waitFor } from '../support/red';
import { SseClient } from '../support/sse';

const HUB = 'hub-token-for-tests-0123456789';
const KITCHEN = 'kitchen-token-0123456789abcdef';
const PASSWORD = 'front door 1234';
const NODES = [captureHttpNode, serverNode, stateNode];

const flow = (hub: Record<string, unknown> = {}) => [
  { id: 'hub', type: 'dms3-server', name: 'Home server', base: '/dms3', heartbeat: 10, ...hub },
  { id: 's', type: 'dms3-state', name: '', startup: 'start', server: 'hub', wires: [[]] },
];
const creds = (c: Record<string, string> = {}) => ({ hub: { token: HUB, agentTokens: `kitchen=${KITCHEN}`, password: PASSWORD, ...c } });

const url = (path: string) => `${helper.url()}/dms3${path}`;
const cleanup: (() => unknown)[] = [];

/** One request without following redirects. */
async function http(path: string, opts: { method?: string; cookie?: string; form?: Record<string, string>; json?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.cookie) headers.Cookie = opts.cookie;
  let body: string | undefined;
  if (opts.form) {
    body = new URLSearchParams(opts.form).toString();
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
  } else if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(url(path), { method: opts.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual', signal: AbortSignal.timeout(5000) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Signs in with the form and returns the session cookie ("name=value"). */
async function signIn(secret = PASSWORD): Promise<string> {
  const r = await http('/login', { form: { password: secret } });
  assert.equal(r.status, 303, r.text);
  return r.headers.get('set-cookie')!.split(';')[0];
}

/** An agent on the hub: kitchen with its own token (the hub token may not act as it), others with the hub token. */
async function agent(name: string, token = name === 'kitchen' ? KITCHEN : HUB): Promise<TestAgent> {
  const a = new TestAgent(`${helper.url().replace(/^http/, 'ws')}/dms3/agent`, { token, name });
  cleanup.push(() => a.close());
  await a.open();
  return a;
}

async function events(cookie?: string): Promise<SseClient> {
  const c = await SseClient.open(url('/api/events'), cookie ? { Cookie: cookie } : {});
  cleanup.push(() => c.close());
  return c;
}

function logged(level?: number): string[] {
  const log = helper.log();
  return log.args.filter((a: any[]) => level === undefined || a[0].level === level).map((a: any[]) => String(a[0].msg));
}

describe('dashboard', () => {
  // A user directory, as Node-RED always has: the hub keeps its sessions there across redeploys.
  const userDir = mkdtempSync(join(tmpdir(), 'dms3-dashboard-'));
  before(() => {
    helper.settings({ userDir });
    return helper.startServer();
  });
  after(() => rmSync(userDir, { recursive: true, force: true }));
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
    await helper.unload();
  });
  after(() => helper.stopServer());

  it('serves the page and its own assets, with a strict content security policy', async () => {
    await helper.load(NODES, flow({ access: 'open', title: 'Our <house>' }), creds());
    const page = await http('/');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
    assert.match(page.headers.get('content-security-policy')!, /default-src 'none'; script-src 'self'/);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    assert.match(page.text, /<title>Our &#60;house&#62;<\/title>/, 'the title is escaped');
    assert.match(page.text, /<script src="assets\/app.js" defer><\/script>/);
    assert.match(page.text, /<link rel="stylesheet" href="assets\/style.css">/);
    assert.ok(!/https?:\/\//.test(page.text.replace(/http:\/\/www.w3.org\/2000\/svg/g, '')), 'no outside URL in the page');
    const config = JSON.parse(/<script id="dms3-config" type="application\/json">(.*?)<\/script>/.exec(page.text)![1]);
    assert.deepEqual(config, { title: 'Our <house>', access: 'open', controls: false, signIn: true, signOut: false });

    for (const [asset, type] of [
      ['app.js', /^text\/javascript/],
      ['style.css', /^text\/css/],
      ['icon.svg', /^image\/svg\+xml/],
    ] as const) {
      const r = await http(`/assets/${asset}`);
      assert.equal(r.status, 200, asset);
      assert.match(r.headers.get('content-type')!, type);
      assert.ok(r.text.length > 100);
    }
    assert.equal((await http('/assets/../dms3-server.js')).status, 404);
    assert.equal((await http('/assets/custom.css')).status, 404, 'no custom stylesheet configured');
    // Without the trailing slash the relative links would break: redirect.
    const bare = await fetch(`${helper.url()}/dms3?x=1`, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
    assert.equal(bare.status, 303);
    assert.equal(bare.headers.get('location'), 'dms3/?x=1');
  });

  it('password access: everything but the sign-in form needs a session', async () => {
    await helper.load(NODES, flow({ access: 'password' }), creds());
    const page = await http('/');
    assert.equal(page.status, 303);
    assert.equal(page.headers.get('location'), 'login');
    assert.equal((await http('/api/view')).status, 401);
    assert.equal((await SseClient.open(url('/api/events'))).status, 401);
    const form = await http('/login');
    assert.equal(form.status, 200);
    assert.match(form.text, /<form method="post" action="login"/);
    assert.ok(!form.text.includes('Back to the dashboard'));

    const wrong = await http('/login', { form: { password: 'guess' } });
    assert.equal(wrong.status, 401);
    assert.match(wrong.text, /Wrong password or token/);
    assert.equal(wrong.headers.get('set-cookie'), null);

    const signedIn = await http('/login', { form: { password: PASSWORD } });
    assert.equal(signedIn.status, 303);
    assert.equal(signedIn.headers.get('location'), './');
    const setCookie = signedIn.headers.get('set-cookie')!;
    assert.match(setCookie, /^dms3_session=[\w-]{43}; Path=\/dms3; Max-Age=2592000; HttpOnly; SameSite=Strict, dms3_device=[\w-]{43}; Path=\/dms3; Max-Age=31536000; HttpOnly; SameSite=Strict$/);
    const cookie = setCookie.split(';')[0];

    const view = await http('/', { cookie });
    assert.equal(view.status, 200);
    assert.match(view.text, /"controls":true/);
    const snapshot = JSON.parse((await http('/api/view', { cookie })).text);
    assert.equal(snapshot.cards[0].id, 'server');
    assert.equal(snapshot.cards[0].name, 'Home server');
    assert.equal((await http('/login', { cookie })).status, 303, 'signed in already');

    // The hub token signs in too, also once from a link; the redirect drops it from the address.
    await signIn(HUB);
    const link = await http(`/?token=${HUB}`);
    assert.equal(link.status, 303);
    assert.equal(link.headers.get('location'), './');
    assert.match(link.headers.get('set-cookie')!, /^dms3_session=/);
    assert.equal((await http('/?token=wrong')).status, 401);
    // An agent's token is no way in, and never signs in.
    assert.equal((await http('/api/view', { headers: { Authorization: `Bearer ${KITCHEN}` } })).status, 401);
    assert.equal((await http('/login', { form: { password: KITCHEN } })).status, 401);

    const out = await http('/logout', { method: 'POST', cookie });
    assert.equal(out.status, 303);
    assert.match(out.headers.get('set-cookie')!, /^dms3_session=; Path=\/dms3; Max-Age=0/);
    // Signing out ends the session on the server: the old cookie, kept by anybody, opens nothing.
    assert.equal((await http('/api/view', { cookie })).status, 401);
    assert.equal((await http('/', { cookie })).headers.get('location'), 'login');
    assert.equal((await http('/api/override', { cookie, json: { mode: 'stop' } })).status, 401);
    assert.ok(!logged().some((m) => m.includes(PASSWORD) || m.includes(HUB) || m.includes(KITCHEN)), 'no secret in the log');
  });

  it('a new password or hub token ends every session', async () => {
    await helper.load(NODES, flow(), creds());
    const cookie = await signIn();
    assert.equal((await http('/api/view', { cookie })).status, 200);
    await helper.unload();
    await helper.load(NODES, flow(), creds());
    assert.equal((await http('/api/view', { cookie })).status, 200, 'a redeploy with the same secrets keeps it');
    await helper.unload();
    await helper.load(NODES, flow(), creds({ password: 'a new password 5678' }));
    assert.equal((await http('/api/view', { cookie })).status, 401);
    const again = await signIn('a new password 5678');
    await helper.unload();
    await helper.load(NODES, flow(), creds({ password: 'a new password 5678', token: `${HUB}-new` }));
    assert.equal((await http('/api/view', { cookie: again })).status, 401);
  });

  it('an agent token never signs in, overrides, lists, deletes or displaces another agent', async () => {
    await helper.load(NODES, flow({ access: 'open' }), creds());
    const hub = helper.getNode('hub').hub;
    await waitFor(() => hub.state, 2000, 'first decision');
    const bearer = { Authorization: `Bearer ${KITCHEN}` };
    assert.equal((await http('/login', { form: { password: KITCHEN } })).status, 401);
    assert.equal((await http(`/?token=${KITCHEN}`)).status, 401);
    assert.equal((await http('/api/override', { json: { mode: 'stop' }, headers: bearer })).status, 403);
    assert.equal((await http('/api/agents', { headers: bearer })).status, 403);
    const garage = await agent('garage');
    await waitFor(() => hub.registry.get('garage')?.connected, 2000, 'garage connected');
    assert.equal((await http('/api/agents/garage', { method: 'DELETE', headers: bearer })).status, 403);
    const posing = await http('/api/report', { json: { v: 1, type: 'hello', name: 'garage', health: health() }, headers: bearer });
    assert.equal(posing.status, 403);
    assert.match(JSON.parse(posing.text).error, /belongs to agent "kitchen"/);
    assert.equal(hub.registry.get('garage')?.connected, true, 'garage keeps its connection');
    void garage;
    // And the shared hub token cannot take the place of an agent that has its own token.
    const hubAsKitchen = await http('/api/report', { json: { v: 1, type: 'hello', name: 'kitchen', health: health() }, headers: { Authorization: `Bearer ${HUB}` } });
    assert.equal(hubAsKitchen.status, 403);
    assert.match(JSON.parse(hubAsKitchen.text).error, /"kitchen" has its own token/);
    for (const text of [posing.text, hubAsKitchen.text, (await http('/api/agents', { headers: { Authorization: `Bearer ${HUB}` } })).text]) {
      assert.ok(!text.includes(KITCHEN) && !text.includes(HUB), 'no token in an answer');
    }
  });

  it('the override needs a sign-in or the hub token in every mode, and refuses cross-site requests', async () => {
    await helper.load(NODES, flow({ access: 'open' }), creds());
    const hub = helper.getNode('hub').hub;
    await waitFor(() => hub.state, 2000, 'first decision');
    assert.equal((await http('/')).status, 200, 'open: readable without signing in');
    assert.equal((await http('/api/view')).status, 200);
    assert.equal((await http('/api/override', { json: { mode: 'stop' } })).status, 401);
    assert.equal((await http('/api/override', { json: { mode: 'stop' }, headers: { Authorization: `Bearer ${KITCHEN}` } })).status, 403);

    const cookie = await signIn();
    const crossSite = await http('/api/override', { cookie, json: { mode: 'stop' }, headers: { 'Sec-Fetch-Site': 'cross-site' } });
    assert.equal(crossSite.status, 403);
    assert.match(crossSite.text, /cross-site/);
    const otherOrigin = await http('/api/override', { cookie, json: { mode: 'stop' }, headers: { Origin: 'http://evil.example' } });
    assert.equal(otherOrigin.status, 403);
    assert.equal(hub.state.override, 'auto');
    assert.equal((await http('/login', { form: { password: PASSWORD }, headers: { 'Sec-Fetch-Site': 'cross-site' } })).status, 403, 'no sign-in from another site');

    const ok = await http('/api/override', { cookie, json: { mode: 'stop' }, headers: { 'Sec-Fetch-Site': 'same-origin', Origin: helper.url() } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(JSON.parse(ok.text).override, 'stop');
    assert.equal(hub.state.override, 'stop');
    assert.equal((await http('/api/override', { json: { mode: 'auto' }, headers: { Authorization: `Bearer ${HUB}` } })).status, 200);

    // A session is for people: never for the agents' endpoints.
    assert.equal((await http('/api/state', { cookie })).status, 401);
    assert.equal((await http('/api/report', { cookie, json: { v: 1, type: 'hello', name: 'fake', health: health() } })).status, 401);
    const ws = new WebSocket(`${helper.url().replace(/^http/, 'ws')}/dms3/agent`, { headers: { Cookie: cookie } });
    ws.on('error', () => undefined); // the refused handshake
    const refused = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode!)));
    ws.terminate();
    assert.equal(refused, 401);
  });

  it('node-red access leaves reading to httpNodeAuth (and warns when it is not set), not the override', async () => {
    await helper.load(NODES, flow({ access: 'node-red' }), creds());
    assert.ok(logged().some((m) => /httpNodeAuth is not set/.test(m)));
    assert.equal((await http('/')).status, 200);
    assert.equal((await http('/api/view')).status, 200);
    assert.equal((await http('/api/override', { json: { mode: 'stop' } })).status, 401);
  });

  it('slows failed sign-ins for the whole hub, whatever address they claim; a browser that signed in before still gets in', async () => {
    await helper.load(NODES, flow(), creds());
    // The owner signed in from this browser before: it holds a known-device cookie.
    const first = await http('/login', { form: { password: PASSWORD } });
    const device = /dms3_device=[^;]+/.exec(first.headers.get('set-cookie')!)![0];
    // A guesser rotating X-Forwarded-For (no proxy is trusted) gets 10 checked guesses, then 429s.
    let checked = 0;
    for (let i = 0; i < 40; i++) {
      const r = await http('/login', { form: { password: `guess ${i}` }, headers: { 'X-Forwarded-For': `198.51.100.${i}` } });
      assert.ok(r.status === 401 || r.status === 429, String(r.status));
      if (r.status === 401) checked++;
    }
    assert.equal(checked, 10);
    const blocked = await http('/login', { form: { password: PASSWORD }, headers: { 'X-Forwarded-For': '203.0.113.1' } });
    assert.equal(blocked.status, 429);
    assert.match(blocked.text, /Too many failed sign-ins to this hub: try again in \d+ s/);
    const retry = Number(blocked.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
    assert.match(blocked.headers.get('content-type')!, /^text\/html/);
    assert.equal((await http(`/?token=${HUB}`)).status, 429);
    // The owner's browser is not held up by the guesser.
    const owner = await http('/login', { form: { password: PASSWORD }, headers: { Cookie: device } });
    assert.equal(owner.status, 303);
    // A stolen-looking device cookie that fails 5 times is a stranger again.
    for (let i = 0; i < 5; i++) assert.equal((await http('/login', { form: { password: `x${i}` }, headers: { Cookie: device } })).status, 401);
    assert.equal((await http('/login', { form: { password: PASSWORD }, headers: { Cookie: device } })).status, 429);
    assert.equal(logged().filter((m) => /sign-in from .* refused/.test(m)).length, 15, 'one line per checked attempt, none for the refused ones');
  });

  it('streams a snapshot, then every change: agents, health by the clock, state and presence; ends on close', async () => {
    await helper.load(NODES, flow({ access: 'open', warning: 1, danger: 3 }), creds());
    const hub = helper.getNode('hub').hub;
    await waitFor(() => hub.state, 2000, 'first decision');
    const stream = await events();
    const snapshot = await stream.next((e) => e.event === 'snapshot');
    assert.deepEqual(snapshot.data.order, ['server']);
    const server = snapshot.data.cards[0];
    assert.equal(server.kind, 'server');
    assert.deepEqual(server.agents, { total: 0, connected: 0 });
    assert.deepEqual([server.state.state, server.state.reason, server.state.override], ['start', 'startup', 'auto']);
    assert.ok(server.hostname && server.kernel && server.osRelease && server.version && server.nodeRed);
    assert.deepEqual(server.presence, []);

    const mark = stream.events.length;
    await agent('kitchen');
    const card = await stream.next((e) => e.event === 'card' && e.data.card.id === 'agent:kitchen', 5000, 'kitchen card', mark);
    assert.deepEqual(card.data.order, ['server', 'agent:kitchen']);
    assert.equal(card.data.card.health, 'ok');
    assert.equal(card.data.card.hostname, 'kitchen');
    await stream.next((e) => e.event === 'card' && e.data.card.id === 'server' && e.data.card.agents.connected === 1, 5000, 'agent count', mark);

    // No report since hello: late, then much later, without anything else happening.
    const late = await stream.next((e) => e.data.card?.id === 'agent:kitchen' && e.data.card.health === 'warning', 10_000, 'warning', mark);
    const danger = await stream.next((e) => e.data.card?.id === 'agent:kitchen' && e.data.card.health === 'danger', 10_000, 'danger', mark);
    assert.ok(stream.events.indexOf(danger) > stream.events.indexOf(late));
    assert.ok(Date.parse(late.data.card.lastReport) === Date.parse(danger.data.card.lastReport), 'no report in between');

    const presenceMark = stream.events.length;
    helper.getNode('s').receive({ topic: 'presence', payload: { home: true, source: 'lan', devices: [{ name: "Alice's phone", present: true, macs: ['02:00:00:00:00:01'] }, { name: "Bob's phone", present: false }] } });
    helper.getNode('s').receive({ topic: 'presence', payload: { home: false, source: 'ha', devices: [{ name: "Alice's phone", present: false }, { name: 'Tablet', present: null }] } });
    const withPresence = await stream.next((e) => e.data.card?.id === 'server' && e.data.card.presence.length === 3, 5000, 'presence', presenceMark);
    assert.deepEqual(withPresence.data.card.presence, [
      { name: "Alice's phone", present: true },
      { name: "Bob's phone", present: false },
      { name: 'Tablet', present: null },
    ]);
    const stopped = await stream.next((e) => e.data.card?.id === 'server' && e.data.card.state?.reason === 'someone-home', 5000, 'state', presenceMark);
    assert.equal(stopped.data.card.state.state, 'stop');

    await helper.unload();
    await stream.until(() => stream.ended, 5000, 'the stream to end');
  });

  it('hides a missing agent and shows it again when it reports (or keeps it, when told to)', async () => {
    for (const onMissing of ['hide', 'show']) {
      await helper.load(NODES, flow({ access: 'open', warning: 0.2, danger: 0.4, missing: 0.8, onMissing }), creds());
      const stream = await events();
      await stream.next((e) => e.event === 'snapshot');
      const a = await agent('porch');
      await stream.next((e) => e.data.card?.id === 'agent:porch');
      if (onMissing === 'hide') {
        const removed = await stream.next((e) => e.event === 'remove', 10_000);
        assert.deepEqual(removed.data, { now: removed.data.now, id: 'agent:porch', order: ['server'] });
        assert.deepEqual(JSON.parse((await http('/api/view')).text).order, ['server']);
        const mark = stream.events.length;
        a.send({ v: 1, type: 'health', health: health({ hostname: 'porch' }) });
        const back = await stream.next((e) => e.data.card?.id === 'agent:porch', 5000, 'back', mark);
        assert.equal(back.data.card.health, 'ok');
        assert.deepEqual(back.data.order, ['server', 'agent:porch']);
      } else {
        const missing = await stream.next((e) => e.data.card?.health === 'missing', 10_000);
        assert.equal(missing.data.card.id, 'agent:porch');
        assert.ok(!stream.events.some((e) => e.event === 'remove'));
      }
      for (const c of cleanup.splice(0).reverse()) await c();
      await helper.unload();
    }
  });

  it('orders the cards by the options', async () => {
    const orders: Record<string, string[]> = {};
    for (const [key, opts] of Object.entries({ nameFirst: { sort: 'name', serverFirst: true }, nameAmong: { sort: 'name', serverFirst: false }, arrival: { sort: 'arrival', serverFirst: false } })) {
      await helper.load(NODES, flow({ access: 'open', ...opts }), creds());
      for (const name of ['kitchen', 'attic', 'Living room']) {
        const a = await agent(name);
        await a.until(() => a.states.length === 1);
      }
      orders[key] = JSON.parse((await http('/api/view')).text).order;
      for (const c of cleanup.splice(0).reverse()) await c();
      await helper.unload();
    }
    assert.deepEqual(orders, {
      nameFirst: ['server', 'agent:attic', 'agent:kitchen', 'agent:Living room'],
      nameAmong: ['agent:attic', 'server', 'agent:kitchen', 'agent:Living room'], // "Home server"
      arrival: ['agent:kitchen', 'agent:attic', 'agent:Living room', 'server'],
    });
  });

  it('serves a custom stylesheet and page template from the user directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dms3-dash-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'my.css'), ':root { --accent: #ff00aa; }');
    writeFileSync(join(dir, 'page.html'), '<!doctype html><html lang="en"><head><title>{{title}}</title>{{head}}</head><body><h1>Our own page</h1><ul id="cards"></ul>{{unknown}}</body></html>');
    await helper.load(NODES, flow({ access: 'open', stylesheet: join(dir, 'my.css'), template: join(dir, 'page.html') }), creds());
    const page = await http('/');
    assert.match(page.text, /<h1>Our own page<\/h1>/);
    assert.match(page.text, /<link rel="stylesheet" href="assets\/style.css">\n<link rel="stylesheet" href="assets\/custom.css">/);
    assert.match(page.text, /\{\{unknown\}\}/, 'unknown placeholders stay');
    const css = await http('/assets/custom.css');
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type')!, /^text\/css/);
    assert.equal(css.text, ':root { --accent: #ff00aa; }');
  });

  it('a bad dashboard option stops the dashboard, not the hub', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dms3-dash-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'nohead.html'), '<html><body>no head</body></html>');
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ warning: 60, danger: 30 }, /dashboard not started: danger 30: must be more than warning \(60 s\)/],
      [{ stylesheet: join(dir, 'absent.css') }, /dashboard not started: stylesheet ".*absent.css": cannot read .* \(ENOENT\)/],
      [{ template: join(dir, 'nohead.html') }, /dashboard not started: template ".*nohead.html": the template must contain \{\{head\}\}/],
      [{ access: 'everyone' }, /dashboard not started: access "everyone"/],
    ];
    for (const [opts, error] of cases) {
      await helper.load(NODES, flow(opts), creds());
      assert.ok(logged(helper.log().ERROR).some((m) => error.test(m)), `${JSON.stringify(opts)}: ${logged(helper.log().ERROR).join(' | ')}`);
      assert.equal((await http('/')).status, 404);
      await waitFor(() => helper.getNode('hub').hub?.state, 2000, 'hub running');
      assert.equal((await call(url('/api/state'), { token: HUB })).status, 200);
      await helper.unload();
    }
    // Password access needs something to sign in with: only agent tokens are not enough.
    await helper.load(NODES, flow({ access: 'password' }), { hub: { agentTokens: `kitchen=${KITCHEN}` } });
    assert.ok(logged(helper.log().ERROR).some((m) => /dashboard not started: access "password": set a dashboard password/.test(m)));
  });

  it('can be switched off', async () => {
    await helper.load(NODES, flow({ dashboard: false }), creds());
    assert.equal((await http('/')).status, 404);
    assert.equal((await http('/api/events')).status, 404);
    assert.equal((await http('/login', { form: { password: PASSWORD } })).status, 404);
    // Without a dashboard no cookie is a way in.
    assert.equal((await http('/api/agents', { headers: { Authorization: `Bearer ${HUB}` } })).status, 200);
  });
});
