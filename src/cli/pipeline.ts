import { parseArgs } from 'node:util';
import { AppError } from '../platform/errors.ts';
import { createLogger } from '../platform/log.ts';
import { TelemetryBuffer } from '../platform/workers/telemetry.ts';
import { backfillRange, runBackfill, type BackfillPlan, type BackfillProgress } from '../features/engagement/backfill.ts';
import { pipelineOptions } from '../features/engagement/options.ts';
import { runCdc, runStreamProcessor } from '../features/engagement/pipeline.ts';
import { cliConfig, fail } from './common.ts';

const usage = `Usage: bun run pipeline -- <command> [options]

  stream [--jobs cdc,processor]
      run the CDC relay and/or the processor in this process until Ctrl-C (the server runs the same jobs as
      workers when ROLE is all or processor). Several processors with the same KAFKA_CONSUMER_GROUP share the
      partitions; a second CDC relay stands by until the slot is free.

  backfill --start-date YYYY-MM-DD --end-date YYYY-MM-DD [--lanes N] [--batch-size N] [--restart] [--quiet]
      reads engagement_events of those days (UTC, both included) from Postgres in key ranges and sends them
      through the same enrichment and sinks as the stream. Resumes from its checkpoints when run again with the
      same dates (--restart starts over); safe while streaming (sinks apply each event id once).
      --lanes (default BACKFILL_LANES) key ranges read in parallel; --batch-size (default BACKFILL_BATCH_SIZE).

Exit codes: 0 done, 1 failed, 2 bad usage or configuration, 130 interrupted (backfill resumes where it stopped).`;

const [command, ...rest] = Bun.argv.slice(2);
if (command === undefined || command === '--help' || command === '-h') {
  console.log(usage);
  process.exit(command === undefined ? 2 : 0);
}
if (command !== 'stream' && command !== 'backfill') fail(`${usage}\n\nUnknown command ${JSON.stringify(command)}: use stream or backfill.`);

const { values } = (() => {
  try {
    return parseArgs({
      args: rest,
      options: {
        jobs: { type: 'string', default: 'cdc,processor' },
        'start-date': { type: 'string' },
        'end-date': { type: 'string' },
        lanes: { type: 'string' },
        'batch-size': { type: 'string' },
        restart: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
      },
    });
  } catch (e) {
    return fail(`${(e as Error).message}\n\n${usage}`);
  }
})();

const positive = (flag: string, raw: string | undefined, fallback: number, max: number) => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > max) fail(`${flag} must be an integer from 1 to ${max} (got ${JSON.stringify(raw)}). Example: ${flag} 4`);
  return n;
};

// Dates are checked before the configuration, so a typo is reported even where no service is configured.
const range = command === 'backfill' ? backfillRange(values['start-date'], values['end-date']) : undefined;
if (range && !range.ok) fail(`${range.error}\n\nUsage: bun run pipeline -- backfill --start-date 2026-01-01 --end-date 2026-01-31`);

const config = cliConfig(`pipeline -- ${command}`);
if (!config.engagementEnabled)
  fail('The pipeline needs DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS and REDIS_URL. Example: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 REDIS_URL=redis://127.0.0.1:6379');
const options = pipelineOptions(config);
const stop = new AbortController();
process.on('SIGINT', () => stop.abort(new Error('SIGINT')));
process.on('SIGTERM', () => stop.abort(new Error('SIGTERM')));

