import { parseArgs } from 'node:util';
import { ingestOptions } from '../features/gdelt/index.ts';
import { parseBoundary } from '../features/gdelt/manifest.ts';
import type { JobView } from '../features/gdelt/queue.ts';
import { openIngestEnv, workLoop } from '../features/gdelt/runner.ts';
import { systemClock } from '../platform/clock.ts';
import { cliConfig, fail as failWith } from './common.ts';
import { AppError } from '../platform/errors.ts';
import { createLogger } from '../platform/log.ts';

const usage = `Usage:
  bun run ingest -- --batches N            ingest the latest N 15-minute batches (1..96)
  bun run ingest -- --from D --to D        ingest every batch between D and D (YYYY-MM-DD, ISO date-time or YYYYMMDDHHMMSS)
Options: --quiet (no progress bar). Configuration comes from the environment (GDELT_BASE_URL, LAKE_URL, DATA_DIR, …).`;

function fail(message: string): never {
  return failWith(`${message}\n\n${usage}`);
}

let args;
try {
  args = parseArgs({ options: { batches: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }).values;
} catch (e) {
  fail((e as Error).message);
}
if (args.help) {
  console.log(usage);
  process.exit(0);
}
const config = cliConfig('ingest');

let request: { kind: 'latest'; n: number } | { kind: 'range'; from: string; to: string };
if (args.batches !== undefined) {
  const n = Number(args.batches);
  if (!Number.isInteger(n) || n < 1 || n > 96) fail(`--batches must be a whole number from 1 to 96 (got ${JSON.stringify(args.batches)}).`);
  request = { kind: 'latest', n };
} else if (args.from && args.to) {
  try {
    if (parseBoundary(args.from, 'from', false) > parseBoundary(args.to, 'to', true)) fail('--from must not be after --to.');
  } catch (e) {
    if (e instanceof AppError) fail(e.message);
    throw e;
  }
  request = { kind: 'range', from: args.from, to: args.to };
} else fail('Give --batches N, or --from and --to.');

// Logs go to a file-like stream on stderr only at warn and above, so the progress bar stays readable.
const log = createLogger({ level: args.quiet ? 'info' : 'warn', format: config.LOG_FORMAT, write: (l) => process.stderr.write(l + '\n') }).child({ component: 'ingest-cli' });
const controller = new AbortController();
process.on('SIGINT', () => controller.abort(new Error('interrupted')));
process.on('SIGTERM', () => controller.abort(new Error('terminated')));

const options = ingestOptions(config);
const env = await openIngestEnv(options, { log, clock: systemClock, signal: controller.signal });
const job = request.kind === 'latest' ? env.queue.enqueue('latest', { n_batches: request.n }) : env.queue.enqueue('range', { from: request.from, to: request.to });
const tty = !args.quiet && process.stderr.isTTY;

function bar(j: JobView) {
  const width = 30;
  const frac = j.batches_total ? j.batches_done / j.batches_total : 0;
  const filled = Math.round(frac * width);
  return `job ${j.job_id} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${j.batches_done}/${j.batches_total || '?'} batches · ${j.rows.toLocaleString('en-US')} rows · ${j.quarantined_rows} quarantined · ${j.errors.length} errors · ${j.state}`;
}
const show = (j: JobView) => {
  if (j.job_id !== job.job_id || args.quiet) return;
  if (tty) process.stderr.write(`\r\x1b[2K${bar(j)}`);
  else process.stderr.write(bar(j) + '\n');
};

// Runs the same loop as the server's worker in this process; it also finishes jobs a crashed run left behind,
// and stops once our job is done.
const stop = new AbortController();
const finished = new Promise<JobView>((resolve) => {
  const check = () => {
    const j = env.queue.get(job.job_id)!;
    if (j.state === 'succeeded' || j.state === 'failed') {
      stop.abort();
      resolve(j);
    }
  };
  const timer = setInterval(check, 200);
  stop.signal.addEventListener('abort', () => clearInterval(timer));
  controller.signal.addEventListener('abort', () => stop.abort());
});
const signal = AbortSignal.any([stop.signal, controller.signal]);
const loop = workLoop(env, { ...options, pollMinutes: undefined, idleCheckMs: 200 }, {
  signal,
  onJob: show,
  waitForWake: (ms) => systemClock.sleep(ms, signal).catch(() => {}),
});
const result = await Promise.race([finished, loop.then(() => env.queue.get(job.job_id)!)]);
await loop;
await env.close();
if (tty) process.stderr.write('\n');
if (controller.signal.aborted) {
  console.error(`Interrupted; job ${job.job_id} stays ${result.state} and resumes on the next run (or in the server).`);
  process.exit(130);
}
console.log(JSON.stringify(result, null, 2));
process.exit(result.state === 'succeeded' ? 0 : 1);
