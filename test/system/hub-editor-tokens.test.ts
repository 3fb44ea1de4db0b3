// The hub node's editor in real Chromium against a real Node-RED: "Add agent" mints a Pi token shown
// once, Deploy makes it work for that agent only, the token is gone from the dialog when it is opened
// again, and the bin revokes it at the next deploy.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, localPage } from '../support/browser';
import { NodeRed } from '../support/node-red-process';
import { requireSystem } from '../support/system';

const ROOT = join(__dirname, '..', '..', '..');
const HUB_TOKEN = 'hub-editor-token-0123456789abcdef';

async function openHub(page: Page): Promise<void> {
  await page.evaluate(() => (window as any).RED.editor.editConfig('', 'dms3-server', 'hub1'));
  await page.locator('#node-config-dms3-new-name').waitFor();
}

async function doneAndDeploy(page: Page, red: NodeRed): Promise<void> {
  const mark = red.log.length;
  await page.locator('#node-config-dialog-ok').click();
  await page.locator('#node-config-dms3-new-name').waitFor({ state: 'detached' });
  await page.locator('#red-ui-header-button-deploy').click();
  await page.waitForFunction(() => !(window as any).RED.nodes.dirty(), undefined, { timeout: 30_000 });
  const until = Date.now() + 30_000;
  while (!/Started (modified )?flows/.test(red.log.slice(mark))) {
    if (Date.now() > until) throw new Error(`not deployed:\n${red.log.slice(mark)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the hub editor mints and revokes Pi tokens', () => {
  const work = mkdtempSync(join(tmpdir(), 'dms3-hub-editor-'));
  let browser: Browser | undefined;
  let red: NodeRed | undefined;
  after(async () => {
    await browser?.close();
    await red?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('Add agent shows a token once; deployed, it opens that agent only; the bin revokes it', async (t) => {
    if (!requireSystem(t, { commands: ['chromium'] })) return;
    const userDir = join(work, 'red');
    mkdirSync(join(userDir, 'node_modules'), { recursive: true });
    symlinkSync(ROOT, join(userDir, 'node_modules', 'node-red-contrib-dms3'), 'dir');
    writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true, dependencies: { 'node-red-contrib-dms3': '*' } }));
    writeFileSync(join(userDir, 'flows.json'), '[]');
    red = new NodeRed({ userDir, settings: { editorTheme: { tours: false, projects: { enabled: false }, palette: { catalogues: [] } }, telemetry: { enabled: false }, diagnostics: { enabled: false } } });
    await red.start();
    await red.deploy([
      { id: 'tab1', type: 'tab', label: 'Hub' },
      { id: 'hub1', type: 'dms3-server', name: 'Home hub', base: '/dms3', heartbeat: 10, credentials: { token: HUB_TOKEN } },
    ]);
    const state = (token: string) => red!.request('GET', '/dms3/api/state', undefined, { authorization: `Bearer ${token}` });

    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: red.url });
    const { page, blocked } = await localPage(context);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(red.url);
    await page.waitForFunction(() => (window as any).RED?.nodes?.node?.('hub1'), undefined, { timeout: 60_000 });

    await openHub(page);
    await page.locator('#node-config-dms3-agents', { hasText: 'No agent has its own token yet' }).waitFor();
    await page.fill('#node-config-dms3-new-name', 'bad name');
    await page.click('#node-config-dms3-add');
    await page.locator('.red-ui-notification', { hasText: 'without spaces or =' }).waitFor();
    await page.fill('#node-config-dms3-new-name', 'pi-kitchen');
    await page.click('#node-config-dms3-add');
    await page.locator('#node-config-dms3-minted').waitFor();
    const token = await page.inputValue('#node-config-dms3-minted-token');
    assert.match(token, /^[\w-]{32}$/);
    await page.locator('#node-config-dms3-agents li', { hasText: 'pi-kitchen' }).waitFor();
    await page.click('#node-config-dms3-copy');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token, 'Copy puts the token on the clipboard');
    await doneAndDeploy(page, red);

    assert.equal((await state(token)).status, 503, 'the new token opens the agents endpoint (no decision yet: 503, not 401)');
    assert.equal((await red.request('GET', '/dms3/api/agents', undefined, { authorization: `Bearer ${token}` })).status, 403);
    assert.ok(!(await red.request('GET', '/flows')).text.includes(token), 'the token is not in the flow');
    assert.ok(!(await red.request('GET', '/credentials/dms3-server/hub1')).text.includes(token), 'nor in what the editor reads back');

    // Opened again, the dialog lists the agent but shows no token.
    await openHub(page);
    await page.locator('#node-config-dms3-agents li', { hasText: 'pi-kitchen' }).waitFor();
    assert.equal(await page.locator('#node-config-dms3-minted').isVisible(), false);
    assert.ok(!(await page.content()).includes(token));
    await page.locator('#node-config-dms3-agents li', { hasText: 'pi-kitchen' }).locator('button').click();
    await page.locator('#node-config-dms3-agents', { hasText: 'No agent has its own token yet' }).waitFor();
    await doneAndDeploy(page, red);
    assert.equal((await state(token)).status, 401, 'revoked');
    assert.equal((await state(HUB_TOKEN)).status, 503, 'the hub token untouched');
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(blocked, []);
  });
});
