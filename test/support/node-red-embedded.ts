// A real Node-RED (embedded, as settings.js would run it) on 127.0.0.1 and an ephemeral port, with
// this package installed in its userDir the way npm would. One per process: Node-RED is a singleton.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';

const packageRoot = join(__dirname, '..', '..', '..');

export interface NodeRed {
  RED: any;
  server: Server;
  url: string; // http://127.0.0.1:PORT
  adminUrl: string; // url + httpAdminRoot
  nodeUrl: string; // url + httpNodeRoot
  /** Deploys a full flow set through the admin API, as the editor does. */
  deploy(flows: unknown[], credentials?: Record<string, Record<string, string>>): Promise<void>;
  stop(): Promise<void>;
}

export async function startNodeRed(opts: { flows: unknown[]; credentials?: Record<string, Record<string, string>>; httpNodeRoot?: string; logLevel?: string; settings?: Record<string, unknown> }): Promise<NodeRed> {
  // node-red ships no types (and @types/node-red describes 1.x): an untyped require is honest here.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RED = require('node-red');
  const userDir = mkdtempSync(join(tmpdir(), 'dms3-nr-'));
  mkdirSync(join(userDir, 'node_modules'));
  symlinkSync(packageRoot, join(userDir, 'node_modules', 'node-red-contrib-dms3'), 'dir');
  writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'dms3-test-userdir', dependencies: { 'node-red-contrib-dms3': '*' } }));
  writeFileSync(join(userDir, 'flows.json'), JSON.stringify(opts.flows));
  // With credentialSecret false Node-RED keeps credentials in plain JSON, which the test writes itself.
  writeFileSync(join(userDir, 'flows_cred.json'), JSON.stringify(opts.credentials ?? {}));

  const httpNodeRoot = opts.httpNodeRoot ?? '/';
  const app = express();
  const server = createServer(app);
  RED.init(server, {
    userDir,
    flowFile: 'flows.json',
    credentialSecret: false,
    httpAdminRoot: '/admin',
    httpNodeRoot,
    logging: { console: { level: opts.logLevel ?? 'warn', metrics: false, audit: false } },
    editorTheme: { tours: false },
    externalModules: { autoInstall: false },
    telemetry: { enabled: false },
    ...opts.settings,
  });
  app.use('/admin', RED.httpAdmin);
  app.use(httpNodeRoot, RED.httpNode);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const started = new Promise<void>((r) => RED.events.once('flows:started', () => r()));
  await RED.start();
  await started;
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const adminUrl = `${url}/admin`;

  return {
    RED,
    server,
    url,
    adminUrl,
    nodeUrl: `${url}${httpNodeRoot.replace(/\/$/, '')}`,
    async deploy(flows, credentials) {
      // The admin API takes credentials inline on each node, as the editor sends them.
      const body = flows.map((n: any) => (credentials?.[n.id] ? { ...n, credentials: credentials[n.id] } : n));
      const restarted = new Promise<void>((r) => RED.events.once('flows:started', () => r()));
      const res = await fetch(`${adminUrl}/flows`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      if (res.status !== 204 && res.status !== 200) throw new Error(`deploy answered ${res.status}: ${await res.text()}`);
      await restarted;
    },
    async stop() {
      await RED.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      rmSync(userDir, { recursive: true, force: true });
    },
  };
}
