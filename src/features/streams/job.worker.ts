import { systemClock } from '../../platform/clock.ts';
import { createLogger, type LogOptions } from '../../platform/log.ts';
import { defineWorker } from '../../platform/workers/worker.ts';
import { runJob, type JobEvent, type JobRunOptions } from './runner.ts';

export type JobWorkerOptions = JobRunOptions & { log: Pick<LogOptions, 'level' | 'format'> };

// One worker per stream job: a slow aggregation or a crash of one job never stalls HTTP or the other jobs.
defineWorker<JobWorkerOptions, never, JobEvent>({
  run: (options, io) =>
    runJob(options, {
      signal: io.signal,
      clock: systemClock,
      log: createLogger(options.log),
      emit: io.emit,
      setState: (status) => io.setState(status),
    }),
});
