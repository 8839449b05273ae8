import { describe, expect, test } from 'bun:test';
import { ManualClock } from '../../src/platform/clock.ts';
import { MicroBatcher } from '../../src/platform/stream/batcher.ts';

/** A flush that records what it got and completes when told to. */
function gatedFlush() {
  const flushes: number[][] = [];
  const gates: (() => void)[] = [];
  return {
    flushes,
    open: () => gates.shift()?.(),
    flush: async (items: number[]) => {
      flushes.push(items);
      await new Promise<void>((r) => gates.push(r));
      return items.map((i) => i * 10);
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('micro-batching of sink writes', () => {
  test('with no flush running, a write goes at once; while one runs, writes gather until maxItems wait', async () => {
    const g = gatedFlush();
    const b = new MicroBatcher({ maxItems: 3, maxWaitMs: 60_000, flush: g.flush, clock: new ManualClock() });
    const first = b.submit([1]);
    await tick();
    expect(g.flushes).toEqual([[1]]);
    const second = b.submit([2, 3]);
    await tick();
    expect(g.flushes).toEqual([[1]]);
    const third = b.submit([4]);
    await tick();
    // Three items waited: a second flush may not start (one at a time), so they go when the first ends.
    expect(g.flushes).toEqual([[1]]);
    g.open();
    await tick();
    expect(g.flushes).toEqual([[1], [2, 3, 4]]);
    g.open();
    expect(await first).toEqual([10]);
    expect(await second).toEqual([20, 30]);
    expect(await third).toEqual([40]);
  });

  test('while a flush runs, a partial batch goes once its oldest item has waited maxWaitMs', async () => {
    const clock = new ManualClock();
    const g = gatedFlush();
    const b = new MicroBatcher({ maxItems: 100, maxWaitMs: 1000, flush: g.flush, maxConcurrentFlushes: 2, clock });
    const running = b.submit([1]);
    await tick();
    const done = b.submit([7]);
    clock.advance(999);
    await tick();
    expect(g.flushes).toEqual([[1]]);
    clock.advance(1);
    await tick();
    expect(g.flushes).toEqual([[1], [7]]);
    g.open();
    g.open();
    expect(await running).toEqual([10]);
    expect(await done).toEqual([70]);
  });

  test('items arriving while the flushes run wait for the next one, up to maxConcurrentFlushes at once', async () => {
    const g = gatedFlush();
    const b = new MicroBatcher({ maxItems: 1, maxWaitMs: 60_000, flush: g.flush, maxConcurrentFlushes: 2, clock: new ManualClock() });
    const results = [b.submit([1]), b.submit([2]), b.submit([3]), b.submit([4])];
    await tick();
    expect(g.flushes).toEqual([[1], [2]]);
    g.open();
    await tick();
    // The two that waited go together.
    expect(g.flushes).toEqual([[1], [2], [3, 4]]);
    g.open();
    g.open();
    expect(await Promise.all(results)).toEqual([[10], [20], [30], [40]]);
  });

  test('a failed flush fails every caller whose items it carried, and the next flush goes on', async () => {
    let fail = true;
    const b = new MicroBatcher({
      maxItems: 2,
      maxWaitMs: 60_000,
      clock: new ManualClock(),
      flush: async (items: number[]) => {
        if (fail) throw new Error('store down');
        return items;
      },
    });
    const a = b.submit([1]);
    const c = b.submit([2]);
    const settled = await Promise.allSettled([a, c]);
    expect(settled.map((s) => (s.status === 'rejected' ? (s.reason as Error).message : 'ok'))).toEqual(['store down', 'store down']);
    fail = false;
    expect(await b.submit([3, 4])).toEqual([3, 4]);
  });
});
