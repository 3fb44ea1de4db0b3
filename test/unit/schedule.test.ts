import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { activeWindow, nextChange, parseTime, parseWindow, parseWindows, parseWindowText, type Window } from '../../lib/schedule';

const at = (y: number, mo: number, d: number, h: number, mi: number) => new Date(y, mo - 1, d, h, mi);
const night = parseWindow({ start: '23:30', end: '05:00' });

describe('parseTime / parseWindow', () => {
  it('accepts HH:MM and refuses anything else, naming the field and value', () => {
    assert.equal(parseTime('start', '23:30'), 23 * 60 + 30);
    assert.equal(parseTime('start', '0:05'), 5);
    for (const bad of ['25:00', '24:00', '12:60', '', '2330', '23:00:00', 'noon', null, 7]) {
      assert.throws(() => parseTime('windows[0].start', bad), (e: Error) => e.message.startsWith(`windows[0].start ${JSON.stringify(bad)}:`));
    }
  });

  it('refuses an empty window and bad days', () => {
    assert.throws(() => parseWindow({ start: '10:00', end: '10:00' }), /windows\[0\]\.end "10:00": equals the start/);
    assert.throws(() => parseWindow({ start: '10:00', end: '11:00', days: [7] }), /windows\[0\]\.days \[7\]/);
    assert.throws(() => parseWindows('23:00-05:00'), /^FieldError: windows "23:00-05:00"/);
    assert.throws(() => parseWindows([{ start: '22:00', end: '23:00' }, { start: '25:00', end: '01:00' }]), /windows\[1\]\.start "25:00"/);
  });

  it('parses the text form with days', () => {
    const w = parseWindowText('22:00-06:00 Mon,Tue');
    assert.deepEqual([w.start, w.end, [...w.days].sort()], [1320, 360, [1, 2]]);
    assert.equal(w.label, '22:00–06:00 Mon,Tue');
    assert.throws(() => parseWindowText('22:00-06:00 Funday'), /days "Funday"/);
  });
});

describe('activeWindow', () => {
  it('crosses midnight with an exclusive end', () => {
    assert.equal(activeWindow([night], at(2026, 11, 25, 23, 29)), null);
    assert.equal(activeWindow([night], at(2026, 11, 25, 23, 30)), night);
    assert.equal(activeWindow([night], at(2026, 11, 26, 0, 0)), night);
    assert.equal(activeWindow([night], at(2026, 11, 26, 4, 59)), night);
    assert.equal(activeWindow([night], at(2026, 11, 26, 5, 0)), null);
    assert.equal(activeWindow([night], at(2026, 11, 26, 12, 0)), null);
  });

  it('limits a window to the days on which it starts', () => {
    // Friday night only: 2026-11-27 is a Friday.
    const friday = parseWindow({ start: '22:00', end: '02:00', days: [5] });
    assert.ok(activeWindow([friday], at(2026, 11, 27, 23, 0)));
    assert.ok(activeWindow([friday], at(2026, 11, 28, 1, 0)), 'the early hours of Saturday belong to Friday night');
    assert.equal(activeWindow([friday], at(2026, 11, 28, 23, 0)), null);
    assert.equal(activeWindow([friday], at(2026, 11, 27, 1, 0)), null, 'early Friday belongs to Thursday night');
  });

  it('agrees with a brute-force minute model for any window', () => {
    const minute = fc.integer({ min: 0, max: 1439 });
    fc.assert(
      fc.property(minute, minute, fc.subarray([0, 1, 2, 3, 4, 5, 6]), fc.integer({ min: 0, max: 7 * 1440 - 1 }), (s, e, days, t) => {
        fc.pre(s !== e);
        const w: Window = { start: s, end: e, days: new Set(days.length ? days : [0, 1, 2, 3, 4, 5, 6]), label: '' };
        // 2026-11-22 is a Sunday, so day index = floor(t / 1440).
        const now = new Date(2026, 10, 22, 0, t);
        const day = Math.floor(t / 1440) % 7;
        const m = t % 1440;
        const expected = s < e ? w.days.has(day) && m >= s && m < e : (w.days.has(day) && m >= s) || (w.days.has((day + 6) % 7) && m < e);
        return (activeWindow([w], now) !== null) === expected;
      }),
      { numRuns: 2000 },
    );
  });
});

