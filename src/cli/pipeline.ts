import { ConfigError, loadConfig } from '../platform/config.ts';
import { createLogger } from '../platform/log.ts';
import { TelemetryBuffer } from '../platform/workers/telemetry.ts';
import { pipelineOptions } from '../features/engagement/options.ts';
import { runCdc, runStreamProcessor } from '../features/engagement/pipeline.ts';

const usage = `Usage: bun run pipeline -- <command>

  stream      run the CDC relay and the processor in this process until Ctrl-C
              (the server runs the same two jobs as workers when ROLE is all or processor)
  backfill    not available yet (engagement pipeline part 2)`;

const [command] = Bun.argv.slice(2);
if (command === '--help' || command === '-h') {
  console.log(usage);
  process.exit(0);
}
if (command === 'backfill') {
  console.error('pipeline backfill is not available yet: it arrives with the warehouse and REST sinks (engagement pipeline part 2). Use `bun run pipeline -- stream` for the live path.');
  process.exit(2);
}
if (command !== 'stream') {
  console.error(`${usage}\n\nUnknown command ${JSON.stringify(command ?? '')}.`);
  process.exit(2);
}

let config;
try {
  config = loadConfig();
} catch (e) {
  console.error(e instanceof ConfigError ? e.message : String(e));
  process.exit(2);
}
if (!config.engagementEnabled) {
  console.error('The pipeline needs DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS and REDIS_URL. Example: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 REDIS_URL=redis://127.0.0.1:6379');
  process.exit(2);
}

const options = pipelineOptions(config);
const log = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT }, { component: 'pipeline' });
const stop = new AbortController();
process.on('SIGINT', () => stop.abort(new Error('SIGINT')));
process.on('SIGTERM', () => stop.abort(new Error('SIGTERM')));

let delivered = 0;
const report = setInterval(() => log.info('progress', { eventsDelivered: delivered }), 10_000);
// Metrics are served by the server; this process only keeps its buffer from growing.
const telemetry = new TelemetryBuffer();
const drain = setInterval(() => telemetry.drain(), 5000);
const setState = (s: Record<string, unknown>) => log.debug('state', s);

/** Restarts a failed job with a capped backoff, as the worker supervisor does inside the server. */
async function supervise(name: string, job: () => Promise<void>) {
  for (let attempt = 0; !stop.signal.aborted; attempt++) {
    try {
      await job();
      return;
    } catch (error) {
      if (stop.signal.aborted) return;
      const delayMs = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
      log.error(`${name} failed; restarting`, { error: (error as Error).message, delayMs });
      await Bun.sleep(delayMs);
    }
  }
}

log.info('streaming', { slot: options.names.slot, topic: options.names.eventsTopic, group: options.names.group });
await Promise.all([
  supervise('cdc', () => runCdc(options, { log, telemetry, setState }, stop.signal)),
  supervise('processor', () => runStreamProcessor(options, { log, telemetry, setState, onBatch: (r) => (delivered += r.envelopes) }, stop.signal)),
]);
clearInterval(report);
clearInterval(drain);
log.info('stopped', { eventsDelivered: delivered });
