// A small IP camera for tests: MJPEG over HTTP (multipart/x-mixed-replace of JPEG frames), the
// format Motion reads with `netcam_url`. A still scene by default; `setMoving(true)` makes a
// bright square sweep across it, which Motion detects as movement.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encode } from 'jpeg-js';

export interface MjpegCamera {
  /** URL of the stream, e.g. http://127.0.0.1:PORT/stream.mjpg */
  url: string;
  /** URL of a single JPEG frame. */
  snapshotUrl: string;
  port: number;
  setMoving(moving: boolean): void;
  /** Frames sent so far (over all clients) and clients connected now. */
  readonly framesSent: number;
  readonly clients: number;
  close(): Promise<void>;
}

export interface MjpegCameraOptions {
  width?: number;
  height?: number;
  fps?: number;
  host?: string;
  port?: number;
  /** Listen on this Unix socket instead (reach it from a namespace through an ns-proxy). */
  path?: string;
}

const BOUNDARY = 'dms3frame';

export async function startMjpegCamera(opts: MjpegCameraOptions = {}): Promise<MjpegCamera> {
  const width = opts.width ?? 320;
  const height = opts.height ?? 240;
  const fps = opts.fps ?? 10;
  const square = Math.round(Math.min(width, height) / 4);
  let moving = false;
  let position = 0;
  let framesSent = 0;
  const clients = new Set<ServerResponse>();

  // A fixed scene: a dim gradient with a few darker blocks, so the picture is not flat.
  const scene = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const block = ((x >> 5) + (y >> 5)) % 3 === 0 ? 20 : 0;
      scene[i] = 40 + ((x * 40) / width) - block;
      scene[i + 1] = 50 + ((y * 40) / height) - block;
      scene[i + 2] = 60 - block;
      scene[i + 3] = 255;
    }
  }
  const still = encode({ data: scene, width, height }, 80).data;

  function movingFrame(): Buffer {
    const data = Buffer.from(scene);
    const span = width - square;
    const x0 = Math.abs((position % (2 * span)) - span); // back and forth
    const y0 = Math.round((height - square) / 2);
    for (let y = y0; y < y0 + square; y++) {
      for (let x = x0; x < x0 + square; x++) {
        const i = (y * width + x) * 4;
        data[i] = 250;
        data[i + 1] = 250;
        data[i + 2] = 250;
      }
    }
    position += Math.max(4, Math.round(width / 20));
    return encode({ data, width, height }, 80).data;
  }

  const timer = setInterval(() => {
    if (clients.size === 0) return;
    const jpeg = moving ? movingFrame() : still;
    const head = Buffer.from(`--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`);
    for (const res of clients) {
      res.write(head);
      res.write(jpeg);
      res.write('\r\n');
      framesSent++;
    }
  }, Math.round(1000 / fps));

  const server = createServer((req, res) => {
    if (req.url === '/stream.mjpg') {
      res.writeHead(200, {
        'Content-Type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`,
        'Cache-Control': 'no-cache',
        Connection: 'close',
      });
      clients.add(res);
      res.on('close', () => clients.delete(res));
    } else if (req.url === '/snapshot.jpg') {
      const jpeg = moving ? movingFrame() : still;
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': jpeg.length });
      res.end(jpeg);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (opts.path) server.listen(opts.path, resolve);
    else server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve);
  });
  const { address, port } = opts.path ? { address: 'localhost', port: 0 } : (server.address() as AddressInfo);
  const base = `http://${address}${port ? `:${port}` : ''}`;

  return {
    url: `${base}/stream.mjpg`,
    snapshotUrl: `${base}/snapshot.jpg`,
    port,
    setMoving(m: boolean) {
      moving = m;
    },
    get framesSent() {
      return framesSent;
    },
    get clients() {
      return clients.size;
    },
    async close() {
      clearInterval(timer);
      for (const res of clients) res.destroy();
      clients.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
