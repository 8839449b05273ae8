import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EtlRunner } from '../../src/features/etl/runner.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { createLogger } from '../../src/platform/log.ts';
import { Metrics } from '../../src/platform/metrics.ts';
import { openSqlite } from '../../src/platform/stores/sqlite.ts';
import { peakRssMb } from '../lib.ts';

/**
 * One process, one measured ETL run end to end (source HTTP → SQLite file), after a warm-up run on a smaller
 * source. Prints { rowsPerSecond, ms, loaded, peakRssMb } as JSON.
 */
const ROOT = resolve(import.meta.dir, '../..');
const base = Bun.env.SOURCE!;
const pageSize = Number(Bun.env.PAGE_SIZE ?? 1000);
const log = createLogger({ level: 'warn', format: 'json', write: (l) => process.stderr.write(l + '\n') });

async function run(url: string) {
  const dir = mkdtempSync(join(tmpdir(), 'sillage-bench-etl-'));
  const store = openSqlite({ path: join(dir, 'sillage.db'), migrationsDir: join(ROOT, 'db/sqlite') });
  try {
    const runner = new EtlRunner({
      db: store.db,
      clock: systemClock,
      log,
      metrics: new Metrics({ defaultMetrics: false }),
      source: { url, pageSize, timeoutMs: 60_000, maxResponseBytes: 1 << 30, retries: 0, retryBaseDelayMs: 100 },
    });
    const t0 = performance.now();
    const run = await runner.start().done;
    const ms = performance.now() - t0;
    if (run.status !== 'succeeded') throw new Error(`run ${run.status}: ${run.error}`);
    return { ms, loaded: run.loaded };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await run(`${base}/warm/posts`);
const { ms, loaded } = await run(`${base}/posts`);
console.log(JSON.stringify({ rowsPerSecond: (loaded / ms) * 1000, ms, loaded, peakRssMb: await peakRssMb() }));
