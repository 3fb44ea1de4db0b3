// `npm run screenshots`: the dashboard of a small house, photographed by Chromium for the README
// (docs/images/dashboard-desktop.png, dashboard-phone.png). A real Node-RED with the hub and five
// protocol agents as processes; two of them stop reporting so that the picture shows every colour.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Health } from '../../lib/protocol';
import { AgentProcess } from '../support/protocol-agent-process';
import { launchChromium, localPage, signIn } from '../support/browser';
import { startNodeRed } from '../support/node-red-embedded';

const TOKEN = 'screenshot-hub-token-0123456789abcdef';
const PASSWORD = 'correct horse battery staple';
const out = join(__dirname, '..', '..', '..', 'docs', 'images');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const pi = (extra: Partial<Health>): Partial<Health> => ({ osRelease: 'Raspbian GNU/Linux 12 (bookworm)', arch: 'arm64', kernel: '6.6.51+rpt-rpi-v8', agentVersion: '0.1.0', ...extra });
const agents: { name: string; health: Partial<Health> }[] = [
  { name: 'front-door', health: pi({ hostname: 'pi-front', uptime: 1_209_600, events: 128 }) },
  { name: 'garage', health: pi({ hostname: 'pi-garage', uptime: 386_000, events: 41 }) },
  { name: 'garden', health: pi({ hostname: 'pi-garden', uptime: 93_000, events: 312, osRelease: 'Raspbian GNU/Linux 11 (bullseye)', arch: 'arm', kernel: '6.1.21-v7+' }) },
  { name: 'hallway', health: pi({ hostname: 'pi-hallway', uptime: 5_400, events: 3 }) },
  { name: 'living-room', health: pi({ hostname: 'pi-living', uptime: 604_800, events: 57 }) },
];

async function main(): Promise<void> {
  const presence = { home: false, source: 'lan', devices: [{ name: "Alice's phone", present: false }, { name: "Bob's phone", present: false }] };
  const nr = await startNodeRed({
    flows: [
      { id: 'tab', type: 'tab', label: 'DMS3' },
      { id: 'hub', type: 'dms3-server', name: 'Home server', base: '/dms3', heartbeat: 10, title: 'DMS3 · Home', access: 'password', warning: 20, danger: 40 },
      { id: 'state', type: 'dms3-state', z: 'tab', startup: 'start', server: 'hub', x: 400, y: 100, wires: [[]] },
      { id: 'presence', type: 'inject', z: 'tab', x: 150, y: 100, props: [{ p: 'payload' }, { p: 'topic', vt: 'str' }], topic: 'presence', payload: JSON.stringify(presence), payloadType: 'json', wires: [['state']] },
    ],
    credentials: { hub: { token: TOKEN, password: PASSWORD } },
  });
  const procs = agents.map((a) => new AgentProcess({ url: `${nr.url.replace('http', 'ws')}/dms3/agent`, token: TOKEN, name: a.name, intervalMs: 5000, health: a.health }));
  const browser = await launchChromium();
  try {
    await fetch(`${nr.adminUrl}/inject/presence`, { method: 'POST', signal: AbortSignal.timeout(5000) });
    // The garage goes quiet first (red by the time of the picture), the garden later (yellow).
    await sleep(3000);
    await procs[1].kill();
    await sleep(24_000);
    await procs[2].kill();
    await sleep(22_000);
    mkdirSync(out, { recursive: true });
    for (const [file, viewport] of [
      ['dashboard-desktop.png', { width: 1280, height: 800 }],
      ['dashboard-phone.png', { width: 390, height: 844 }],
    ] as const) {
      const context = await browser.newContext({ viewport, deviceScaleFactor: file.includes('phone') ? 2 : 1, colorScheme: (process.env.DMS3_SCHEME as 'dark' | 'light') ?? 'light' });
      const { page, blocked } = await localPage(context);
      await signIn(page, `${nr.url}/dms3/`, PASSWORD);
      await page.waitForSelector('[data-health="danger"]');
      await page.screenshot({ path: join(out, file) });
      if (blocked.length) throw new Error(`the page asked for outside resources: ${blocked.join(', ')}`);
      await context.close();
      console.log(`wrote ${join(out, file)}`);
    }
  } finally {
    await browser.close();
    await Promise.all(procs.map((p) => p.kill()));
    await nr.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
