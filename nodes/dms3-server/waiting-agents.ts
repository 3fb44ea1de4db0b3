// Agents that dial while Node-RED is starting. Node-RED's HTTP server listens before the flows (and
// so the hubs) have started, and it drops an upgrade nobody took only after 5 s (its
// inboundWebSocketTimeout): an agent that dialled in that gap heard the hub seconds late (the 6.5 s
// of round 1). Here such an upgrade waits for the hub that serves its path and is handed to it the
// moment it starts; after HOLD_MS (or beyond MAX_HELD waiting) it is answered 503, so the agent
// retries soon instead of hanging.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { AGENT_PATH } from '../../lib/protocol';
import { refuseUpgrade, requestTarget } from './http';

export const HOLD_MS = 4000; // below Node-RED's own 5 s
export const MAX_HELD = 256;

interface Held {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  timer: NodeJS.Timeout;
}

function unavailable(socket: Duplex): void {
  refuseUpgrade(socket, 503, 'the hub is starting; retry', ['Retry-After: 1']);
}

/** Untouched by anyone else (another upgrade listener may have taken it meanwhile). */
function untouched(socket: Duplex): boolean {
  return !socket.destroyed && (socket as Duplex & { bytesWritten?: number }).bytesWritten === 0;
}

export class WaitingAgents {
  private readonly serving = new Set<string>();
  private readonly held = new Map<string, Set<Held>>();
  private readonly handedOver = new WeakSet<IncomingMessage>();
  private count = 0;

  constructor(
    private readonly server: Server,
    private readonly limits = { holdMs: HOLD_MS, maxHeld: MAX_HELD },
  ) {
    server.on('upgrade', this.onUpgrade);
  }

  /** A hub serves agents at `path` from now on: those waiting for it are handed over. Returns the undo. */
  serve(path: string): () => void {
    this.serving.add(path);
    const waiting = this.held.get(path) ?? new Set<Held>();
    this.held.delete(path);
    for (const h of waiting) {
      this.drop(h);
      if (!untouched(h.socket)) continue;
      this.handedOver.add(h.req);
      this.server.emit('upgrade', h.req, h.socket, h.head); // now the hub's listener takes it
    }
    return () => this.serving.delete(path);
  }

  get waiting(): number {
    return this.count;
  }

  private drop(h: Held): void {
    clearTimeout(h.timer);
    this.count--;
  }

  // A listener on Node-RED's own server: whatever the request, it must never throw.
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    try {
      this.hold(req, socket, head);
    } catch {
      socket.destroy();
    }
  };

  private hold(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.handedOver.has(req)) return;
    const path = requestTarget(req.url)?.path;
    if (!path?.endsWith(AGENT_PATH) || this.serving.has(path)) return; // not an agent's, or a hub takes it
    if (this.count >= this.limits.maxHeld) return unavailable(socket);
    const set = this.held.get(path) ?? new Set<Held>();
    this.held.set(path, set);
    const h: Held = {
      req,
      socket,
      head,
      timer: setTimeout(() => {
        set.delete(h);
        this.drop(h);
        if (untouched(socket)) unavailable(socket);
      }, this.limits.holdMs),
    };
    set.add(h);
    this.count++;
    socket.once('close', () => {
      if (set.delete(h)) this.drop(h);
    });
  }
}

const byServer = new WeakMap<Server, WaitingAgents>();

/** The one WaitingAgents of an HTTP server (the node's module may be loaded more than once). */
export function waitingAgents(server: Server): WaitingAgents {
  let w = byServer.get(server);
  if (!w) byServer.set(server, (w = new WaitingAgents(server)));
  return w;
}