describe('nextChange', () => {
  it('finds the next edge across midnight', () => {
    assert.deepEqual(nextChange([night], at(2026, 11, 25, 12, 0)), at(2026, 11, 25, 23, 30));
    assert.deepEqual(nextChange([night], at(2026, 11, 25, 23, 45)), at(2026, 11, 26, 5, 0));
    assert.equal(nextChange([], at(2026, 11, 25, 12, 0)), null);
  });

  it('skips edges where overlapping windows keep the answer', () => {
    const a = parseWindow({ start: '20:00', end: '23:00' });
    const b = parseWindow({ start: '22:00', end: '01:00' });
    assert.deepEqual(nextChange([a, b], at(2026, 11, 25, 21, 0)), at(2026, 11, 26, 1, 0));
  });

  it('is always a real change, after now, for random windows', () => {
    const minute = fc.integer({ min: 0, max: 1439 });
    fc.assert(
      fc.property(fc.array(fc.tuple(minute, minute, fc.subarray([0, 1, 2, 3, 4, 5, 6])), { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 14 * 1440 }), (specs, t) => {
        const windows = specs.filter(([s, e]) => s !== e).map(([s, e, d]) => ({ start: s, end: e, days: new Set(d.length ? d : [0, 1, 2, 3, 4, 5, 6]), label: '' }));
        fc.pre(windows.length > 0);
        const now = new Date(2026, 10, 22, 0, t);
        const next = nextChange(windows, now);
        if (next === null) return true;
        const before = new Date(next.getTime() - 60_000);
        return next > now && (activeWindow(windows, next) !== null) !== (activeWindow(windows, now) !== null) && (activeWindow(windows, before) !== null) === (activeWindow(windows, now) !== null);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('daylight saving time (TZ=Europe/Berlin, in a child process)', () => {
  it('keeps wall-clock edges on the days the clocks change', () => {
    const script = `
      const { parseWindow, nextChange, activeWindow } = require(${JSON.stringify(require.resolve('../../lib/schedule'))});
      const w = parseWindow({ start: '23:30', end: '05:00' });
      const early = parseWindow({ start: '02:30', end: '03:30' });
      const out = {
        // 2026-03-29: clocks go 02:00 -> 03:00 in Berlin; 2026-10-25: 03:00 -> 02:00.
        springEnd: nextChange([w], new Date(2026, 2, 29, 1, 0)).toString(),
        autumnEnd: nextChange([w], new Date(2026, 9, 25, 1, 0)).toString(),
        springEndHours: (nextChange([w], new Date(2026, 2, 29, 1, 0)) - new Date(2026, 2, 29, 1, 0)) / 3600000,
        autumnEndHours: (nextChange([w], new Date(2026, 9, 25, 1, 0)) - new Date(2026, 9, 25, 1, 0)) / 3600000,
        gapActive: activeWindow([early], new Date(2026, 2, 29, 3, 10)) !== null,
      };
      console.log(JSON.stringify(out));`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { env: { ...process.env, TZ: 'Europe/Berlin' } }).toString());
    assert.match(out.springEnd, /05:00:00/);
    assert.match(out.autumnEnd, /05:00:00/);
    assert.equal(out.springEndHours, 3, 'one hour less on the night the clocks go forward');
    assert.equal(out.autumnEndHours, 5, 'one hour more on the night the clocks go back');
    assert.equal(out.gapActive, true, '03:10 on the spring-forward day is inside 02:30–03:30');
  });
});
