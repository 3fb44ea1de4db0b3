// The dashboard in a real browser (Debian's Chromium, headless) against a real Node-RED with the hub and
// three real agents (`dms3-agent run` processes: two run a stand-in Motion process, one runs shell
// commands). Nothing but 127.0.0.1 is reachable from the page or the agents.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startAgent, tempDir, until, type AgentRun } from '../support/agent-process';
import { launchChromium, localPage, signIn } from '../support/browser';
import { startNodeRed, type NodeRed } from '../support/node-red-embedded';
import { agentSetup, type AgentSetup, type ApiAgent } from '../support/real-hub';
import { requireSystem } from '../support/system';

const TOKEN = 'system-test-hub-token-0123456789abcdef';
const PASSWORD = 'dashboard password for tests';
const WAIT = 30_000; // generous: a busy machine
const EVENTS = 7; // files in each agent's media_dir
const MODES = { kitchen: 'process', attic: 'process', garage: 'command' } as const;
type Name = keyof typeof MODES;

const flows = (hub: Record<string, unknown>) => [
  { id: 'tab', type: 'tab', label: 'DMS3' },
  { id: 'hub', type: 'dms3-server', name: 'Home server', base: '/dms3', heartbeat: 10, title: 'Test house', access: 'password', warning: 4, danger: 8, missing: 3600, ...hub },
  // A hub saved before the dashboard existed: none of its fields (for the editor check).
  { id: 'oldhub', type: 'dms3-server', name: 'old hub', base: '/old', heartbeat: 10 },
  { id: 'state', type: 'dms3-state', z: 'tab', startup: 'start', server: 'hub', x: 400, y: 100, wires: [[]] },
  {
    id: 'presence',
    type: 'inject',
    z: 'tab',
    x: 150,
    y: 100,
    props: [{ p: 'payload' }, { p: 'topic', vt: 'str' }],
    topic: 'presence',
    payload: JSON.stringify({ home: true, source: 'lan', devices: [{ name: "Alice's phone", present: true }, { name: "Bob's phone", present: false }] }),
    payloadType: 'json',
    wires: [['state']],
  },
];
const credentials = { hub: { token: TOKEN, password: PASSWORD }, oldhub: { token: `${TOKEN}-old` } };

const card = (page: Page, name: string) => page.locator(`#cards > li[data-id="agent:${name}"] article`);
const order = (page: Page) => page.$$eval('#cards > li', (els) => els.map((e) => (e as HTMLElement).dataset.id));

async function waitForOrder(page: Page, expected: string[]): Promise<void> {
  await page.waitForFunction((ids) => JSON.stringify(Array.from(document.querySelectorAll("#cards > li")).map((e) => (e as HTMLElement).dataset.id)) === JSON.stringify(ids), expected, { timeout: WAIT });
}

async function noHorizontalScroll(page: Page): Promise<void> {
  const { scrollWidth, clientWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth }));
  assert.ok(scrollWidth <= clientWidth, `page is ${scrollWidth} px wide in a ${clientWidth} px viewport`);
}

