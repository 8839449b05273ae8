import { runJob, type JobRunOptions } from '../../src/features/streams/runner.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { createLogger } from '../../src/platform/log.ts';

// Runs one stream job as its own process, so a test can kill it with SIGKILL like a crashed container.
const options = JSON.parse(Bun.env.STREAM_JOB_OPTIONS!) as JobRunOptions;
const controller = new AbortController();
process.on('SIGTERM', () => controller.abort());
await runJob(options, {
  signal: controller.signal,
  clock: systemClock,
  log: createLogger({ level: 'info', format: 'json', write: (line) => process.stderr.write(line + '\n') }),
  emit: () => {},
  setState: (status) => process.stdout.write(JSON.stringify(status) + '\n'),
});
