// A bounded hostile-input campaign against a real `node-red` process running the shipped flow: raw
// request lines, paths, methods, headers, bodies, upgrades and WebSocket frames (fast-check), with and
// without tokens, once with httpAdminRoot and httpNodeRoot both "/" and once with separate roots. After
// every batch Node-RED is alive, serves the state and the editor, and stays under RSS_LIMIT_MB; every
// refusal of the hub is JSON without a stack trace or a path, and repeated warnings are summarised.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import { health } from '../support/agent';
import { shippedFlow } from '../support/e2e-flow';
import { NodeRed } from '../support/node-red-process';

const root = join(__dirname, '..', '..', '..');
const TOKEN = 'hostile-test-token-0123456789abcdef';
/** Node-RED with the shipped flow idles near 90 MB here; the campaign must not take it past this. */
const RSS_LIMIT_MB = 300;
const LEAKS = [/\/work\//, /node_modules/, /\bat [\w.<>]+ \(/, /\n\s+at /, /\.js:\d+/];

interface Answer {
  status: number;
  headers: string;
  body: string;
}

/** One raw request on its own connection; resolves with what came back (status 0: nothing within timeoutMs). The default is long:
 * an answer that is owed must not be mistaken for none when the machine is loaded. */
function raw(port: number, request: Buffer, timeoutMs = 20_000): Promise<Answer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split < 0 ? text : text.slice(0, split);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      let body = split < 0 ? '' : text.slice(split + 4);
      if (/transfer-encoding: chunked/i.test(head)) body = dechunk(body);
      resolve({ status, headers: head, body });
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', () => undefined); // e.g. EPIPE once the hub refused a body and closed: 'close' follows
    // The head first, then the body: a refusal may come as soon as the head is read.
    const split = request.indexOf('\r\n\r\n');
    socket.write(request.subarray(0, split + 4));
    // A huge body is sent only if no answer came to its head (as with Expect: 100-continue): a refusal closes
    // the connection, and the reset of a body still being sent would lose the answer.
    const sendBody = () => socket.writable && chunks.length === 0 && socket.write(request.subarray(split + 4));
    if (split + 4 < request.length) {
      if (request.length - split < 1024 * 1024) setImmediate(sendBody);
      else socket.once('connect', () => setTimeout(sendBody, 500));
    }
  });
}

function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const line = rest.indexOf('\r\n');
    if (line < 0) return out;
    const size = parseInt(rest.slice(0, line), 16);
    if (!(size > 0)) return out;
    out += rest.slice(line + 2, line + 2 + size);
    rest = rest.slice(line + 4 + size);
  }
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** An answer of the hub: a refusal is short JSON with an error, and nothing leaks a stack or a path. */
function assertHubAnswer(a: Answer, what: string): void {
  for (const leak of LEAKS) assert.doesNotMatch(a.body, leak, `${what}: leaks ${leak} in ${a.body.slice(0, 300)}`);
  if (a.status === 0) return; // the connection was cut (e.g. an upgrade the hub took, then closed)
  if (a.status < 400) return;
  // Node's own HTTP layer, before any handler: a request line it cannot parse (400), an unknown Expect (417).
  if (a.body === '' && (a.status === 400 || a.status === 417) && !/content-type/i.test(a.headers)) return;
  assert.match(a.headers, /content-type: application\/json/i, `${what}: ${a.status} is not JSON: ${a.headers}\n${a.body.slice(0, 200)}`);
  if (/^HEAD /i.test(what.replace(/^.*?: /, ''))) return; // no body for HEAD
  let body: { error?: unknown };
  try {
    body = JSON.parse(a.body) as { error?: unknown };
  } catch {
    assert.fail(`${what}: ${a.status} body is not JSON: ${a.headers}\n${a.body.slice(0, 200)}`);
  }
  assert.equal(typeof body.error, 'string', `${what}: ${a.body}`);
  assert.ok((body.error as string).length < 300, `${what}: a short reason`);
}

