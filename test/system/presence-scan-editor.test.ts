// The dms3-presence-scan editor in a real Node-RED (child process on 127.0.0.1) and real Chromium:
// the device list edits, flags bad and randomised MACs, and invalid settings mark the node invalid.
// The flow's interface does not exist, so the deployed node never probes a real network.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { requireSystem } from '../support/system';

const ROOT = join(__dirname, '../../..');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

const FLOW = [
  { id: 't1', type: 'tab', label: 'test' },
  { id: 'p1', type: 'dms3-presence-scan', z: 't1', name: '', iface: 'dps-none0', range: '', ipv6: false, interval: 10, grace: 300, devices: [{ name: 'Anna', macs: ['a4:5e:60:12:34:56'] }], x: 200, y: 100, wires: [[]] },
];

describe('dms3-presence-scan editor', () => {
  let red: ChildProcess | undefined;
  let browser: Browser | undefined;
  let dir: string | undefined;

  after(async () => {
    await browser?.close();
    if (red && red.exitCode === null) {
      const exited = new Promise((r) => red!.once('exit', r));
      red.kill('SIGTERM');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('edits the device list, flags bad and randomised MACs, and refuses invalid settings', async (t) => {
    if (!requireSystem(t, { commands: ['chromium'] })) return;
    dir = mkdtempSync(join(tmpdir(), 'dps-editor-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'node-red-contrib-dms3'));
    const port = await freePort();
    writeFileSync(join(dir, 'settings.js'), `module.exports = { uiHost: '127.0.0.1', uiPort: ${port}, flowFile: 'flows.json', editorTheme: { tours: false }, telemetry: { enabled: false }, logging: { console: { level: 'warn' } } };\n`);
    writeFileSync(join(dir, 'flows.json'), JSON.stringify(FLOW));
    let log = '';
    red = spawn(process.execPath, [require.resolve('node-red/red.js'), '-u', dir, '-s', join(dir, 'settings.js')], { stdio: 'pipe' });
    red.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    red.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const base = `http://127.0.0.1:${port}`;
    const ready = async () => {
      for (let i = 0; i < 300; i++) {
        try {
          const res = await fetch(`${base}/flows`, { signal: AbortSignal.timeout(2000) });
          if (res.ok) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`node-red did not start:\n${log}`);
    };
    await ready();

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page: Page = await browser.newPage();
    await page.route('**/*', (route) => (route.request().url().startsWith(base) ? route.continue() : route.abort()));
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(base);
    await page.waitForFunction(() => (window as any).RED?.nodes?.node('p1'), undefined, { timeout: 60_000 });
    const valid = () => page.evaluate(() => (window as any).RED.nodes.node('p1').valid as boolean);
    assert.equal(await valid(), true);

    await page.evaluate(() => (window as any).RED.editor.edit((window as any).RED.nodes.node('p1')));
    const rows = page.locator('#node-input-devices-container .red-ui-editableList-item-content');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.nth(0).locator('.dms3-name').inputValue(), 'Anna');
    assert.equal(await rows.nth(0).locator('.dms3-macs').inputValue(), 'a4:5e:60:12:34:56');

    // A second phone with a bad MAC: flagged in the row, and the node is invalid after Done.
    await page.locator('.red-ui-editableList-addButton').first().click();
    await rows.nth(1).locator('.dms3-name').fill('Ben');
    await rows.nth(1).locator('.dms3-macs').fill('a4:5e:60:12:34:zz');
    assert.equal(await rows.nth(1).locator('.dms3-hint').textContent(), 'Not a MAC address: a4:5e:60:12:34:zz');
    assert.equal(await rows.nth(1).locator('.dms3-macs').evaluate((e) => e.classList.contains('input-error')), true);
    await page.locator('#node-dialog-ok').click();
    await page.locator('#node-input-devices-container').waitFor({ state: 'detached' });
    assert.equal(await valid(), false);

    // Fixed, with a second, randomised address: a warning, valid again, saved as lists of MACs.
    await page.evaluate(() => (window as any).RED.editor.edit((window as any).RED.nodes.node('p1')));
    await rows.nth(1).waitFor();
    await rows.nth(1).locator('.dms3-macs').fill('a4-5e-60-12-34-57, DA:A1:19:00:00:01');
    assert.match((await rows.nth(1).locator('.dms3-hint').textContent()) ?? '', /^DA:A1:19:00:00:01 is a private \(randomised\) Wi-Fi address/);
    await page.locator('#node-input-interval').fill('0');
    await page.locator('#node-dialog-ok').click();
    await page.locator('#node-input-devices-container').waitFor({ state: 'detached' });
    assert.equal(await valid(), false, 'interval 0 is refused');
    await page.evaluate(() => (window as any).RED.editor.edit((window as any).RED.nodes.node('p1')));
    await rows.nth(1).waitFor();
    await page.locator('#node-input-interval').fill('15');
    await page.locator('#node-input-range').fill('10.213.0.0/16');
    await page.locator('#node-dialog-ok').click();
    await page.locator('#node-input-devices-container').waitFor({ state: 'detached' });
    assert.equal(await valid(), false, 'a /16 range is refused');
    await page.evaluate(() => (window as any).RED.editor.edit((window as any).RED.nodes.node('p1')));
    await rows.nth(1).waitFor();
    await page.locator('#node-input-range').fill('10.213.0.0/24');
    await page.locator('#node-dialog-ok').click();
    await page.locator('#node-input-devices-container').waitFor({ state: 'detached' });
    assert.equal(await valid(), true);
    const saved = await page.evaluate(() => {
      const n = (window as any).RED.nodes.node('p1');
      return { devices: n.devices, interval: n.interval, range: n.range };
    });
    assert.deepEqual(saved, {
      devices: [
        { name: 'Anna', macs: ['a4:5e:60:12:34:56'] },
        { name: 'Ben', macs: ['a4-5e-60-12-34-57', 'DA:A1:19:00:00:01'] },
      ],
      interval: '15',
      range: '10.213.0.0/24',
    });
    assert.deepEqual(pageErrors, []);
  });
});
