import { systemClock } from '../../platform/clock.ts';
import { createLogger, type Level } from '../../platform/log.ts';
import { defineWorker } from '../../platform/workers/worker.ts';
import type { JobView } from './queue.ts';
import { openIngestEnv, workLoop, type IngestOptions } from './runner.ts';

export type IngestCommand = { type: 'wake' };
export type IngestEvent = { type: 'job'; job: JobView } | { type: 'log'; level: Level; line: Record<string, unknown> };

let wake: (() => void) | undefined;

// The GDELT ingestion worker: takes jobs from the SQLite queue one at a time (see runner.ts). Its log lines go to
// the parent, which writes them through the app's logger.
defineWorker<IngestOptions, IngestCommand, IngestEvent>({
  async run(options, io) {
    const log = createLogger({ level: 'debug', format: 'json', write: (l) => {
      const line = JSON.parse(l) as Record<string, unknown>;
      io.emit({ type: 'log', level: line.level as Level, line });
    } });
    const env = await openIngestEnv(options, { log, clock: systemClock, signal: io.signal });
    try {
      await workLoop(env, options, {
        signal: io.signal,
        onJob: (job) => {
          io.setState({ job: job.job_id, job_state: job.state, batches_done: job.batches_done, batches_total: job.batches_total });
          io.emit({ type: 'job', job });
        },
        waitForWake: (ms) =>
          new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer);
              io.signal.removeEventListener('abort', done);
              wake = undefined;
              resolve();
            };
            const timer = setTimeout(done, ms);
            wake = done;
            io.signal.addEventListener('abort', done, { once: true });
          }),
      });
    } finally {
      await env.close();
    }
  },
  command(cmd) {
    if (cmd.type === 'wake') wake?.();
  },
});
