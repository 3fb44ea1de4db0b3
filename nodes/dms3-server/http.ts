// Small HTTP helpers for the hub's routes, on plain node:http objects (Express passes the same ones).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** A request refused with a status and a short reason for the client. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
  res.end(text);
}

/** Reads the whole body up to `limit` bytes (413 beyond). A body parser earlier in the chain may have read it already. */
export async function readBody(req: IncomingMessage & { body?: unknown }, limit: number): Promise<Buffer> {
  if (Buffer.isBuffer(req.body)) return req.body;
  if (typeof req.body === 'string') return Buffer.from(req.body);
  if (req.body !== undefined && req.readableEnded) return Buffer.from(JSON.stringify(req.body));
  const declared = Number(req.headers['content-length']);
  if (declared > limit) throw new HttpError(413, `body too large: ${declared} bytes (limit ${limit})`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `body too large: over ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBody(req, limit);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
}

/** Refuses a WebSocket upgrade with a plain HTTP response, before any WebSocket exists. */
export function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  const text = JSON.stringify({ error: reason });
  const head = [
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Bad Request'}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(text)}`,
    ...(status === 401 ? ['WWW-Authenticate: Bearer'] : []),
  ];
  socket.once('finish', () => socket.destroy());
  socket.end(`${head.join('\r\n')}\r\n\r\n${text}`);
}

/** The client's address, without the IPv4-mapped prefix. */
export function remoteAddress(req: IncomingMessage): string {
  return (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

/** Whether the browser says a request comes from a page of this site (Sec-Fetch-Site, else Origin against Host). */
export function sameSite(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin' || site === 'none';
  const origin = req.headers.origin;
  if (origin === undefined) return true; // not a browser's cross-site request: those carry an Origin
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
