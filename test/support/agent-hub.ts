// A small hub for agent tests that speaks lib/protocol.ts the way the dms3-server config node does:
// WebSocket at <base>/agent with a Bearer token (401 before the upgrade), hello → state at once,
// a new state pushed on each decision, ws pings; and the polling API <base>/api/state and
// <base>/api/report. Every agent message is validated with parseAgentMessage and recorded.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Reason, Surveillance } from '../../lib/policy';
import { AGENT_PATH, MAX_MESSAGE_BYTES, parseAgentMessage, type AgentMessage, type StateMessage } from '../../lib/protocol';

export interface TestHubOptions {
  token: string;
  state?: Surveillance;
  reason?: Reason;
  base?: string; // default /dms3
  port?: number; // reuse a port (a "restarted" hub)
  pingMs?: number;
}

export interface Received {
  at: number;
  via: 'ws' | 'poll';
  msg: AgentMessage;
}

export interface TestHub {
  port: number;
  wsUrl: string;
  httpUrl: string; // the polling base, e.g. http://127.0.0.1:PORT/dms3
  received: Received[];
  /** Upgrade or API requests refused with 401. */
  refused: number;
  /** WebSocket connections accepted so far. */
  connections: number;
  /** Messages the agent sent that failed validation (must stay empty). */
  invalid: string[];
  readonly seq: number;
  setState(state: Surveillance, reason?: Reason): StateMessage;
  of<T extends AgentMessage['type']>(type: T): Extract<AgentMessage, { type: T }>[];
  close(): Promise<void>;
}

function defaultReason(state: Surveillance): Reason {
  return state === 'start' ? 'nobody-home' : 'someone-home';
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function authorized(req: IncomingMessage, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  return m !== null && timingSafeEqual(digest(m[1]), digest(token));
}

export async function startTestHub(opts: TestHubOptions): Promise<TestHub> {
  const base = opts.base ?? '/dms3';
  const first = opts.state ?? 'stop';
  let current: StateMessage = { v: 1, type: 'state', seq: 1, state: first, reason: opts.reason ?? defaultReason(first), since: new Date().toISOString() };
  const received: Received[] = [];
  const invalid: string[] = [];
  const sockets = new Set<Socket>();
  const clients = new Set<WebSocket>();
  let refused = 0;
  let connections = 0;

  const record = (raw: string, via: Received['via']): boolean => {
    try {
      received.push({ at: Date.now(), via, msg: parseAgentMessage(raw) });
      return true;
    } catch (err) {
      invalid.push(`${(err as Error).message}: ${raw.slice(0, 300)}`);
      return false;
    }
  };

  const server: Server = createServer((req, res) => {
    if (!req.url?.startsWith(`${base}/api/`)) return void res.writeHead(404).end();
    if (!authorized(req, opts.token)) {
      refused++;
      return void res.writeHead(401, { 'Content-Type': 'text/plain' }).end('unauthorized');
    }
    if (req.method === 'GET' && req.url === `${base}/api/state`) {
      const { seq, state, reason, since } = current;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ state, reason, since, override: 'auto', seq }));
    } else if (req.method === 'POST' && req.url === `${base}/api/report`) {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_MESSAGE_BYTES) chunks.push(c);
      });
      req.on('end', () => {
        if (size > MAX_MESSAGE_BYTES) return void res.writeHead(413).end('too large');
        const ok = record(Buffer.concat(chunks).toString(), 'poll');
        res.writeHead(ok ? 204 : 400).end();
      });
    } else {
      res.writeHead(405).end();
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  server.on('upgrade', (req, socket, head) => {
    if (req.url !== base + AGENT_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    if (!authorized(req, opts.token)) {
      refused++;
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      connections++;
      let greeted = false;
      ws.on('message', (data: Buffer) => {
        const raw = data.toString();
        if (!record(raw, 'ws')) return void ws.close(1008, 'invalid message');
        // The hub answers the first hello at once with the current state.
        if (!greeted && received[received.length - 1].msg.type === 'hello') {
          greeted = true;
          clients.add(ws);
          ws.send(JSON.stringify(current));
        }
      });
      ws.on('close', () => clients.delete(ws));
    });
  });

  const pinger = setInterval(() => {
    for (const ws of clients) ws.ping();
  }, opts.pingMs ?? 10_000);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    wsUrl: `ws://127.0.0.1:${port}${base}${AGENT_PATH}`,
    httpUrl: `http://127.0.0.1:${port}${base}`,
    received,
    invalid,
    get refused() {
      return refused;
    },
    get connections() {
      return connections;
    },
    get seq() {
      return current.seq;
    },
    setState(state, reason = defaultReason(state)) {
      current = { v: 1, type: 'state', seq: current.seq + 1, state, reason, since: new Date().toISOString() };
      for (const ws of clients) ws.send(JSON.stringify(current));
      return current;
    },
    of<T extends AgentMessage['type']>(type: T) {
      return received.filter((r) => r.msg.type === type).map((r) => r.msg as Extract<AgentMessage, { type: T }>);
    },
    async close() {
      clearInterval(pinger);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
