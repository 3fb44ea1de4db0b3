// Takes the hub's requests off Node-RED's HTTP server before Express sees them. With httpAdminRoot and
// httpNodeRoot both "/" (the default), Node-RED's admin app sits in front of every HTTP-node route and
// its body parser (JSON up to 5 MB) would read the hub's bodies first, with Node-RED's HTML errors and
// limits. So the hub's paths go straight to the hub, which reads its own bodies; every other request
// goes on to Node-RED unchanged. One front per server, shared by every hub on it.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { isUnder, requestTarget } from './http';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;
/** Takes a request under its base path; `pass` hands it on to Node-RED's own listeners instead. */
export type FrontHandler = (req: IncomingMessage, res: ServerResponse, pass: () => void) => void;

interface Front {
  bases: Map<string, FrontHandler>;
  originals: Listener[];
  listener: Listener;
}

const fronts = new WeakMap<Server, Front>();

/** Marks a request as read, so that the body parsers Express runs on the way (body-parser checks `_body`) leave its body to the hub. */
export function keepBody(req: IncomingMessage): void {
  (req as IncomingMessage & { _body?: boolean })._body = true;
}

/** Sends requests under `base` (from the server's root) to `handler`. Returns the function that stops it. */
export function takeRequests(server: Server, base: string, handler: FrontHandler): () => void {
  let front = fronts.get(server);
  if (!front) {
    const originals = server.listeners('request') as Listener[];
    const bases = new Map<string, FrontHandler>();
    const listener: Listener = (req, res) => {
      const pass = () => {
        for (const l of originals) l.call(server, req, res);
      };
      const target = requestTarget(req.url);
      if (target) for (const [b, h] of bases) if (isUnder(target.path, b)) return h(req, res, pass);
      pass();
    };
    server.removeAllListeners('request');
    server.on('request', listener);
    front = { bases, originals, listener };
    fronts.set(server, front);
  }
  const f = front;
  f.bases.set(base, handler);
  return () => {
    if (f.bases.get(base) !== handler) return;
    f.bases.delete(base);
    if (f.bases.size > 0 || fronts.get(server) !== f) return;
    fronts.delete(server);
    server.off('request', f.listener);
    for (const l of f.originals) server.on('request', l);
  };
}
