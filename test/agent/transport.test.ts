// The transports in-process against small real servers on loopback: the dead-connection watchdog,
// and messages that do not follow the protocol.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import type { StateMessage } from '../../lib/protocol';
import type { Logger } from '../../agent/log';
import { WebSocketTransport } from '../../agent/transport/websocket';
import { until } from '../support/agent-process';

function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const add = (level: string) => (msg: string) => void lines.push(`${level} ${msg}`);
  return { lines, error: add('ERROR'), warn: add('WARN'), info: add('INFO'), debug: add('DEBUG') };
}

async function wsServer(onConnection: (ws: WebSocket) => void): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  const server: Server = createServer();
  const wss = new WebSocketServer({ server });
  let n = 0;
  wss.on('connection', (ws) => {
    n++;
    onConnection(ws);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/dms3/agent`,
    connections: () => n,
    async close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const state = (seq: number): StateMessage => ({ v: 1, type: 'state', seq, state: 'start', reason: 'nobody-home', since: new Date().toISOString() });

describe('WebSocket transport', () => {
  it('drops a connection that goes silent (no pings, no messages) and reconnects', async (t) => {
    // This server never pings: a hub that hung, or a half-open TCP connection.
    const srv = await wsServer((ws) => ws.send(JSON.stringify(state(1))));
    t.after(() => srv.close());
    const log = memoryLog();
    const tr = new WebSocketTransport({ url: srv.url, token: 'secret', maxBackoffMs: 1000, log, deadAfterMs: 1500 });
    t.after(() => tr.close());
    const downs: string[] = [];
    tr.on('down', (why) => downs.push(why));
    tr.connect();
    await until(() => downs.length > 0, 15_000, 'the watchdog');
    assert.match(downs[0], /no traffic from the hub for 2 s/);
    await until(() => srv.connections() >= 2 && tr.connected, 15_000, 'a new connection');
  });

  it('keeps a connection that the hub pings', async (t) => {
    const timers: NodeJS.Timeout[] = [];
    const srv = await wsServer((ws) => timers.push(setInterval(() => ws.ping(), 300)));
    t.after(async () => {
      timers.forEach(clearInterval);
      await srv.close();
    });
    const tr = new WebSocketTransport({ url: srv.url, token: 'secret', maxBackoffMs: 1000, log: memoryLog(), deadAfterMs: 1500 });
    t.after(() => tr.close());
    let downs = 0;
    tr.on('down', () => downs++);
    tr.connect();
    await until(() => tr.connected, 15_000, 'connected');
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(downs, 0);
    assert.equal(srv.connections(), 1);
  });

  it('ignores messages that break the protocol and keeps going', async (t) => {
    const srv = await wsServer((ws) => {
      ws.send('not json');
      ws.send(JSON.stringify({ ...state(1), v: 2 }));
      ws.send(JSON.stringify({ ...state(1), state: 'explode' }));
      ws.send(JSON.stringify(state(7)));
    });
    t.after(() => srv.close());
    const log = memoryLog();
    const tr = new WebSocketTransport({ url: srv.url, token: 'secret', maxBackoffMs: 1000, log });
    t.after(() => tr.close());
    const got: StateMessage[] = [];
    tr.on('state', (m) => got.push(m));
    tr.connect();
    await until(() => got.length > 0, 15_000, 'the valid state');
    assert.deepEqual(got.map((m) => m.seq), [7]);
    const warnings = log.lines.filter((l) => l.startsWith('WARN ignored'));
    assert.equal(warnings.length, 3);
    assert.match(warnings[0], /not JSON/);
    assert.match(warnings[1], /protocol version 2; this side speaks 1/);
    assert.match(warnings[2], /malformed: \/state/);
    assert.equal(srv.connections(), 1);
  });
});
