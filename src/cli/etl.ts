import { join, resolve } from 'node:path';
import { systemClock } from '../platform/clock.ts';
import { cliConfig } from './common.ts';
import { AppError, errorMessage } from '../platform/errors.ts';
import { createLogger } from '../platform/log.ts';
import { Metrics } from '../platform/metrics.ts';
import { openSqlite } from '../platform/stores/sqlite.ts';
import { sourceOptions } from '../features/etl/index.ts';
import type { Run } from '../features/etl/model.ts';
import { EtlRunner, type Progress } from '../features/etl/runner.ts';

/**
 * `bun run etl [-- --json] [-- --verbose]`: one ETL run from the command line against DATA_DIR's database, with
 * a progress line on stderr and a summary on stdout. Exit code: 0 succeeded or partial, 1 failed,
 * 2 bad configuration, 3 another run in progress, 130 interrupted.
 */
const ROOT = resolve(import.meta.dir, '../..');
const args = new Set(process.argv.slice(2));
if (args.has('--help') || args.has('-h')) {
  console.log('Usage: bun run etl [-- --json] [-- --verbose]\n  Runs the ETL once (ETL_SOURCE_URL → SQLite in DATA_DIR) and prints a summary.\n  --json     print the final run record as JSON on stdout\n  --verbose  log at LOG_LEVEL instead of warnings only');
  process.exit(0);
}

const config = cliConfig('etl');

const err = process.stderr;
const tty = !!err.isTTY;
let progressShown = false;
const clearProgress = () => {
  if (tty && progressShown) err.write('\r\x1b[K');
  progressShown = false;
};
const log = createLogger({
  level: args.has('--verbose') ? config.LOG_LEVEL : 'warn',
  format: config.LOG_FORMAT,
  write: (line) => {
    clearProgress();
    err.write(line + '\n');
  },
});

const store = openSqlite({ path: join(config.dataDir, 'sillage.db'), migrationsDir: join(ROOT, 'db/sqlite') });
const runner = new EtlRunner({ db: store.db, source: sourceOptions(config), clock: systemClock, log, metrics: new Metrics({ defaultMetrics: false }) });

let lastPrinted = 0;
function showProgress(p: Progress) {
  const text = p.stage === 'load' ? `run ${p.runId}: loading ${p.posts} posts…` : `run ${p.runId}: page ${p.page}, ${p.extracted} records read, ${p.rejected} rejected`;
  if (tty) {
    err.write(`\r\x1b[K${text}`);
    progressShown = true;
  } else if (p.stage === 'load' || Date.now() - lastPrinted >= 1000) {
    // Without a terminal a line per page would flood the log; one a second is enough to see it move.
    err.write(text + '\n');
    lastPrinted = Date.now();
  }
}

function summary(run: Run): string {
  const seconds = ((run.duration_ms ?? 0) / 1000).toFixed(2);
  const counts = `extracted ${run.extracted}, loaded ${run.loaded}, rejected ${run.rejected}`;
  if (run.status === 'failed') return `ETL run ${run.id} failed after ${seconds} s (${counts}).\n${run.error}`;
  const lines = [`ETL run ${run.id} ${run.status} in ${seconds} s: ${counts}. Source: ${runner.sourceUrl}`];
  if (run.rejected) {
    const detail = runner.runs.detail(run.id, 5)!;
    lines.push(`Rejected records (first ${detail.rejected_records.length} of ${run.rejected}; all in GET /etl/runs/${run.id}):`);
    for (const r of detail.rejected_records) lines.push(`  #${r.position}: ${r.reason}`);
  }
  return lines.join('\n');
}

let code = 0;
try {
  const { done } = runner.start({ onProgress: showProgress });
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    void runner.stop('interrupted from the keyboard (Ctrl-C)');
  });
  const run = await done;
  clearProgress();
  console.log(args.has('--json') ? JSON.stringify(run, null, 2) : summary(run));
  code = interrupted ? 130 : run.status === 'failed' ? 1 : 0;
} catch (error) {
  clearProgress();
  if (error instanceof AppError && error.code === 'etl_running') {
    console.error(error.message);
    code = 3;
  } else {
    console.error(`The ETL could not start: ${errorMessage(error)}`);
    code = 1;
  }
} finally {
  await store.close();
}
process.exit(code);
