// The shipped server flow (flows/dms3-server.json) as a new user meets it: pasted into a fresh
// Node-RED's Import dialog in real Chromium, deployed with the Deploy button, and added through the
// admin API's POST /flow. With its defaults it must deploy cleanly and run safely: no phones → a
// status asking for them (and no scan), the state node in its fail-secure start-up state.
// Writes the README's docs/images/editor-flow.png and editor-presence.png.
// Safe to run anywhere: no phones means nothing goes on the network; no event means no mail.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import WebSocket from 'ws';
import { launchChromium, localPage } from '../support/browser';
import { NodeRed } from '../support/node-red-process';
import { requireSystem } from '../support/system';

const ROOT = join(__dirname, '..', '..', '..');
const IMAGES = join(ROOT, 'docs', 'images');
const TOKEN = 'editor-flow-token-0123456789abcdef';
const SHIPPED = JSON.parse(readFileSync(join(ROOT, 'flows', 'dms3-server.json'), 'utf8')) as FlowNode[];
const TAB = SHIPPED.find((n) => n.type === 'tab')!;
const ASK_FOR_PHONES = 'add the phones to look for (devices)';
// A full deploy logs "Started flows", POST /flow "Started modified flows".
const STARTED = /\[info\] Started (modified )?flows/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface FlowNode {
  id: string;
  type: string;
  z?: string;
  name?: string;
  [key: string]: unknown;
}

/** A time zone in which it is about noon now, so the default Always On window (23:30–05:00) is closed. */
function noonZone(): string {
  const offset = 12 - new Date().getUTCHours(); // local = UTC + offset, in -11..12
  return offset === 0 ? 'Etc/GMT' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
}

/** A fresh Node-RED user directory with this package linked in and an empty flow. */
function freshNodeRed(work: string, name: string): NodeRed {
  const userDir = join(work, name);
  mkdirSync(join(userDir, 'node_modules'), { recursive: true });
  symlinkSync(ROOT, join(userDir, 'node_modules', 'node-red-contrib-dms3'), 'dir');
  writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true, dependencies: { 'node-red-contrib-dms3': '*' } }));
  writeFileSync(join(userDir, 'flows.json'), '[]');
  return new NodeRed({
    userDir,
    env: { DMS3_TOKEN: TOKEN, TZ: noonZone() },
    settings: { editorTheme: { tours: false, projects: { enabled: false }, palette: { catalogues: [] } }, telemetry: { enabled: false }, diagnostics: { enabled: false } },
  });
}

async function untilLogged(red: NodeRed, mark: number, text: RegExp, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!text.test(red.log.slice(mark))) {
    if (Date.now() > until) throw new Error(`"${text}" not logged within ${timeoutMs} ms:\n${red.log.slice(mark)}`);
    await sleep(50);
  }
}

function errorLines(log: string): string[] {
  return log.split('\n').filter((l) => l.includes('[error]'));
}

/** The deployed flow (GET /flows), and a check that each shipped node is in it unchanged. */
async function assertDeployed(red: NodeRed, configsOnTab: boolean): Promise<FlowNode[]> {
  const res = await red.request('GET', '/flows');
  assert.equal(res.status, 200);
  const deployed = res.json() as FlowNode[];
  const tab = deployed.find((n) => n.type === 'tab' && n.label === TAB.label);
  assert.ok(tab, `the "${TAB.label}" tab is deployed`);
  for (const shipped of SHIPPED.filter((n) => n.type !== 'tab')) {
    const got = deployed.find((n) => n.id === shipped.id);
    assert.ok(got, `${shipped.type} ${shipped.id} is deployed`);
    assert.equal(got.type, shipped.type);
    const z: string | undefined = shipped.z ? tab.id : configsOnTab ? tab.id : undefined;
    assert.equal(got.z || undefined, z, `${shipped.id} sits on ${z ?? 'no tab (a global config node)'}`);
    for (const [key, value] of Object.entries(shipped)) {
      if (key === 'z' || key === 'id') continue;
      assert.deepEqual(got[key], value, `${shipped.id}.${key}`);
    }
  }
  return deployed;
}

async function assertStartupState(red: NodeRed): Promise<void> {
  const res = await red.request('GET', '/dms3/api/state', undefined, { authorization: `Bearer ${TOKEN}` });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual({ state: res.json().state, reason: res.json().reason }, { state: 'start', reason: 'startup' });
  const anon = await red.request('GET', '/dms3/api/state');
  assert.equal(anon.status, 401, 'the state is not public');
}

