// A hub that misbehaves on cue, for the agent's and the hook's bounds (test/agent/hostile-hub.test.ts).
// "good" answers as the real hub does (GET <base>/api/state, POST <base>/api/report, POST <base>/event);
// every other mode answers every request in one hostile way. Only loopback, port 0.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Surveillance } from '../../lib/policy';

export type HostileMode = 'good' | 'endless' | 'huge' | 'trickle' | 'garbage' | 'silent' | 'cut' | 'echo';
export const HOSTILE_MODES: HostileMode[] = ['endless', 'huge', 'trickle', 'garbage', 'silent', 'cut'];

export interface HostileHub {
  base: string; // http://127.0.0.1:PORT/dms3
  mode: HostileMode;
  /** Requests seen, by mode at the time and path. */
  requests: { mode: HostileMode; method: string; path: string }[];
  /** Report bodies taken in "good" mode (parsed JSON). */
  reports: Record<string, unknown>[];
  setState(state: Surveillance): number; // the new seq
  close(): Promise<void>;
}

const BASE = '/dms3';

export async function startHostileHub(first: Surveillance = 'start'): Promise<HostileHub> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let state = { state: first, seq: 1, reason: 'always-on', since: new Date().toISOString(), override: 'auto' };
  const hub: HostileHub = {
    base: '',
    mode: 'good',
    requests: [],
    reports: [],
    setState(s) {
      state = { ...state, state: s, seq: state.seq + 1, reason: s === 'start' ? 'always-on' : 'someone-home', since: new Date().toISOString() };
      return state.seq;
    },
    close: async () => {},
  };
  const every = (ms: number, fn: () => boolean) => {
    const t = setInterval(() => {
      if (!fn()) {
        clearInterval(t);
        timers.delete(t);
      }
    }, ms);
    timers.add(t);
  };

  const good = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === `${BASE}/api/state`) return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(state));
    if (req.method === 'POST' && path === `${BASE}/api/report`) {
      try {
        hub.reports.push(JSON.parse(body.toString()) as Record<string, unknown>);
      } catch {
        return void res.writeHead(400).end('{"error":"bad json"}');
      }
      return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(state));
    }
    if (req.method === 'POST' && path === `${BASE}/event`) return void res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"id":"e1"}');
    res.writeHead(404).end();
  };

  const hostile = (mode: HostileMode, req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const alive = () => !socket.destroyed;
    switch (mode) {
      case 'endless': // a valid 200, then JSON-looking bytes for ever
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{"state":"stop","seq":99,"x":"');
        return every(1, () => alive() && (res.writableLength > 1 << 20 || res.write(Buffer.alloc(64 * 1024, 0x61)), true));
      case 'huge': // declares 1 GB and sends it as fast as the agent takes it
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(1024 ** 3) });
        return every(1, () => alive() && (res.writableLength > 1 << 20 || res.write(Buffer.alloc(256 * 1024, 0x20)), true));
      case 'trickle': { // the status line and headers, one byte a second, never complete
        const head = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: ${'s'.repeat(200)}\r\n`);
        let i = 0;
        return every(1000, () => alive() && i < head.length && (socket.write(head.subarray(i, ++i)), true));
      }
      case 'garbage':
        socket.end(randomBytes(4096));
        return;
      case 'silent':
        return; // read the request, never answer, never close
      case 'cut': // headers of a 200 and half of its body, then the connection drops
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '200' });
        res.write('{"state":"stop","se');
        setImmediate(() => socket.destroy());
        return;
      case 'echo': // a 503 that quotes the request's Authorization header (the token) back
        res.writeHead(503, { 'Content-Type': 'text/plain' }).end(`unavailable; you sent ${req.headers.authorization ?? ''}`);
        return;
      case 'good':
        return;
    }
  };

  const server = createServer((req, res) => {
    const mode = hub.mode;
    hub.requests.push({ mode, method: req.method ?? '', path: (req.url ?? '').split('?')[0] });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.length < 1024 && chunks.push(c));
    req.on('end', () => (mode === 'good' ? good(req, res, Buffer.concat(chunks)) : hostile(mode, req, res)));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hub.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}${BASE}`;
  hub.close = async () => {
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return hub;
}

/** Resident set size of a process in bytes (Linux /proc). */
export async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}