const SEGMENTS = ['', 'api', 'state', 'report', 'agents', 'override', 'event', 'agent', 'assets', 'app.js', 'login', 'logout', 'view', 'events', '..', '.', '%', '%zz', '%00', '%2e%2e', '%2F', '\\', 'ünï', '😀', '?', '?token=x', '?a[b][c]=1', '#x', 'a'.repeat(3000)];
const segment = fc.oneof(fc.constantFrom(...SEGMENTS), fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 6 }));
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT', 'get', 'FOO', 'M-SEARCH'];
const auth = fc.constantFrom<string | null>(null, `Bearer ${TOKEN}`, 'Bearer wrong', 'Basic Zm9vOmJhcg==', `Bearer ${'x'.repeat(5000)}`, 'Bearer');
const contentType = fc.constantFrom<string | null>(null, 'application/json', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'image/jpeg', '*/*;;;');
const body = fc.oneof(
  fc.constant(''),
  fc.json({ maxDepth: 3 }),
  fc.integer({ min: 1, max: 20_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 1, max: 20_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
  fc.string({ maxLength: 200 }),
  fc.constant('{"mode":"stop"}'),
  fc.constant('password=x&token=y'),
);

function requestText(method: string, path: string, headers: [string, string][], payload: string): Buffer {
  const bytes = Buffer.from(payload, 'utf8');
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...headers.map(([k, v]) => `${k}: ${v}`)];
  if (payload !== '' && !headers.some(([k]) => /content-length|transfer-encoding/i.test(k))) lines.push(`Content-Length: ${bytes.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), bytes]);
}

function campaign(label: string, roots: { admin: string; node: string }) {
  describe(`hostile input against the shipped flow (${label})`, () => {
    const work = mkdtempSync(join(tmpdir(), 'dms3-hostile-'));
    const userDir = join(work, 'user');
    let red: NodeRed;
    const hub = `${roots.node === '/' ? '' : roots.node}/dms3`;
    const editor = roots.admin.endsWith('/') ? roots.admin : `${roots.admin}/`;

    const alive = async (what: string) => {
      assert.equal(red.child?.exitCode, null, `${what}: Node-RED exited:\n${red.log.slice(-2000)}`);
      assert.doesNotMatch(red.log, /Uncaught Exception|\[red\] Error/, what);
      const state = await raw(red.port, requestText('GET', `${hub}/api/state`, [['Authorization', `Bearer ${TOKEN}`]], ''));
      assert.equal(state.status, 200, `${what}: GET /api/state: ${state.status} ${state.body}`);
      const page = await raw(red.port, requestText('GET', editor, [], ''));
      assert.equal(page.status, 200, `${what}: the editor answers`);
      const rss = rssMb(red.child!.pid!);
      assert.ok(rss < RSS_LIMIT_MB, `${what}: Node-RED RSS ${rss.toFixed(0)} MB (limit ${RSS_LIMIT_MB})`);
      return rss;
    };

    before(async () => {
      mkdirSync(join(userDir, 'node_modules'), { recursive: true });
      symlinkSync(root, join(userDir, 'node_modules', 'node-red-contrib-dms3'), 'dir');
      writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true, dependencies: { 'node-red-contrib-dms3': '*' } }));
      red = new NodeRed({ userDir, env: { DMS3_TOKEN: TOKEN }, settings: { httpAdminRoot: roots.admin, httpNodeRoot: roots.node } });
      await red.start();
      // The shipped flow, kept off real networks: no interface to scan, no SMTP server to dial.
      const flow = shippedFlow().map((n) => ({
        ...n,
        ...(n.type === 'dms3-presence-scan' ? { iface: 'dms3-none0' } : {}),
        ...(n.type === 'dms3-smtp' ? { host: '127.0.0.1', port: 9 } : {}),
        // Short thresholds and heartbeat, so that a closed agent is "missing", hence forgotten, within the test.
        ...(n.type === 'dms3-server' ? { heartbeat: 1, warning: 1, danger: 2, missing: 3 } : {}),
      }));
      const res = await fetch(`${red.url}${editor}flows`, { method: 'POST', headers: { 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full' }, body: JSON.stringify(flow), signal: AbortSignal.timeout(15_000) });
      assert.equal(res.status, 204, await res.text());
      const until = Date.now() + 15_000;
      while (!red.log.includes('agents connect to')) {
        assert.ok(Date.now() < until, `the hub did not start:\n${red.log.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    });

    after(async () => {
      await red?.stop();
      rmSync(work, { recursive: true, force: true });
    });

    it('survives the known killers and answers them in JSON', async () => {
      // Each of these crashed Node-RED or answered with Node-RED's HTML or a stack trace.
      for (const path of ['//', '///', `${hub}//`, '//dms3/agent', `${hub}/%zz`, '/%']) {
        await raw(red.port, requestText('GET', path, [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Sec-WebSocket-Version', '13']], ''), 500);
      }
      await alive('upgrades with odd paths');
      const big = JSON.stringify({ mode: 'stop', pad: 'x'.repeat(10 * 1024 * 1024) });
      const huge = await raw(red.port, requestText('POST', `${hub}/api/override`, [['Authorization', `Bearer ${TOKEN}`], ['Content-Type', 'application/json']], big), 10_000);
      assert.equal(huge.status, 413, huge.body);
      assertHubAnswer(huge, '10 MB JSON');
      const nested = await raw(red.port, requestText('POST', `${hub}/api/override`, [['Authorization', `Bearer ${TOKEN}`], ['Content-Type', 'application/json']], '['.repeat(30_000) + ']'.repeat(30_000)));
      assert.equal(nested.status, 400, nested.body);
      assertHubAnswer(nested, 'nested JSON');
      const slashes = await raw(red.port, requestText('GET', `${hub}///`, [], ''));
      assert.ok(slashes.status < 500, `${hub}/// answered ${slashes.status}: ${slashes.body}`);
      assertHubAnswer(slashes, `${hub}///`);
      const missing = await raw(red.port, requestText('GET', `${hub}/no/such/route`, [], ''));
      assert.equal(missing.status, 404);
      assertHubAnswer(missing, 'unknown route');
      await alive('the known cases');
    });

    it('answers random requests under the hub in JSON, and keeps serving', async () => {
      const rsses: number[] = [];
      for (let batch = 0; batch < 4; batch++) {
        const samples = fc.sample(
          fc.record({
            method: fc.constantFrom(...METHODS),
            // Always under the hub: elsewhere Node-RED answers for itself.
            prefix: fc.constantFrom(`${hub}/`, `/${hub}/`, `${hub}//`, `${hub}/api/`, `${hub}/./`, `http://127.0.0.1${hub}/`),
            segments: fc.array(segment, { maxLength: 5 }),
            sep: fc.constantFrom('/', '//', '/./'),
            auth,
            contentType,
            body,
            extra: fc.array(fc.tuple(fc.constantFrom('Cookie', 'Origin', 'Sec-Fetch-Site', 'X-DMS3-Agent', 'Transfer-Encoding', 'Content-Length', 'Expect', 'X-Forwarded-For'), fc.string({ maxLength: 40 })), { maxLength: 3 }),
          }),
          { numRuns: 60, seed: 1000 + batch },
        );
        await Promise.all(
          samples.map(async (s, i) => {
            const path = `${s.prefix}${s.segments.join(s.sep)}`;
            const headers: [string, string][] = [];
            if (s.auth) headers.push(['Authorization', s.auth]);
            if (s.contentType) headers.push(['Content-Type', s.contentType]);
            for (const [k, v] of s.extra) headers.push([k, v.replace(/[\r\n]/g, '')]);
            const a = await raw(red.port, requestText(s.method, path, headers, s.body));
            assertHubAnswer(a, `batch ${batch} #${i}: ${s.method} ${JSON.stringify(path).slice(0, 200)}`);
          }),
        );
        rsses.push(await alive(`batch ${batch}`));
      }
      console.log(`${label}: Node-RED RSS after each batch of random requests: ${rsses.map((r) => r.toFixed(0)).join(', ')} MB`);
    });

    it('refuses odd upgrades and survives hostile frames before and after hello', async () => {
      const wsBase = `ws://127.0.0.1:${red.port}`;
      const upgrades = fc.sample(fc.record({ path: fc.constantFrom(`${hub}/agent`, `${hub}//agent`, `${hub}/agent/`, `${hub}/agent?x=%zz`, `${hub}/Agent`, `${hub}/`, `${hub}/api/state`), auth, version: fc.constantFrom('13', '8', 'x', '') }), { numRuns: 40, seed: 7 });
      await Promise.all(
        upgrades.map(async (u, i) => {
          const headers: [string, string][] = [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Sec-WebSocket-Version', u.version]];
          if (u.auth) headers.push(['Authorization', u.auth]);
          const a = await raw(red.port, requestText('GET', u.path, headers, ''), 1500);
          if (a.status !== 101) assertHubAnswer(a, `upgrade #${i} ${u.path}`);
        }),
      );
      const frames = fc.sample(
        fc.oneof(
          fc.string({ maxLength: 100 }),
          fc.json({ maxDepth: 4 }),
          fc.constant('['.repeat(30_000) + ']'.repeat(30_000)),
          fc.constant('x'.repeat(70_000)),
          fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
          fc.constant(JSON.stringify({ v: 1, type: 'health', health: health() })),
          fc.constant(JSON.stringify({ v: 2, type: 'hello', name: 'x', health: health() })),
          fc.constant(JSON.stringify({ v: 1, type: 'applied', seq: 1, state: 'start', ok: true, motion: 'running' })),
        ),
        { numRuns: 80, seed: 11 },
      );
      const send = (afterHello: boolean, frame: string | Buffer, name: string) =>
        new Promise<void>((resolve) => {
          const ws = new WebSocket(`${wsBase}${hub}/agent`, { headers: { Authorization: `Bearer ${TOKEN}` } });
          const timer = setTimeout(() => ws.terminate(), 3000);
          ws.on('open', () => {
            if (afterHello) ws.send(JSON.stringify({ v: 1, type: 'hello', name, health: health() }));
            ws.send(frame);
            ws.send(frame);
            if (!afterHello) ws.close();
            else setTimeout(() => ws.close(), 50);
          });
          ws.on('error', () => undefined);
          ws.on('close', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      await Promise.all(frames.map((f, i) => send(i % 2 === 1, f, `hostile-${i % 5}`)));
      await alive('hostile frames');
      // Wrong tokens, many times: the log holds a few lines and a summary, not one line each.
      await Promise.all(Array.from({ length: 200 }, () => raw(red.port, requestText('GET', `${hub}/agent`, [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Sec-WebSocket-Version', '13'], ['Authorization', 'Bearer wrong']], ''))));
      const refused = red.log.split('\n').filter((l) => l.includes('refused: missing or wrong token')).length;
      assert.ok(refused <= 10, `${refused} log lines for refused tokens: they must be summarised`);
      await alive('refused tokens');
    });

    if (roots.node === '/') {
      it('caps agent names through the hub token, forgets missing agents, and stays within its memory', async () => {
        const report = (name: string) =>
          raw(red.port, requestText('POST', `${hub}/api/report`, [['Authorization', `Bearer ${TOKEN}`], ['Content-Type', 'application/json']], JSON.stringify({ v: 1, type: 'hello', name, health: health() })));
        const list = async () => JSON.parse((await raw(red.port, requestText('GET', `${hub}/api/agents`, [['Authorization', `Bearer ${TOKEN}`]], ''))).body) as { name: string; connected: boolean }[];
        const before = (await list()).length;
        const answers: Answer[] = [];
        for (let i = 0; i < 400; i += 50) answers.push(...(await Promise.all(Array.from({ length: 50 }, (_, j) => report(`flood-${i + j}`)))));
        const accepted = answers.filter((a) => a.status === 200).length;
        const refused = answers.filter((a) => a.status === 429);
        assert.equal(accepted + refused.length, 400, answers.map((a) => a.status).join(','));
        assert.equal(before + accepted, 256, 'the shared token adds at most 256 names');
        assertHubAnswer(refused[0], '429');
        assert.match(refused[0].body, /too many agents on the shared hub token \(limit 256\)/);
        assert.equal((await report('flood-0')).status, 200, 'a known name still reports');
        await alive('after the flood');
        // An agent that closes its connection is forgotten once missing (3 s here): its place frees.
        const ws = new WebSocket(`ws://127.0.0.1:${red.port}${hub}/agent`, { headers: { Authorization: `Bearer ${TOKEN}` } });
        await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
        ws.send(JSON.stringify({ v: 1, type: 'hello', name: 'flood-1', health: health() }));
        await new Promise((resolve) => ws.once('message', resolve)); // the state: hello taken
        ws.close();
        const until = Date.now() + 20_000;
        while ((await list()).some((a) => a.name === 'flood-1')) {
          assert.ok(Date.now() < until, 'flood-1 was not forgotten');
          await new Promise((r) => setTimeout(r, 200));
        }
        assert.equal((await report('newcomer')).status, 200, 'the forgotten agent freed its place');
        // Other agents went missing too (the hostile ones above): fill up again, and the cap holds.
        let extra = 0;
        while ((await report(`refill-${extra}`)).status === 200) assert.ok(++extra <= 256, 'the cap holds');
        assert.equal((await list()).length, 256);
      });
    }
  });
}

// With httpNodeAuth, the hub's requests go through Express so that Node-RED's Basic auth stays in front;
// the admin body parser still leaves their bodies to the hub.
describe('hostile input with httpNodeAuth (both roots "/")', () => {
  const work = mkdtempSync(join(tmpdir(), 'dms3-hostile-auth-'));
  const userDir = join(work, 'user');
  const basic = `Basic ${Buffer.from('owner:pw').toString('base64')}`;
  let red: NodeRed;

  before(async () => {
    mkdirSync(join(userDir, 'node_modules'), { recursive: true });
    symlinkSync(root, join(userDir, 'node_modules', 'node-red-contrib-dms3'), 'dir');
    writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true, dependencies: { 'node-red-contrib-dms3': '*' } }));
    // bcrypt of "pw" (cost 4), as Node-RED's httpNodeAuth wants it.
    red = new NodeRed({ userDir, env: { DMS3_TOKEN: TOKEN }, settings: { httpNodeAuth: { user: 'owner', pass: '$2b$04$jr/dJ3PrwOI6tnShh2RGKe3MF6z0vR8oVZOQc8zYh0XmKajHqmBCi' } } });
    await red.start();
    const flow = shippedFlow().map((n) => ({
      ...n,
      ...(n.type === 'dms3-presence-scan' ? { iface: 'dms3-none0' } : {}),
      ...(n.type === 'dms3-smtp' ? { host: '127.0.0.1', port: 9 } : {}),
      ...(n.type === 'dms3-server' ? { access: 'node-red' } : {}),
    }));
    const res = await fetch(`${red.url}/flows`, { method: 'POST', headers: { 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full' }, body: JSON.stringify(flow), signal: AbortSignal.timeout(15_000) });
    assert.equal(res.status, 204, await res.text());
    const until = Date.now() + 15_000;
    while (!red.log.includes('agents connect to')) {
      assert.ok(Date.now() < until, `the hub did not start:\n${red.log.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  after(async () => {
    await red?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('keeps Node-RED\'s Basic auth in front, and the hub\'s own answers behind it', async () => {
    assert.equal((await raw(red.port, requestText('GET', '/dms3/', [], ''))).status, 401, 'Basic auth first');
    const page = await raw(red.port, requestText('GET', '/dms3/', [['Authorization', basic]], ''));
    assert.equal(page.status, 200, page.body.slice(0, 300));
    const big = JSON.stringify({ pad: 'x'.repeat(10 * 1024 * 1024) });
    const huge = await raw(red.port, requestText('POST', '/dms3/api/override', [['Authorization', basic], ['Content-Type', 'application/json']], big), 10_000);
    // The hub's own answer (the override needs the hub token, which Basic auth leaves no room for), not Node-RED's HTML 413.
    assert.equal(huge.status, 401, huge.body.slice(0, 300));
    assertHubAnswer(huge, '10 MB JSON behind Basic auth');
    for (const path of ['/dms3///', '/dms3/%zz', '/dms3/api/../api/state', '/dms3/nothing']) {
      const a = await raw(red.port, requestText('GET', path, [['Authorization', basic]], ''));
      assert.ok(a.status < 500, `${path}: ${a.status} ${a.body.slice(0, 300)}`);
      assertHubAnswer(a, path);
    }
    await raw(red.port, requestText('GET', '//', [['Upgrade', 'websocket'], ['Connection', 'Upgrade']], ''), 500);
    assert.equal(red.child?.exitCode, null);
    assert.equal((await raw(red.port, requestText('GET', '/dms3/api/view', [['Authorization', basic]], ''))).status, 200);
  });
});

campaign('admin and node roots both "/"', { admin: '/', node: '/' });
campaign('admin at /admin, nodes at /api-root', { admin: '/admin', node: '/api-root' });
