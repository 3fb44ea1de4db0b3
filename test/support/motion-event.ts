// Motion events for tests and benchmarks: real JPEG pictures (jpeg-js) in the dms3-event message shape.
import { encode } from 'jpeg-js';
import type { MotionEvent } from '../../lib/event';

/**
 * A camera-like 8-bit scene: night sky, lawn, a fence, and a figure whose position moves with `t`
 * (0–1). Deterministic for a given size and t.
 */
export function sceneJpeg(width = 640, height = 480, t = 0.5, quality = 80): Buffer {
  const data = Buffer.alloc(width * height * 4);
  const horizon = Math.round(height * 0.58);
  const fx = Math.round(width * (0.25 + 0.5 * t));
  const fy = Math.round(height * 0.62);
  const scale = height / 480;
  let seed = 12345;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const noise = (seed % 13) - 6;
      let r: number, g: number, b: number;
      if (y < horizon) {
        const k = y / horizon;
        [r, g, b] = [28 + 40 * k, 38 + 52 * k, 62 + 60 * k];
        const dx = x - width * 0.8;
        const dy = y - height * 0.16;
        if (dx * dx + dy * dy < (22 * scale) ** 2) [r, g, b] = [226, 230, 214];
      } else {
        const k = (y - horizon) / (height - horizon);
        [r, g, b] = [46 + 30 * k, 78 + 40 * k, 48 + 22 * k];
        if (y > horizon - 4 * scale && y < horizon + 40 * scale && x % Math.round(36 * scale) < 6 * scale) [r, g, b] = [112, 96, 80];
      }
      if (y >= horizon - 2 * scale && y < horizon + 4 * scale) [r, g, b] = [112, 96, 80];
      // The figure: a head and a body.
      const hx = x - fx;
      const hy = y - (fy - 78 * scale);
      const inHead = hx * hx + hy * hy < (16 * scale) ** 2;
      const inBody = Math.abs(hx) < (24 - Math.max(0, y - fy) / 8) * scale && y > fy - 60 * scale && y < fy + 70 * scale;
      if (inHead || inBody) [r, g, b] = [196, 188, 170];
      const i = (y * width + x) * 4;
      data[i] = Math.max(0, Math.min(255, r + noise));
      data[i + 1] = Math.max(0, Math.min(255, g + noise));
      data[i + 2] = Math.max(0, Math.min(255, b + noise));
      data[i + 3] = 255;
    }
  }
  return encode({ data, width, height }, quality).data;
}

let cached: Buffer | null = null;
export function sampleJpeg(): Buffer {
  cached ??= sceneJpeg(320, 240, 0.4, 70);
  return cached;
}

/** A picture event; `over` replaces any field. */
export function pictureEvent(over: Partial<MotionEvent> = {}): MotionEvent {
  const data = over.file?.data ?? sampleJpeg();
  const width = over.width === undefined ? 320 : over.width;
  const height = over.height === undefined ? 240 : over.height;
  const pixels = over.pixels === undefined ? 4321 : over.pixels;
  return {
    agent: 'pi-garden',
    hostname: 'garden-pi',
    camera: 'yard',
    eventId: '17',
    kind: 'picture',
    time: '2025-06-01T22:14:05.000Z',
    pixels,
    width,
    height,
    percent: typeof pixels === 'number' && width && height ? (pixels / (width * height)) * 100 : null,
    ...over,
    file: over.file ?? { name: '17-20250601221405-01.jpg', mime: 'image/jpeg', size: data.length, data },
  };
}

/** A movie event with a clip of `size` bytes (not a real video; mail only carries it). */
export function movieEvent(over: Partial<MotionEvent> = {}, size = 2048): MotionEvent {
  const data = Buffer.alloc(size, 7);
  return {
    agent: 'pi-garden',
    hostname: 'garden-pi',
    camera: 'yard',
    eventId: '17',
    kind: 'movie',
    time: '2025-06-01T22:15:10.000Z',
    pixels: null,
    width: null,
    height: null,
    percent: null,
    ...over,
    file: over.file ?? { name: '17-20250601221405.mkv', mime: 'video/x-matroska', size, data },
  };
}
