import { describe, expect, test } from 'bun:test';
import { floorTo, idleWatermark, isClosed, isDue, windowStarts, advanceWatermark } from '../../../src/features/streams/windows.ts';

const MIN = 60_000;
const starts = (def: Parameters<typeof windowStarts>[0], t: number) => {
  const out: number[] = [];
  const n = windowStarts(def, t, out);
  return out.slice(0, n);
};

describe('window assignment', () => {
  test.each([
    [0, 0],
    [59_999, 0],
    [60_000, 60_000],
    [125_000, 120_000],
    [-1, -60_000],
    [-60_000, -60_000],
  ])('a tumbling 1-minute window holds t=%d in the window starting at %d', (t, start) => {
    expect(starts({ type: 'tumbling', sizeMs: MIN }, t)).toEqual([start]);
  });

  test.each([
    [0, [0, -60_000, -120_000, -180_000, -240_000]],
    [299_999, [240_000, 180_000, 120_000, 60_000, 0]],
    [300_000, [300_000, 240_000, 180_000, 120_000, 60_000]],
    [61_000, [60_000, 0, -60_000, -120_000, -180_000]],
  ])('a hopping 5-minute window sliding by 1 minute holds t=%d in 5 windows', (t, expected) => {
    expect(starts({ type: 'hopping', sizeMs: 5 * MIN, slideMs: MIN }, t)).toEqual(expected);
  });

  test('a hopping window whose size is not a multiple of its slide holds each record in ceil(size/slide) or fewer windows', () => {
    const def = { type: 'hopping' as const, sizeMs: 90_000, slideMs: MIN };
    for (const t of [0, 10_000, 29_999, 30_000, 59_999]) {
      for (const s of starts(def, t)) expect(t >= s && t < s + def.sizeMs).toBe(true);
    }
    expect(starts(def, 10_000)).toEqual([0, -60_000]);
    expect(starts(def, 40_000)).toEqual([0]);
  });

  test('floorTo aligns to the epoch for negative times too', () => {
    expect(floorTo(-1, 1000)).toBe(-1000);
    expect(floorTo(1999, 1000)).toBe(1000);
  });
});

describe('watermark rules', () => {
  test.each([
    // watermark, end, lateness, due, closed
    [59_999, 60_000, 0, false, false],
    [60_000, 60_000, 0, true, true],
    [60_000, 60_000, 30_000, true, false],
    [89_999, 60_000, 30_000, true, false],
    [90_000, 60_000, 30_000, true, true],
    [-Infinity, 60_000, 0, false, false],
  ])('watermark %d, window end %d, lateness %d → due %p, closed %p', (wm, end, lateness, due, closed) => {
    expect(isDue(end, wm)).toBe(due);
    expect(isClosed(end, lateness, wm)).toBe(closed);
  });

  test('the watermark is the largest event time minus the delay and never moves back', () => {
    let w = -Infinity;
    for (const t of [10_000, 8_000, 15_000, 1_000]) w = advanceWatermark(w, t, 2_000);
    expect(w).toBe(13_000);
  });

  test.each([
    // idle timeout, ms since last arrival, expected watermark
    [undefined, 60_000, 8_000],
    [10_000, 9_999, 8_000],
    [10_000, 10_000, 18_000],
    [10_000, 70_000, 78_000],
  ])('a quiet source with idle timeout %p after %d ms has watermark %d', (idleTimeoutMs, quietMs, expected) => {
    expect(idleWatermark({ watermark: 8_000, maxEventTimeMs: 10_000, delayMs: 2_000, lastArrivalMs: 1_000_000, nowMs: 1_000_000 + quietMs, idleTimeoutMs })).toBe(expected);
  });

  test('the idle watermark does nothing before the first record', () => {
    expect(idleWatermark({ watermark: -Infinity, maxEventTimeMs: -Infinity, delayMs: 0, lastArrivalMs: 0, nowMs: 1e9, idleTimeoutMs: 1 })).toBe(-Infinity);
  });
});
