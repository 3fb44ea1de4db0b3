// A real `node-red` process for packaging, flow and end-to-end tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface NodeRedOptions {
  userDir: string;
  port?: number;
  /** Directory holding node_modules/node-red (default: this repository's). */
  redDir?: string;
  /** Node binary (default: the one running the tests). */
  node?: string;
  env?: Record<string, string>;
  /** Extra settings.js properties (JSON-serialisable). */
  settings?: Record<string, unknown>;
  /** Wrap the command, e.g. ['ip', 'netns', 'exec', 'ns'] to run it in a namespace. */
  prefix?: string[];
  host?: string;
  /** Send request()/deploy() to this Unix socket (e.g. an ns-proxy into the namespace) instead of url. */
  socketPath?: string;
}

export interface HttpAnswer {
  status: number;
  text: string;
  json: () => any;
}

/** One HTTP request over a Unix socket (fetch cannot use one); fails after `timeoutMs`. */
export function unixRequest(socketPath: string, method: string, path: string, headers: Record<string, string>, body?: string | Buffer, timeoutMs = 15_000): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    // A fresh connection per request: a pooled one may be closed by the server while idle (keep-alive race).
    const req = httpRequest({ socketPath, method, path, agent: false, headers: { host: 'localhost', ...headers }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} over ${socketPath}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export class NodeRed {
  child: ChildProcess | null = null;
  log = '';
  port = 0;
  constructor(private readonly opts: NodeRedOptions) {}

  get url(): string {
    return `http://${this.opts.host ?? '127.0.0.1'}:${this.port}`;
  }

  async start(timeoutMs = 60_000): Promise<void> {
    this.log = '';
    this.port = this.port || this.opts.port || (await freePort());
    mkdirSync(this.opts.userDir, { recursive: true });
    const settings = {
      uiHost: this.opts.host ?? '127.0.0.1',
      uiPort: this.port,
      flowFile: 'flows.json',
      credentialSecret: 'dms3-test-secret',
      contextStorage: { default: { module: 'localfilesystem', config: { flushInterval: 1 } } },
      logging: { console: { level: 'info' } },
      ...this.opts.settings,
    };
    const settingsFile = join(this.opts.userDir, 'settings.js');
    writeFileSync(settingsFile, `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
    const redJs = join(this.opts.redDir ?? join(__dirname, '..', '..', '..'), 'node_modules', 'node-red', 'red.js');
    const argv = [this.opts.node ?? process.execPath, redJs, '--userDir', this.opts.userDir, '--settings', settingsFile];
    const [cmd, ...args] = [...(this.opts.prefix ?? []), ...argv];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.opts.env } });
    this.child = child;
    const started = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node-red did not start within ${timeoutMs} ms:\n${this.log.slice(-3000)}`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        this.log += chunk.toString();
        // Resolve once the HTTP server listens and the flows have started (Node-RED 5 may log these in either order).
        if (this.log.includes('Server now running') && this.log.includes('Started flows')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`node-red exited with ${code}:\n${this.log.slice(-3000)}`));
      });
    });
    await started;
  }

  /** Stop with SIGTERM (Node-RED closes nodes and flushes context), SIGKILL after 15 s. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
    this.child = null;
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    if (this.opts.socketPath) {
      const all = { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers };
      return unixRequest(this.opts.socketPath, method, path, all, body === undefined ? undefined : JSON.stringify(body));
    }
    const res = await fetch(this.url + path, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text) };
  }

  /** Deploy a whole flow through the admin API. */
  async deploy(flow: unknown[], timeoutMs = 15_000): Promise<void> {
    const mark = this.log.length;
    const res = await this.request('POST', '/flows', flow, { 'Node-RED-Deployment-Type': 'full' });
    if (res.status !== 204 && res.status !== 200) throw new Error(`deploy answered ${res.status}: ${res.text}`);
    const until = Date.now() + timeoutMs;
    while (!this.log.slice(mark).includes('Started flows')) {
      if (Date.now() > until) throw new Error(`flows did not start within ${timeoutMs} ms:\n${this.log.slice(mark)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
