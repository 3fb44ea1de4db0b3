// What an uploaded file really is, judged by its bytes (never by its name or claimed type).
import { imageSize } from 'image-size';

export interface Media {
  kind: 'picture' | 'movie';
  mime: string;
  ext: string;
  width: number | null;
  height: number | null;
}

const IMAGE_MIME: Record<string, string> = { jpg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif', bmp: 'image/bmp' };

/** Video containers Motion writes (movie_container: mkv, mp4, hevc in mp4, 3gp, avi via msmpeg4/mpeg4, flv, swf). */
function sniffVideo(b: Buffer): Media | null {
  const at = (offset: number, text: string) => b.length >= offset + text.length && b.toString('latin1', offset, offset + text.length) === text;
  if (at(4, 'ftyp')) {
    const brand = b.toString('latin1', 8, 12);
    return brand.startsWith('3g') ? { kind: 'movie', mime: 'video/3gpp', ext: '3gp', width: null, height: null } : { kind: 'movie', mime: 'video/mp4', ext: 'mp4', width: null, height: null };
  }
  if (b.length >= 4 && b.readUInt32BE(0) === 0x1a45dfa3) {
    return b.includes('webm', 0, 'latin1') && b.indexOf('webm', 0, 'latin1') < 64 ? { kind: 'movie', mime: 'video/webm', ext: 'webm', width: null, height: null } : { kind: 'movie', mime: 'video/x-matroska', ext: 'mkv', width: null, height: null };
  }
  if (at(0, 'RIFF') && at(8, 'AVI ')) return { kind: 'movie', mime: 'video/x-msvideo', ext: 'avi', width: null, height: null };
  if (at(0, 'FLV')) return { kind: 'movie', mime: 'video/x-flv', ext: 'flv', width: null, height: null };
  return null;
}

/** Identify a picture or movie from its first bytes; null when it is neither (e.g. text named .jpg). */
export function sniffMedia(data: Buffer): Media | null {
  const video = sniffVideo(data);
  if (video) return video;
  try {
    const { width, height, type } = imageSize(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    if (type && IMAGE_MIME[type] && width && height) return { kind: 'picture', mime: IMAGE_MIME[type], ext: type, width, height };
  } catch {
    // not an image image-size knows
  }
  return null;
}

/** Changed pixels as a share of the frame, in percent with one decimal (null when unknown). */
export function changedPercent(pixels: number | null, width: number | null, height: number | null): number | null {
  if (pixels === null || !width || !height) return null;
  return Math.min(100, Math.round((pixels / (width * height)) * 1000) / 10);
}
