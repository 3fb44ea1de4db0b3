// The transports in-process against small real servers on loopback: the dead-connection watchdog
// (against a hung server, and against the real Hub with a heartbeat longer than the watchdog), and
// messages that do not follow the protocol.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import express from 'express';
import { WebSocketServer, type WebSocket } from 'ws';
import { addApiRoutes } from '../../nodes/dms3-server/api';
import { Tokens } from '../../nodes/dms3-server/auth';
import { Hub } from '../../nodes/dms3-server/hub';
import type { StateMessage } from '../../lib/protocol';
import type { Logger } from '../../agent/log';
import { WebSocketTransport } from '../../agent/transport/websocket';
import { health } from '../support/agent';
import { until } from '../support/agent-process';

function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const add = (level: string) => (msg: string) => void lines.push(`${level} ${msg}`);
  return { lines, error: add('ERROR'), warn: add('WARN'), info: add('INFO'), debug: add('DEBUG') };
}

async function wsServer(onConnection: (ws: WebSocket) => void, opts: { autoPong?: boolean } = {}): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  const server: Server = createServer();
  const wss = new WebSocketServer({ server, autoPong: opts.autoPong ?? true });
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
  it('drops a connection that goes silent (no pings, no pongs, no messages) and reconnects', async (t) => {
    // This server never pings nor answers pings: a hub that hung, or a half-open TCP connection.
    const srv = await wsServer((ws) => ws.send(JSON.stringify(state(1))), { autoPong: false });
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

  it('summarises a flood of bad messages: the first few logged, the rest in one line (a hostile hub cannot flood the log)', async (t) => {
    const srv = await wsServer((ws) => {
      for (let i = 0; i < 2000; i++) ws.send(`garbage ${i}`);
      ws.send(JSON.stringify(state(3)));
    });
    t.after(() => srv.close());
    const log = memoryLog();
    const tr = new WebSocketTransport({ url: srv.url, token: 'secret', maxBackoffMs: 1000, log });
    const got: StateMessage[] = [];
    tr.on('state', (m) => got.push(m));
    tr.connect();
    await until(() => got.length > 0, 15_000, 'the valid state after the flood');
    await tr.close();
    const warnings = log.lines.filter((l) => l.startsWith('WARN'));
    assert.equal(warnings.filter((l) => l.startsWith('WARN ignored')).length, 3, warnings.join('\n'));
    assert.equal(warnings.length, 4, warnings.join('\n'));
    assert.match(warnings[3], /^WARN 2,000 bad messages from the hub in the last 60 s \(1,997 not logged one by one; last: ignored a message from the hub: .*\)/);
  });

  it('keeps a connection to the real Hub whose heartbeat is longer than the watchdog (the agent pings)', async (t) => {
    const app = express();
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const quiet = { info: () => {}, warn: () => {}, error: () => {} };
    const hub = new Hub({ base: '/dms3', httpRoot: '/', heartbeatMs: 60_000, tokens: new Tokens('hub-token-0123456789abcdef', new Map()), log: quiet });
    addApiRoutes(hub);
    hub.start(server, app);
    t.after(async () => {
      await hub.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    const { port } = server.address() as AddressInfo;
    const tr = new WebSocketTransport({ url: `ws://127.0.0.1:${port}/dms3/agent`, token: 'hub-token-0123456789abcdef', maxBackoffMs: 1000, log: memoryLog(), deadAfterMs: 1500 });
    t.after(() => tr.close());
    let downs = 0;
    tr.on('down', () => downs++);
    tr.on('up', () => tr.send({ v: 1, type: 'hello', name: 'quiet-hub', health: health() }));
    tr.connect();
    await until(() => hub.registry.get('quiet-hub')?.connected, 15_000, 'registered');
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(downs, 0);
    assert.equal(hub.registry.get('quiet-hub')?.connected, true);
  });
});
