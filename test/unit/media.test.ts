import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changedPercent, sniffMedia } from '../../lib/media';
import { makeJpeg, mp4Header } from '../support/images';

describe('sniffMedia', () => {
  it('reads a JPEG’s type and size from its bytes', () => {
    assert.deepEqual(sniffMedia(makeJpeg(320, 240)), { kind: 'picture', mime: 'image/jpeg', ext: 'jpg', width: 320, height: 240 });
  });
  it('recognises movie containers', () => {
    assert.equal(sniffMedia(Buffer.concat([mp4Header(), Buffer.alloc(100)]))?.mime, 'video/mp4');
    const mkv = Buffer.from('1a45dfa3a34286810142f7810142f2810442f381084282886d6174726f736b61', 'hex');
    assert.equal(sniffMedia(mkv)?.mime, 'video/x-matroska');
    const avi = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('AVI LIST')]);
    assert.equal(sniffMedia(avi)?.kind, 'movie');
  });
  it('refuses text, empty and truncated files', () => {
    assert.equal(sniffMedia(Buffer.from('this is not a picture, whatever its name says')), null);
    assert.equal(sniffMedia(Buffer.alloc(0)), null);
    assert.equal(sniffMedia(Buffer.from([0xff, 0xd8, 0xff])), null);
  });
});

describe('changedPercent', () => {
  it('is the share of the frame with one decimal', () => {
    assert.equal(changedPercent(7680, 320, 240), 10);
    assert.equal(changedPercent(1, 320, 240), 0);
    assert.equal(changedPercent(1000, 320, 240), 1.3);
    assert.equal(changedPercent(999999, 320, 240), 100);
    assert.equal(changedPercent(null, 320, 240), null);
    assert.equal(changedPercent(10, null, null), null);
  });
});
