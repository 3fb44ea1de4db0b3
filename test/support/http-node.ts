// node-red-node-test-helper gives nodes an Express app (RED.httpNode) that its own server does not
// serve. Pass `captureHttpNode` first in helper.load's node list (after helper.startServer()), and the
// helper's server routes every request to the app the nodes registered their routes on.
import { helper } from './red';

let current: any = null;
const bridged = new WeakSet<object>();

export function captureHttpNode(RED: any): void {
  current = RED.httpNode;
  const app = (helper as any)._app;
  if (app && !bridged.has(app)) {
    bridged.add(app);
    app.use((req: any, res: any, next: any) => (current ? current(req, res, next) : next()));
  }
}

/** The RED.httpNode app of the last load (to inspect its router stack). */
export function httpNode(): any {
  return current;
}
