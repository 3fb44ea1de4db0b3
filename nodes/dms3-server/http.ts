// Small HTTP helpers for the hub's routes, on plain node:http objects (Express passes the same ones).
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
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

/** How deeply a JSON body may nest (objects and arrays); the hub's own bodies need 3. */
export const MAX_JSON_DEPTH = 32;

/**
 * Reads the whole body up to `limit` bytes (413 beyond). The hub reads its own bodies: no body parser
 * runs before it (see front.ts).
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) throw new HttpError(413, `body too large: ${declared} bytes (limit ${limit})`);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new HttpError(413, `body too large: over ${limit} bytes`);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, 'the request body was cut off');
  }
  return Buffer.concat(chunks);
}

/** The deepest nesting of objects and arrays in JSON text (brackets inside strings do not count). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const text = (await readBody(req, limit)).toString('utf8');
  if (jsonDepth(text) > MAX_JSON_DEPTH) throw new HttpError(400, `body nests too deeply (limit ${MAX_JSON_DEPTH} levels)`);
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
}

/**
 * The path and query of a request target, the path with repeated slashes collapsed and backslashes
 * escaped (so `new URL(target, base)` cannot throw or change host); null when the target is not a path.
 * Never throws, whatever the request line held.
 */
export function requestTarget(url: string | undefined): { path: string; search: string } | null {
  let u = url ?? '/';
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(u); // absolute-form: GET http://host/path
  if (absolute) u = u.slice(absolute[0].length) || '/';
  const hash = u.indexOf('#');
  if (hash >= 0) u = u.slice(0, hash);
  if (!u.startsWith('/')) return null; // "*" (OPTIONS), authority-form (CONNECT)
  const q = u.indexOf('?');
  const path = (q < 0 ? u : u.slice(0, q)).replace(/\\/g, '%5C').replace(/\/{2,}/g, '/');
  return { path, search: q < 0 ? '' : u.slice(q) };
}

/** Whether `path` is `base` or below it. */
export function isUnder(path: string, base: string): boolean {
  return path === base || path.startsWith(base.endsWith('/') ? base : `${base}/`);
}

/** Refuses a WebSocket upgrade with a plain HTTP response, before any WebSocket exists. */
export function refuseUpgrade(socket: Duplex, status: number, reason: string, extraHeaders: string[] = []): void {
  const text = JSON.stringify({ error: reason });
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(text)}`,
    ...(status === 401 ? ['WWW-Authenticate: Bearer'] : []),
    ...extraHeaders,
  ];
  socket.once('finish', () => socket.destroy());
  socket.on('error', () => socket.destroy()); // the peer went away first: nothing to tell it
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
