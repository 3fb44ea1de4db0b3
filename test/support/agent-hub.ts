// A protocol test double of the hub, kept ONLY for what the real hub (dms3-server in Node-RED, see
// test/support/real-hub.ts, used by test/agent/ and test/integration/) cannot be made to do on cue:
// - forget an agent between two polls (a hub restart faster than the poll interval), answering its
//   next applied/notice with 409 as the real hub does;
// - cost nothing itself, so that bench/agent.ts times the agent alone.
// (A hub that goes silent or sends malformed messages: test/agent/transport.test.ts, its own servers.)
// It speaks lib/protocol.ts like dms3-server: WebSocket at <base>/agent with a Bearer token (401 before
// the upgrade), hello → state at once, a new state pushed on each decision; and the polling API
// <base>/api/state and <base>/api/report (agents named by hello or X-DMS3-Agent). Every agent message
// is validated with parseAgentMessage and recorded.
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
}

export interface Received {
  at: number;
  via: 'ws' | 'poll';
  msg: AgentMessage;
}

export interface TestHub {
  wsUrl: string;
  httpUrl: string; // the polling base, e.g. http://127.0.0.1:PORT/dms3
  received: Received[];
  /** Messages the agent sent that failed validation or named no agent (must stay empty). */
  invalid: string[];
  setState(state: Surveillance, reason?: Reason): StateMessage;
  /** Forgets every polling agent, as a restarted hub would. */
  forget(): void;
  of<T extends AgentMessage['type']>(type: T): Extract<AgentMessage, { type: T }>[];
  close(): Promise<void>;
}

const BASE = '/dms3';

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
  const first = opts.state ?? 'stop';
  let current: StateMessage = { v: 1, type: 'state', seq: 1, state: first, reason: opts.reason ?? defaultReason(first), since: new Date().toISOString() };
  const received: Received[] = [];
  const invalid: string[] = [];
  const known = new Set<string>(); // polling agents that said hello (or health)
  const sockets = new Set<Socket>();
  const clients = new Set<WebSocket>(); // said hello
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });

  const parse = (raw: string): AgentMessage | null => {
    try {
      return parseAgentMessage(raw);
    } catch (err) {
      invalid.push(`${(err as Error).message}: ${raw.slice(0, 300)}`);
      return null;
    }
  };

  /** POST /api/report as the real hub answers it: 400 unnamed, 409 unknown, else the state. */
  const report = (req: IncomingMessage, raw: string): number => {
    const msg = parse(raw);
    if (!msg) return 400;
    const header = req.headers['x-dms3-agent'];
    const name = msg.type === 'hello' ? msg.name : typeof header === 'string' ? header : null;
    if (name === null) {
      invalid.push(`${msg.type} without X-DMS3-Agent`);
      return 400;
    }
    if (msg.type === 'hello' || msg.type === 'health') known.add(name);
    else if (!known.has(name)) return 409;
    received.push({ at: Date.now(), via: 'poll', msg });
    return 200;
  };

  const server: Server = createServer((req, res) => {
    if (!authorized(req, opts.token)) return void res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":"missing or wrong token"}');
    const body = () => {
      const { seq, state, reason, since } = current;
      return JSON.stringify({ state, reason, since, override: 'auto', seq });
    };
    if (req.method === 'GET' && req.url === `${BASE}/api/state`) return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(body());
    if (req.method !== 'POST' || req.url !== `${BASE}/api/report`) return void res.writeHead(404).end();
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_MESSAGE_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_MESSAGE_BYTES) return void res.writeHead(413).end();
      const status = report(req, Buffer.concat(chunks).toString());
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(status === 200 ? body() : '{"error":"refused by the test hub"}');
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req, socket, head) => {
    if (req.url !== BASE + AGENT_PATH || !authorized(req, opts.token)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      let greeted = false;
      ws.on('message', (data: Buffer) => {
        const msg = parse(data.toString());
        if (!msg) return void ws.close(1008, 'invalid message');
        received.push({ at: Date.now(), via: 'ws', msg });
        // The hub answers the first hello at once with the current state.
        if (!greeted && msg.type === 'hello') {
          greeted = true;
          clients.add(ws);
          ws.send(JSON.stringify(current));
        }
      });
      ws.on('close', () => clients.delete(ws));
    });
  });
  // Pings keep the agent's dead-connection watchdog content, as the real hub's heartbeat does.
  const pinger = setInterval(() => {
    for (const ws of clients) ws.ping();
  }, 10_000);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;

  return {
    wsUrl: `ws://127.0.0.1:${port}${BASE}${AGENT_PATH}`,
    httpUrl: `http://127.0.0.1:${port}${BASE}`,
    received,
    invalid,
    setState(state, reason = defaultReason(state)) {
      current = { v: 1, type: 'state', seq: current.seq + 1, state, reason, since: new Date().toISOString() };
      for (const ws of clients) ws.send(JSON.stringify(current));
      return current;
    },
    forget() {
      known.clear();
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
