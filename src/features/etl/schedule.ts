import type { Clock } from '../../platform/clock.ts';
import { AppError, errorMessage } from '../../platform/errors.ts';
import type { Logger } from '../../platform/log.ts';

export type ScheduleOptions = {
  everyMs: number;
  clock: Clock;
  log: Logger;
  signal: AbortSignal;
  /** Start of the newest run (from any process), so a restart does not run early or late. */
  lastStartedAt: () => number | undefined;
  runOnce: () => Promise<unknown>;
};

/**
 * Runs the ETL every `everyMs`, counted from the start of the newest recorded run: the first run is due at once
 * when there is none or the last is older than the interval. A run already in progress elsewhere is skipped,
 * not queued. Resolves when `signal` aborts.
 */
export async function runOnSchedule(o: ScheduleOptions): Promise<void> {
  while (!o.signal.aborted) {
    const last = o.lastStartedAt();
    // A start in the future (clock moved back) must not postpone runs by more than one interval.
    const waitMs = last === undefined ? 0 : Math.min(o.everyMs, Math.max(0, last + o.everyMs - o.clock.now()));
    try {
      if (waitMs > 0) await o.clock.sleep(waitMs, o.signal);
    } catch {
      return;
    }
    if (o.signal.aborted) return;
    try {
      await o.runOnce();
    } catch (error) {
      if (error instanceof AppError && error.code === 'etl_running') o.log.info('scheduled run skipped: a run is already in progress', { error: error.message });
      else o.log.error('scheduled run could not start', { error: errorMessage(error) });
      // A run longer than the interval, or a failing database, must not make this loop spin: wait a full interval.
      try {
        await o.clock.sleep(o.everyMs, o.signal);
      } catch {
        return;
      }
    }
  }
}
