// `npm run screenshots`: the dashboard of a small house, photographed by Chromium for the README
// (docs/images/dashboard-desktop.png, dashboard-phone.png). A real Node-RED with the hub and five real
// agents (`dms3-agent run`, Motion in command mode); two of them are killed so that the picture shows
// every colour. As root each agent runs in its own UTS namespace with its own hostname, as a Pi would.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, tempDir, until } from '../support/agent-process';
import { launchChromium, localPage, signIn } from '../support/browser';
import { startNodeRed } from '../support/node-red-embedded';
import { agentSetup, type ApiAgent } from '../support/real-hub';
import { isRoot } from '../support/system';

const TOKEN = 'screenshot-hub-token-0123456789abcdef';
const PASSWORD = 'correct horse battery staple';
const out = join(__dirname, '..', '..', '..', 'docs', 'images');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// name → media files Motion "wrote"
const cameras: [string, number][] = [
  ['picam-front', 128],
  ['picam-garage', 41],
  ['picam-garden', 312],
  ['picam-hallway', 3],
  ['picam-porch', 57],
];

interface Camera {
  name: string;
  child: ChildProcess;
  output: string;
  exited: Promise<void>;
}

function startCamera(name: string, config: string): Camera {
  const agent = [process.execPath, CLI, 'run', '--config', config];
  // unshare execs sh, sh execs node: the child's pid is the agent's.
  const [cmd, ...args] = isRoot() ? ['unshare', '--uts', '--', 'sh', '-c', 'hostname "$1" && shift && exec "$@"', 'sh', name, ...agent] : agent;
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DMS3_TOKEN: TOKEN, JOURNAL_STREAM: undefined } });
  const cam: Camera = { name, child, output: '', exited: new Promise((r) => child.once('exit', () => r())) };
  child.stdout!.on('data', (d: Buffer) => (cam.output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (cam.output += d.toString()));
  return cam;
}

async function stopCamera(cam: Camera, signal: NodeJS.Signals): Promise<void> {
  if (cam.child.exitCode === null && cam.child.signalCode === null) cam.child.kill(signal);
  await cam.exited;
}

async function main(): Promise<void> {
  const presence = { home: false, source: 'lan', devices: [{ name: "Alice's phone", present: false }, { name: "Bob's phone", present: false }] };
  const tmp = tempDir('dms3-screenshots-');
  const nr = await startNodeRed({
    flows: [
      { id: 'tab', type: 'tab', label: 'DMS3' },
      { id: 'hub', type: 'dms3-server', name: 'Home server', base: '/dms3', heartbeat: 10, title: 'DMS3 · Home', access: 'password', warning: 20, danger: 40 },
      { id: 'state', type: 'dms3-state', z: 'tab', startup: 'start', server: 'hub', x: 400, y: 100, wires: [[]] },
      { id: 'presence', type: 'inject', z: 'tab', x: 150, y: 100, props: [{ p: 'payload' }, { p: 'topic', vt: 'str' }], topic: 'presence', payload: JSON.stringify(presence), payloadType: 'json', wires: [['state']] },
    ],
    credentials: { hub: { token: TOKEN, password: PASSWORD } },
  });
  const cams = cameras.map(([name, events]) => {
    const media = join(tmp.dir, `media-${name}`);
    mkdirSync(media);
    for (let i = 0; i < events; i++) writeFileSync(join(media, `event-${i}.jpg`), '');
    const setup = agentSetup(tmp.dir, { name, server: `${nr.url.replace('http', 'ws')}/dms3/agent`, mode: 'command', reportInterval: 5, extra: `media_dir: ${media}` });
    return startCamera(name, setup.config);
  });
  const browser = await launchChromium();
  try {
    await fetch(`${nr.adminUrl}/inject/presence`, { method: 'POST', signal: AbortSignal.timeout(5000) });
    await until(
      async () => {
        const res = await fetch(`${nr.url}/dms3/api/agents`, { headers: { authorization: `Bearer ${TOKEN}` } });
        const list = (await res.json()) as ApiAgent[];
        return list.length === cams.length && list.every((a) => a.connected && a.applied === 'start' && a.motion === 'running');
      },
      30_000,
      'every camera connected and armed',
    );
    // The garage goes quiet first (red by the time of the picture), the garden later (yellow).
    await stopCamera(cams[1], 'SIGKILL');
    await sleep(24_000);
    await stopCamera(cams[2], 'SIGKILL');
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
      await page.waitForSelector('[data-health="warning"]');
      await page.screenshot({ path: join(out, file) });
      if (blocked.length) throw new Error(`the page asked for outside resources: ${blocked.join(', ')}`);
      await context.close();
      console.log(`wrote ${join(out, file)}`);
    }
  } catch (err) {
    for (const cam of cams) console.error(`--- ${cam.name} ---\n${cam.output}`);
    throw err;
  } finally {
    await browser.close();
    await Promise.all(cams.map((c) => stopCamera(c, 'SIGTERM')));
    await nr.stop();
    tmp.remove();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