if (command === 'backfill' && range?.ok) {
  const lanes = positive('--lanes', values.lanes, config.BACKFILL_LANES, 64);
  const batchSize = positive('--batch-size', values['batch-size'], config.BACKFILL_BATCH_SIZE, 100_000);
  const tty = !values.quiet && process.stderr.isTTY;
  // Logs go to stderr at warn and above, so the progress bar stays readable.
  const log = createLogger({ level: values.quiet ? 'info' : 'warn', format: config.LOG_FORMAT, write: (l) => process.stderr.write(`${tty ? '\r\x1b[2K' : ''}${l}\n`) }).child({ component: 'backfill-cli' });
  const started = performance.now();
  let lastLine = 0;
  const line = (p: BackfillProgress, startDone: number) => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? (p.done - startDone) / seconds : 0;
    const left = Math.max(0, p.total - p.done);
    const eta = left === 0 ? 0 : rate > 0 ? left / rate : NaN;
    const width = 30;
    const frac = p.total ? Math.min(1, p.done / p.total) : 1;
    const filled = Math.round(frac * width);
    const clock = (s: number) => (Number.isFinite(s) ? `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, '0')}` : '?');
    return `backfill [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(1)}% ${p.done.toLocaleString('en-US')}/${p.total.toLocaleString('en-US')} events · ${Math.round(rate).toLocaleString('en-US')} ev/s · ETA ${clock(eta)} · ${p.rejected + Object.values(p.perSink).reduce((n, s) => n + s.deadLettered, 0)} dead-lettered`;
  };
  let plan: BackfillPlan | undefined;
  const show = (p: BackfillProgress, force = false) => {
    if (values.quiet || !plan) return;
    const now = performance.now();
    if (!force && now - lastLine < (tty ? 200 : 5000)) return;
    lastLine = now;
    process.stderr.write(tty ? `\r\x1b[2K${line(p, plan.done)}` : `${line(p, plan.done)}\n`);
  };
  try {
    const summary = await runBackfill(
      options,
      { startDate: range.startDate, endDate: range.endDate, fromMs: range.fromMs, toMs: range.toMs, lanes, batchSize, restart: values.restart },
      {
        log,
        onPlan: (p) => {
          plan = p;
          if (!values.quiet)
            process.stderr.write(
              p.resumed
                ? `Resuming backfill ${p.job}: ${p.done.toLocaleString('en-US')} of ${p.total.toLocaleString('en-US')} events already done (--restart to start over).\n`
                : `Backfill ${p.job}: ${p.total.toLocaleString('en-US')} events in ${p.lanes.length} lanes.\n`,
            );
        },
        onProgress: show,
      },
      stop.signal,
    );
    show(summary, true);
    if (tty) process.stderr.write('\n');
    const seconds = summary.ms / 1000;
    console.log(JSON.stringify({ ...summary, events_per_second: seconds > 0 ? Math.round(summary.eventsThisRun / seconds) : null }, null, 2));
    if (summary.interrupted) {
      console.error(`Interrupted: run the same command again to resume backfill ${summary.job} from its checkpoints.`);
      process.exit(130);
    }
    process.exit(0);
  } catch (error) {
    if (tty) process.stderr.write('\n');
    if (error instanceof AppError) fail(`Backfill failed: ${error.message}`, 1);
    throw error;
  }
}

const jobs = new Set(values.jobs.split(',').map((j) => j.trim()));
for (const j of jobs) if (j !== 'cdc' && j !== 'processor') fail(`--jobs takes cdc, processor or both (got ${JSON.stringify(j)}). Example: --jobs processor`);
const log = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT }, { component: 'pipeline' });
let delivered = 0;
const report = setInterval(() => log.info('progress', { eventsDelivered: delivered }), 10_000);
// Metrics are served by the server; this process only keeps its buffer from growing.
const telemetry = new TelemetryBuffer();
const drain = setInterval(() => telemetry.drain(), 5000);
const setState = (s: Record<string, unknown>) => log.debug('state', s);

/** Restarts a failed job with a capped backoff, as the worker supervisor does inside the server. */
async function supervise(name: string, job: () => Promise<void>) {
  for (let attempt = 0; !stop.signal.aborted; attempt++) {
    const started = Date.now();
    try {
      await job();
      return;
    } catch (error) {
      if (stop.signal.aborted) return;
      // A job that ran a while before failing starts its backoff afresh.
      if (Date.now() - started > 30_000) attempt = 0;
      const delayMs = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
      log.error(`${name} failed; restarting`, { error: (error as Error).message, delayMs });
      await Bun.sleep(delayMs);
    }
  }
}

log.info('streaming', { jobs: [...jobs], slot: options.names.slot, topic: options.names.eventsTopic, group: options.names.group });
await Promise.all([
  jobs.has('cdc') ? supervise('cdc', () => runCdc(options, { log, telemetry, setState }, stop.signal)) : undefined,
  jobs.has('processor') ? supervise('processor', () => runStreamProcessor(options, { log, telemetry, setState, onBatch: (r) => (delivered += r.envelopes) }, stop.signal)) : undefined,
]);
clearInterval(report);
clearInterval(drain);
log.info('stopped', { eventsDelivered: delivered });
