// Real media for tests, made on the fly.
import jpeg from 'jpeg-js';

/** A real JPEG of the given size: grey, with an optional bright square (movement). */
export function makeJpeg(width = 320, height = 240, square?: { x: number; y: number; size: number }, quality = 80): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const inSquare = square && x >= square.x && x < square.x + square.size && y >= square.y && y < square.y + square.size;
      const v = inSquare ? 250 : 60 + ((x + y) % 16);
      data[i] = v;
      data[i + 1] = v;
      data[i + 2] = v;
      data[i + 3] = 255;
    }
  }
  return jpeg.encode({ data, width, height }, quality).data;
}

/** A real JPEG whose frame header claims other dimensions (a "picture bomb" when they are huge). */
export function jpegClaiming(width: number, height: number): Buffer {
  const jpg = Buffer.from(makeJpeg(16, 16));
  for (let i = 2; i < jpg.length - 9; ) {
    if (jpg[i] !== 0xff) throw new Error('not a JPEG segment');
    const marker = jpg[i + 1];
    if (marker >= 0xc0 && marker <= 0xc3) {
      jpg.writeUInt16BE(height, i + 5);
      jpg.writeUInt16BE(width, i + 7);
      return jpg;
    }
    i += 2 + jpg.readUInt16BE(i + 2);
  }
  throw new Error('no SOF segment');
}

/** The first bytes of an MP4 file (an ftyp box), enough for type sniffing. */
export function mp4Header(): Buffer {
  const box = Buffer.alloc(32);
  box.writeUInt32BE(32, 0);
  box.write('ftypisom', 4, 'latin1');
  box.writeUInt32BE(0x200, 12);
  box.write('isomiso2avc1mp41', 16, 'latin1');
  return box;
}
