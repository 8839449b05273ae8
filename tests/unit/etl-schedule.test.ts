import { describe, expect, test } from 'bun:test';
import { runOnSchedule } from '../../src/features/etl/schedule.ts';
import { ManualClock } from '../../src/platform/clock.ts';
import { conflict } from '../../src/platform/errors.ts';
import { memoryLogger } from '../../src/platform/log.ts';
import { waitFor } from '../helpers/index.ts';

const MINUTE = 60_000;

function harness(options: { lastStartedAt?: number; fail?: () => Error | undefined } = {}) {
  const clock = new ManualClock(10 * MINUTE);
  const controller = new AbortController();
  const starts: number[] = [];
  let last = options.lastStartedAt;
  const loop = runOnSchedule({
    everyMs: 5 * MINUTE,
    clock,
    log: memoryLogger(),
    signal: controller.signal,
    lastStartedAt: () => last,
    runOnce: async () => {
      const error = options.fail?.();
      if (error) throw error;
      starts.push(clock.now());
      last = clock.now();
    },
  });
  return { clock, starts, loop, stop: () => controller.abort() };
}

describe('runOnSchedule', () => {
  test('with no run recorded the first run starts at once, then one every interval', async () => {
    const h = harness();
    await waitFor(() => h.starts.length === 1 && h.clock.waiting === 1, { what: 'first run, then a wait' });
    expect(h.starts).toEqual([10 * MINUTE]);
    h.clock.advance(5 * MINUTE - 1);
    expect(h.starts).toHaveLength(1);
    h.clock.advance(1);
    await waitFor(() => h.starts.length === 2, { what: 'second run' });
    expect(h.starts[1]).toBe(15 * MINUTE);
    h.stop();
    await h.loop;
  });

  test('after a restart the next run is due an interval after the last recorded start, not at once', async () => {
    const h = harness({ lastStartedAt: 8 * MINUTE });
    await waitFor(() => h.clock.waiting === 1, { what: 'the loop to wait' });
    expect(h.starts).toEqual([]);
    h.clock.advance(3 * MINUTE);
    await waitFor(() => h.starts.length === 1, { what: 'the due run' });
    expect(h.starts[0]).toBe(13 * MINUTE);
    h.stop();
    await h.loop;
  });

  test('a run already in progress elsewhere is skipped, and the loop waits an interval instead of spinning', async () => {
    let busy = true;
    const h = harness({ fail: () => (busy ? conflict('etl_running', 'ETL run 1 is running', { run_id: 1 }) : undefined) });
    await waitFor(() => h.clock.waiting === 1, { what: 'the loop to back off' });
    expect(h.starts).toEqual([]);
    busy = false;
    h.clock.advance(5 * MINUTE);
    await waitFor(() => h.starts.length === 1, { what: 'the run after the skip' });
    h.stop();
    await h.loop;
  });

  test('aborting the signal ends the loop while it waits', async () => {
    const h = harness({ lastStartedAt: 10 * MINUTE });
    await waitFor(() => h.clock.waiting === 1, { what: 'the loop to wait' });
    h.stop();
    await h.loop;
    expect(h.starts).toEqual([]);
  });
});