/** The status text the editor shows under a node in the workspace. */
async function statusText(page: Page, id: string, expected: RegExp): Promise<string> {
  const label = page.locator(`g[id="${id}"] .red-ui-flow-node-status-label`);
  let text = '';
  for (let i = 0; i < 300; i++) {
    text = (await label.textContent().catch(() => null)) ?? '';
    if (expected.test(text)) return text;
    await sleep(100);
  }
  return text;
}

/** Node statuses as the editor receives them: Node-RED's /comms socket keeps the latest per node. */
async function statuses(red: NodeRed): Promise<Map<string, string>> {
  const ws = new WebSocket(`${red.url.replace('http', 'ws')}/comms`);
  const seen = new Map<string, string>();
  ws.on('message', (data) => {
    for (const m of [JSON.parse(String(data))].flat() as { topic?: string; data?: { text?: string } }[]) {
      if (m.topic?.startsWith('status/')) seen.set(m.topic.slice('status/'.length), m.data?.text ?? '');
    }
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(JSON.stringify({ subscribe: 'status/#' }));
  await sleep(1000);
  ws.close();
  return seen;
}

describe('the shipped server flow in a fresh Node-RED', () => {
  const work = mkdtempSync(join(tmpdir(), 'dms3-editor-flow-'));
  const reds: NodeRed[] = [];
  let browser: Browser | undefined;

  after(async () => {
    await browser?.close();
    await Promise.all(reds.map((r) => r.stop()));
    rmSync(work, { recursive: true, force: true });
  });

  it('imports through the editor, deploys with no errors, and starts armed asking for the phones', async (t) => {
    if (!requireSystem(t, { commands: ['chromium'] })) return;
    const red = freshNodeRed(work, 'editor');
    reds.push(red);
    await red.start();
    assert.deepEqual((await red.request('GET', '/flows')).json(), [], 'the flow starts empty');

    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1400, height: 800 }, deviceScaleFactor: 1 });
    const { page, blocked } = await localPage(context);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(red.url);
    await page.waitForFunction(() => (window as any).RED?.nodes?.getType?.('dms3-presence-scan'), undefined, { timeout: 60_000 });
    await page.locator('#red-ui-header-button-deploy').waitFor();

    // Menu › Import, paste, Import.
    await page.locator('#red-ui-header-button-sidemenu').click();
    await page.locator('#menu-item-import').click();
    const text = page.locator('#red-ui-clipboard-dialog-import-text');
    await text.waitFor();
    await text.fill(readFileSync(join(ROOT, 'flows', 'dms3-server.json'), 'utf8'));
    await text.press('End'); // the dialog checks the JSON on keyup (or paste)
    await page.locator('#red-ui-clipboard-dialog-ok').click();
    await page.locator('#red-ui-clipboard-dialog-ok').waitFor({ state: 'hidden' });

    // Every node arrives as it was shipped, valid (no red triangle), with nothing left to configure first.
    const imported = await page.evaluate(() => {
      const RED = (window as any).RED;
      const out: { id: string; type: string; valid: boolean; z: string; changed: boolean }[] = [];
      RED.nodes.eachNode((n: any) => out.push({ id: n.id, type: n.type, valid: n.valid !== false, z: n.z, changed: !!n.changed }));
      RED.nodes.eachConfig((n: any) => out.push({ id: n.id, type: n.type, valid: n.valid !== false, z: n.z ?? '', changed: !!n.changed }));
      return { nodes: out };
    });
    for (const shipped of SHIPPED.filter((n) => n.type !== 'tab')) {
      assert.ok(imported.nodes.some((n) => n.id === shipped.id), `${shipped.type} ${shipped.id} imported with its id`);
    }
    assert.deepEqual(imported.nodes.filter((n) => !n.valid).map((n) => `${n.type} ${n.id}`), [], 'no node is invalid (red triangle)');
    assert.ok(imported.nodes.length > 0);
    // The new tab sits next to the empty "Flow 1": open it.
    await page.locator('#red-ui-workspace-tabs .red-ui-tab', { hasText: TAB.label as string }).click();
    assert.equal(await page.evaluate(() => (window as any).RED.workspaces.active()), TAB.id, 'the editor shows the imported tab');

    // Deploy, as a user does; the flow starts.
    const mark = red.log.length;
    await page.locator('#red-ui-header-button-deploy').click();
    await untilLogged(red, mark, STARTED);
    await page.waitForFunction(() => !(window as any).RED.nodes.dirty(), undefined, { timeout: 30_000 });
    await assertDeployed(red, false);
    await assertStartupState(red);

    // The statuses a new user sees: the presence node asks for phones, the state node holds start-up.
    assert.equal(await statusText(page, 'dms3pre0000001', /phones/), ASK_FOR_PHONES);
    assert.equal(await statusText(page, 'dms3sta0000001', /armed/), 'armed: waiting for presence (start-up state)');
    assert.match(await statusText(page, 'dms3aon0000001', /off/), /off/);
    assert.equal(await statusText(page, 'dms3dbg0000001', /start/), 'start');
    // No phones: the scanner never started, so nothing probed the network.
    assert.doesNotMatch(red.log.slice(mark), /arp-scan|arping|ping sweep|dms3-presence-scan.*(warn|error)/i);

    // The README's picture of the flow: the whole tab, sidebar hidden.
    await page.evaluate(() => (window as any).RED.menu.setSelected('menu-item-sidebar', false));
    await page.mouse.click(1300, 700); // deselect, away from any node
    // The "Imported" and "Successfully deployed" notes fade by themselves.
    await page.locator('.red-ui-notification').first().waitFor({ state: 'detached', timeout: 30_000 });
    await page.waitForFunction(() => document.querySelectorAll('.red-ui-notification').length === 0, undefined, { timeout: 30_000 });
    await sleep(500);
    mkdirSync(IMAGES, { recursive: true });
    await page.screenshot({ path: join(IMAGES, 'editor-flow.png') });

    // The presence node's dialog with one example phone: not deployed, just shown.
    await page.locator('g[id="dms3pre0000001"] .red-ui-flow-node').dblclick();
    const rows = page.locator('#node-input-devices-container .red-ui-editableList-item-content');
    await page.locator('#node-input-iface').waitFor();
    assert.equal(await rows.count(), 0, 'the shipped flow has no phones');
    await page.locator('.red-ui-editableList-addButton').first().click();
    await rows.nth(0).locator('.dms3-name').fill("Anna's phone");
    await rows.nth(0).locator('.dms3-macs').fill('a4:5e:60:12:34:56');
    await page.locator('#node-input-iface').fill('wlan0');
    await page.locator('#node-input-name').click(); // blur, so the row's checks run
    await sleep(500);
    assert.equal((await rows.nth(0).locator('.dms3-hint').textContent())?.trim() ?? '', '', 'a good MAC raises no hint');
    await page.screenshot({ path: join(IMAGES, 'editor-presence.png') });
    await page.locator('#node-dialog-cancel').click();

    assert.deepEqual(errorLines(red.log), []);
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(blocked, [], 'the editor (palette catalogues off) needs nothing but this Node-RED');
    await context.close();
  });

  it('adds the flow through POST /flow and deploys with no errors', async (t) => {
    if (!requireSystem(t, { commands: ['chromium'] })) return;
    const red = freshNodeRed(work, 'api');
    reds.push(red);
    await red.start();
    const mark = red.log.length;
    const body = {
      label: TAB.label,
      info: TAB.info,
      nodes: SHIPPED.filter((n) => n.z),
      configs: SHIPPED.filter((n) => n.type !== 'tab' && !n.z),
    };
    const res = await red.request('POST', '/flow', body);
    assert.equal(res.status, 200, res.text);
    assert.match(res.json().id, /^[0-9a-f]{16}$/);
    // POST /flow starts the new flow without logging it: wait for the hub's state instead.
    for (let i = 0; i < 300 && (await red.request('GET', '/dms3/api/state', undefined, { authorization: `Bearer ${TOKEN}` })).status !== 200; i++) await sleep(100);
    await assertDeployed(red, true);
    await assertStartupState(red);
    const status = await statuses(red);
    assert.equal(status.get('dms3pre0000001'), ASK_FOR_PHONES);
    assert.equal(status.get('dms3sta0000001'), 'armed: waiting for presence (start-up state)');
    assert.deepEqual(errorLines(red.log), []);
    assert.doesNotMatch(red.log.slice(mark), /arp-scan|arping|ping sweep/i);
  });
});
