// Agents that dial while Node-RED starts (its HTTP server listens before the hubs exist): held and
// handed to the hub the moment it starts, answered 503 when none comes, bounded in number.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { waitingAgents, WaitingAgents } from '../../nodes/dms3-server/waiting-agents';

/** Opens a WebSocket; resolves with 'open' or the HTTP status it was refused with. */
function dial(url: string): Promise<{ ws: WebSocket; result: 'open' | number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve({ ws, result: 'open' }));
    ws.once('unexpected-response', (_req, res) => resolve({ ws, result: res.statusCode ?? 0 }));
    ws.once('error', reject);
  });
}

describe('waiting agents (upgrades before the hub starts)', () => {
  let server: Server;
  let url: string;
  before(async () => {
    server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });

  it('holds an agent that dials before its hub starts, and hands it over when the hub serves its path', async () => {
    const waiting = new WaitingAgents(server, { holdMs: 60_000, maxHeld: 10 });
    const early = dial(`${url}/dms3/agent`);
    while (waiting.waiting === 0) await new Promise((r) => setImmediate(r));
    // The hub starts: it takes upgrades for its path from now on (as Hub.start does), then serve().
    const wss = new WebSocketServer({ noServer: true });
    const hubListener = (req: any, socket: any, head: Buffer) => {
      if (new URL(req.url, 'http://x').pathname === '/dms3/agent') wss.handleUpgrade(req, socket, head, (ws) => ws.send('hello'));
    };
    server.on('upgrade', hubListener);
    const stop = waiting.serve('/dms3/agent');
    const { ws, result } = await early;
    assert.equal(result, 'open');
    assert.equal(waiting.waiting, 0);
    // A later agent goes straight to the hub (not held twice).
    const later = await dial(`${url}/dms3/agent`);
    assert.equal(later.result, 'open');
    assert.equal(waiting.waiting, 0);
    ws.terminate();
    later.ws.terminate();
    stop();
    server.off('upgrade', hubListener);
    server.off('upgrade', (waiting as any).onUpgrade);
    wss.close();
  });

  it('answers 503 when no hub comes in time, and at once beyond its bound; other paths are not its business', async () => {
    const waiting = new WaitingAgents(server, { holdMs: 300, maxHeld: 1 });
    const first = dial(`${url}/x/agent`);
    while (waiting.waiting === 0) await new Promise((r) => setImmediate(r));
    const second = await dial(`${url}/x/agent`);
    assert.equal(second.result, 503, 'beyond the bound: refused at once');
    assert.equal((await first).result, 503, 'no hub: refused after the hold');
    assert.equal(waiting.waiting, 0);
    // Not an agent path: left to whoever serves it (here a listener after ours sees it, not held).
    const seen = new Promise<number>((resolve) =>
      server.once('upgrade', (_req, socket) => {
        resolve(waiting.waiting);
        socket.destroy();
      }),
    );
    const other = new WebSocket(`${url}/comms`);
    other.on('error', () => undefined);
    assert.equal(await seen, 0);
    server.off('upgrade', (waiting as any).onUpgrade);
  });

  it('one per HTTP server, however often the node module is loaded', () => {
    const s = createServer();
    assert.equal(waitingAgents(s), waitingAgents(s));
    assert.equal(s.listenerCount('upgrade'), 1);
  });
});
