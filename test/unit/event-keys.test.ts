import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SeenKeys } from '../../nodes/dms3-server/event-keys';

const root = mkdtempSync(join(tmpdir(), 'dms3-keys-unit-'));
after(() => rmSync(root, { recursive: true, force: true }));
const key = (i: number) => `key-${String(i).padStart(16, '0')}`;
const HOUR = 3600_000;

describe('idempotency keys', () => {
  it('knows a key for 24 hours, then forgets it', () => {
    const keys = new SeenKeys(null);
    const t = Date.UTC(2025, 0, 1);
    assert.equal(keys.add(key(1), t), true);
    assert.equal(keys.add(key(1), t + 1000), false);
    assert.equal(keys.has(key(1), t + 24 * HOUR - 1), true);
    assert.equal(keys.has(key(1), t + 24 * HOUR), false);
    assert.equal(keys.add(key(1), t + 24 * HOUR), true);
  });

  it('keeps at most `max` keys, dropping the oldest', () => {
    const keys = new SeenKeys(null, () => {}, { ttlMs: 24 * HOUR, max: 3 });
    for (let i = 0; i < 5; i++) keys.add(key(i), 1000 + i);
    assert.equal(keys.size, 3);
    assert.deepEqual([0, 1, 2, 3, 4].map((i) => keys.has(key(i), 2000)), [false, false, true, true, true]);
  });

  it('survives a restart through its file, and ignores a torn last line', () => {
    const file = join(root, 'dms3', 'event-keys-hub.log');
    const t = Date.now();
    const first = new SeenKeys(file, () => {}, { ttlMs: 24 * HOUR, max: 100 }, t);
    first.add(key(1), t);
    first.add(key(2), t - 25 * HOUR); // already expired by now
    first.close();
    appendFileSync(file, `${key(3)} 99`); // a crash mid-line
    const second = new SeenKeys(file, () => {}, { ttlMs: 24 * HOUR, max: 100 }, t);
    assert.equal(second.add(key(1), t), false, 'known from before the restart');
    assert.equal(second.has(key(2), t), false);
    assert.equal(second.has(key(3), t), false);
    // The file was compacted to the live keys on load.
    assert.deepEqual(
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[0]),
      [key(1)],
    );
    second.close();
  });

  it('compacts its file when it grows to twice its keys', () => {
    const file = join(root, 'compact.log');
    const keys = new SeenKeys(file, () => {}, { ttlMs: 24 * HOUR, max: 10 });
    for (let i = 0; i < 50; i++) keys.add(key(i));
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    assert.ok(lines.length <= 20, `${lines.length} lines`);
    assert.ok(lines.some((l) => l.startsWith(key(49))));
    keys.close();
  });

  it('refuses a file it cannot use (the hub then keeps keys in memory and warns)', () => {
    assert.throws(() => new SeenKeys(root), { code: 'EISDIR' });
  });
});