/** What every real agent here reports about this machine, read the way the agent reads it. */
function machine(): string[] {
  const pretty = /^PRETTY_NAME=(.*)$/m.exec(readFileSync('/etc/os-release', 'utf8'))![1].trim().replace(/^(["'])(.*)\1$/, '$2');
  const version = (JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  return [os.hostname(), pretty, `${os.platform()} ${os.arch()}`, `kernel ${os.release()}`, `agent ${version}`];
}

test('dashboard in Chromium against a real Node-RED with agents', { timeout: 300_000 }, async (t) => {
  if (!requireSystem(t, { commands: ['chromium'] })) return;
  let nr: NodeRed | null = null;
  let browser: Browser | null = null;
  const tmp = tempDir('dms3-dashboard-');
  const setups = new Map<Name, AgentSetup>();
  const agents = new Map<Name, AgentRun>();
  const start = (name: Name) => {
    const run = startAgent(['run', '--config', setups.get(name)!.config], { DMS3_TOKEN: TOKEN });
    agents.set(name, run);
    return run;
  };
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${nr!.url}/dms3/api/${path}`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200, `GET api/${path}`);
    return (await res.json()) as T;
  };
  /** Waits until every running agent has applied the hub's current state (per the hub) and logged it. */
  const agentsApplied = async (state: 'start' | 'stop') => {
    let last = '';
    await until(
      async () => {
        const hub = await api<{ state: string; seq: number }>('state');
        const list = await api<ApiAgent[]>('agents');
        last = JSON.stringify({ hub, agents: list.map((a) => ({ name: a.name, connected: a.connected, applied: a.applied, appliedSeq: a.appliedSeq, motion: a.motion })) });
        return hub.state === state && [...agents.keys()].every((n) => list.some((a) => a.name === n && a.connected && a.applied === state && a.appliedSeq === hub.seq));
      },
      WAIT,
      `every agent to apply ${state}`,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nlast seen: ${last}`);
    });
    for (const [name, run] of agents) {
      const applied = [...run.output().matchAll(/applied (start|stop): Motion (\w+)/g)].at(-1);
      assert.equal(applied?.[1], state, `${name} logged applying ${state}:\n${run.output()}`);
      assert.equal(applied[2], state === 'start' ? 'running' : 'stopped', `${name}'s Motion`);
    }
  };
  try {
    nr = await startNodeRed({ flows: flows({ sort: 'name', serverFirst: true }), credentials });
    const dashboardUrl = `${nr.url}/dms3/`;
    for (const name of Object.keys(MODES) as Name[]) {
      const media = join(tmp.dir, `media-${name}`);
      mkdirSync(media);
      for (let i = 0; i < EVENTS; i++) writeFileSync(join(media, `event-${i}.jpg`), '');
      setups.set(name, agentSetup(tmp.dir, { name, server: `${nr.url.replace('http', 'ws')}/dms3/agent`, mode: MODES[name], reportInterval: 1, extra: `media_dir: ${media}` }));
      start(name);
    }
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const { page, blocked } = await localPage(context);
    await signIn(page, dashboardUrl, PASSWORD);
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));

    await t.test('shows the server first, then the agents by name, all reporting', async () => {
      await waitForOrder(page, ['server', 'agent:attic', 'agent:garage', 'agent:kitchen']);
      for (const name of ['attic', 'garage', 'kitchen']) {
        await card(page, name).and(page.locator('[data-health="ok"]')).waitFor({ timeout: WAIT });
        const text = await card(page, name).innerText();
        for (const expected of [name, ...machine(), 'Reporting', 'connected (WebSocket)']) {
          assert.ok(text.includes(expected), `${name} card shows ${expected}:\n${text}`);
        }
        assert.match(text, new RegExp(`Events\\s+${EVENTS}\\b`), `${name} card counts the files in its media_dir:\n${text}`);
        assert.match(text, /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d/, 'last report in ISO 8601');
      }
      const server = await page.locator('#cards > li[data-id="server"] article').innerText();
      assert.match(server, /Home server/);
      assert.match(server, /3 \(3 connected\)/);
      await agentsApplied('start'); // dms3-state's startup state
      assert.equal(await page.title(), 'Test house');
      // Landmarks and the live region are there for screen readers.
      for (const selector of ['header', 'main', 'footer', '#announcer[aria-live="polite"]', '#banner[role="alert"]']) assert.equal(await page.locator(selector).count(), 1, selector);
    });

    await t.test('shows who is home and the state they caused; the agents follow', async () => {
      const res = await fetch(`${nr!.adminUrl}/inject/presence`, { method: 'POST', signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 200);
      const server = page.locator('#cards > li[data-id="server"] article');
      await server.getByText("Alice's phone").waitFor({ timeout: WAIT });
      const presence = await server.locator('.presence').innerText();
      assert.match(presence, /Alice's phone\s*home/);
      assert.match(presence, /Bob's phone\s*away/);
      await page.locator('#state').getByText('Disarmed').waitFor({ timeout: WAIT });
      assert.match(await page.locator('#state').innerText(), /someone home/);
      await agentsApplied('stop');
    });

    await t.test('a killed agent turns yellow, then red; back again it turns green without a reload', async () => {
      await agents.get('garage')!.stop('SIGKILL');
      const garage = card(page, 'garage');
      await garage.and(page.locator('[data-health="warning"]')).waitFor({ timeout: WAIT });
      assert.match(await garage.locator('.pill-health').innerText(), /Late/);
      await garage.and(page.locator('[data-health="danger"]')).waitFor({ timeout: WAIT });
      assert.match(await garage.locator('.pill-health').innerText(), /Not reporting/);
      assert.match(await garage.innerText(), /disconnected/);
      const colour = await garage.locator('.device-icon').evaluate((e) => getComputedStyle(e).color);
      start('garage');
      await garage.and(page.locator('[data-health="ok"]')).waitFor({ timeout: WAIT });
      assert.notEqual(await garage.locator('.device-icon').evaluate((e) => getComputedStyle(e).color), colour, 'the icon changes colour');
      assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true);
    });

    await t.test('the override buttons change the state, by mouse and keyboard, and every agent follows', async () => {
      const expectState = async (label: string, reason: string, state: 'start' | 'stop', mode: string) => {
        // The header changes as one: the state, its reason and the pressed button.
        await page.waitForFunction(
          ([l, r, m]) => {
            const text = document.getElementById('state')!.innerText;
            return text.split('\n')[0].trim() === l && text.includes(r) && document.querySelector(`#controls [data-mode="${m}"]`)!.getAttribute('aria-pressed') === 'true';
          },
          [label, reason, mode],
          { timeout: WAIT },
        );
        await agentsApplied(state);
        for (const name of agents.keys()) await card(page, name).locator('.facts').getByText(label, { exact: true }).waitFor({ timeout: WAIT });
      };
      await page.click('#controls [data-mode="start"]');
      await expectState('Armed', 'manual override', 'start', 'start');
      await page.focus('#controls [data-mode="stop"]');
      await page.keyboard.press('Enter');
      await expectState('Disarmed', 'manual override', 'stop', 'stop');
      await page.keyboard.press('Tab'); // to "Auto"
      await page.keyboard.press('Space');
      await expectState('Disarmed', 'someone home', 'stop', 'auto');
    });

    await t.test('fits a phone screen without horizontal scrolling', async () => {
      await noHorizontalScroll(page);
      const phone = await browser!.newContext({ viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true });
      const { page: small, blocked: smallBlocked } = await localPage(phone);
      await signIn(small, dashboardUrl, PASSWORD);
      await small.locator('#cards > li').nth(3).waitFor({ timeout: WAIT });
      await noHorizontalScroll(small);
      assert.equal(await small.locator('#controls').isVisible(), true);
      assert.deepEqual(smallBlocked, []);
      await phone.close();
    });

    await t.test("the hub's editor shows the dashboard defaults for an older hub, and flags a bad threshold", async () => {
      const editor = await browser!.newContext({ viewport: { width: 1400, height: 1000 } });
      const { page: ed } = await localPage(editor);
      await ed.goto(`${nr!.adminUrl}/`);
      await ed.waitForFunction(() => (window as unknown as { RED?: any }).RED?.nodes?.node('oldhub'), undefined, { timeout: WAIT });
      await ed.waitForSelector('#red-ui-workspace-chart', { timeout: WAIT });
      await ed.evaluate(() => (window as unknown as { RED: any }).RED.editor.editConfig('', 'dms3-server', 'oldhub'));
      await ed.locator('#node-config-input-danger').waitFor({ timeout: WAIT });
      const shown = await ed.evaluate(() => {
        const v = (id: string) => (document.getElementById(`node-config-input-${id}`) as HTMLInputElement);
        return { dashboard: v('dashboard').checked, access: v('access').value, serverFirst: v('serverFirst').checked, sort: v('sort').value, warning: v('warning').value, danger: v('danger').value, missing: v('missing').value, onMissing: v('onMissing').value };
      });
      assert.deepEqual(shown, { dashboard: true, access: 'password', serverFirst: true, sort: 'name', warning: '30', danger: '120', missing: '86400', onMissing: 'hide' });
      await ed.fill('#node-config-input-danger', '10');
      await ed.locator('#node-config-input-danger').blur();
      await ed.waitForFunction(() => document.getElementById('node-config-input-danger')!.classList.contains('input-error'), undefined, { timeout: WAIT });
      await editor.close();
    });

    await t.test('the options hold after a redeploy (arrival order, server last), and the page reconnects by itself', async () => {
      await page.evaluate(() => {
        const w = window as unknown as { bannerSeen: boolean };
        w.bannerSeen = false;
        const banner = document.getElementById('banner')!;
        new MutationObserver(() => {
          if (!banner.hidden) w.bannerSeen = true;
        }).observe(banner, { attributes: true });
      });
      await Promise.all([...agents.values()].map((a) => a.stop('SIGTERM')));
      await nr!.deploy(flows({ sort: 'arrival', serverFirst: false }), credentials);
      await page.waitForFunction(() => (window as unknown as { bannerSeen: boolean }).bannerSeen, undefined, { timeout: WAIT });
      const expected: string[] = [];
      for (const name of ['kitchen', 'attic', 'garage'] as const) {
        start(name);
        expected.push(`agent:${name}`);
        await waitForOrder(page, [...expected, 'server']);
      }
      assert.deepEqual(await order(page), ['agent:kitchen', 'agent:attic', 'agent:garage', 'server']);
      await page.locator('#banner').waitFor({ state: 'hidden', timeout: WAIT });
      assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, 'the same page, still signed in');
    });

    assert.deepEqual(blocked, [], 'the page needs nothing from outside');
  } finally {
    await browser?.close();
    await Promise.all([...agents.values()].map((a) => a.stop('SIGTERM', 10_000)));
    await nr?.stop();
    tmp.remove();
  }
});
