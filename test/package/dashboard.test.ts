// The dashboard in a real Node-RED with the package installed: editor fields and messages, pages under
// httpNodeRoot with a cookie scoped to it, the dashboard password as a credential set through the
// admin API, and live streams that end on a redeploy and come back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNodeRed, type NodeRed } from '../support/node-red-embedded';
import { SseClient } from '../support/sse';

const TOKEN = 'package-test-token-0123456789';
const flows = (hub: Record<string, unknown> = {}) => [
  { id: 'tab1', type: 'tab', label: 'DMS3' },
  { id: 'hub1', type: 'dms3-server', name: '', base: '/dms3', heartbeat: 10, ...hub },
  { id: 'state1', type: 'dms3-state', z: 'tab1', name: '', startup: 'start', server: 'hub1', x: 300, y: 100, wires: [[]] },
];

describe('dashboard in a real Node-RED', () => {
  let nr: NodeRed;
  before(async () => {
    nr = await startNodeRed({ flows: flows(), credentials: { hub1: { token: TOKEN, password: 'first password' } }, httpNodeRoot: '/nr' });
  });
  after(() => nr?.stop());

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${nr.url}/nr/dms3${path}`, { headers, redirect: 'manual', signal: AbortSignal.timeout(5000) });
  const signIn = (password: string) =>
    fetch(`${nr.url}/nr/dms3/login`, { method: 'POST', body: new URLSearchParams({ password }), redirect: 'manual', signal: AbortSignal.timeout(5000) });

  it('offers the dashboard options in the hub editor, with messages', async () => {
    const html = await (await fetch(`${nr.adminUrl}/nodes`, { headers: { Accept: 'text/html' }, signal: AbortSignal.timeout(5000) })).text();
    for (const field of ['dashboard', 'title', 'access', 'password', 'sort', 'serverFirst', 'warning', 'danger', 'missing', 'onMissing', 'stylesheet', 'template']) {
      assert.ok(html.includes(`id="node-config-input-${field}"`), field);
    }
    const messages = await (await fetch(`${nr.adminUrl}/locales/node-red-contrib-dms3/dms3-server?lng=en-US`, { signal: AbortSignal.timeout(5000) })).json();
    assert.equal(messages['dms3-server'].label.dashboardSection, 'Dashboard');
    assert.ok(messages['dms3-server'].access['node-red']);
  });

  it('serves the page under httpNodeRoot, with the session cookie scoped to it', async () => {
    assert.equal((await get('/')).headers.get('location'), 'login');
    const form = await get('/login');
    assert.equal(form.status, 200);
    assert.match(await form.text(), /Dashboard password or hub token/);
    const res = await signIn('first password');
    assert.equal(res.status, 303);
    const cookie = res.headers.get('set-cookie')!;
    assert.match(cookie, /Path=\/nr\/dms3;/);
    const page = await get('/', { Cookie: cookie.split(';')[0] });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<ul id="cards"/);
    for (const asset of ['app.js', 'style.css', 'icon.svg']) assert.equal((await get(`/assets/${asset}`)).status, 200, asset);
  });

  it('ends live streams on a redeploy; a new password signs everybody out', async () => {
    const cookie = (await signIn('first password')).headers.get('set-cookie')!.split(';')[0];
    const stream = await SseClient.open(`${nr.url}/nr/dms3/api/events`, { Cookie: cookie });
    assert.equal(stream.status, 200);
    await stream.next((e) => e.event === 'snapshot');
    // Same secrets: the redeployed hub still knows the cookie.
    await nr.deploy(flows({ title: 'Redeployed' }), { hub1: { token: TOKEN, password: 'first password' } });
    await stream.until(() => stream.ended, 10_000, 'stream end');
    const again = await SseClient.open(`${nr.url}/nr/dms3/api/events`, { Cookie: cookie });
    assert.equal(again.status, 200);
    await again.next((e) => e.event === 'snapshot');
    again.close();
    assert.match(await (await get('/', { Cookie: cookie })).text(), /<title>Redeployed<\/title>/);

    await nr.deploy(flows(), { hub1: { token: TOKEN, password: 'second password' } });
    assert.equal((await get('/api/view', { Cookie: cookie })).status, 401);
    assert.equal((await signIn('first password')).status, 401);
    assert.equal((await signIn('second password')).status, 303);
  });
});
