// A byte-for-byte stream forwarder, run inside a network namespace by tests:
//   node ns-proxy.js LISTEN TARGET     where each is unix:/path or tcp:HOST:PORT
// Unix socket paths are shared across namespaces, so the test process can reach a service inside
// the test LAN (or offer one to it) without touching the machine's own interfaces.
import { connect, createServer } from 'node:net';
import { rmSync } from 'node:fs';

type Endpoint = { path: string } | { host: string; port: number };

function endpoint(spec: string): Endpoint {
  if (spec.startsWith('unix:')) return { path: spec.slice(5) };
  const m = /^tcp:(.+):(\d+)$/.exec(spec);
  if (!m) throw new Error(`bad endpoint ${JSON.stringify(spec)}: expected unix:/path or tcp:HOST:PORT`);
  return { host: m[1], port: Number(m[2]) };
}

export function forward(listen: string, target: string, onReady: () => void = () => undefined) {
  const from = endpoint(listen);
  const to = endpoint(target);
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ ...to, allowHalfOpen: true });
    // pipe() passes each side's end on after the data before it, so nothing written is lost when a
    // server answers and closes at once (e.g. 413 while the client is still sending).
    client.pipe(upstream).pipe(client);
    upstream.on('error', () => client.end()); // flush what came, then close; pipe() unpipes on error
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => setTimeout(() => client.destroy(), 1000).unref());
  });
  if ('path' in from) {
    rmSync(from.path, { force: true });
    server.listen(from.path, onReady);
  } else server.listen(from.port, from.host, onReady);
  return server;
}

if (require.main === module) {
  const [listen, target] = process.argv.slice(2);
  forward(listen, target, () => console.log('ready'));
}
