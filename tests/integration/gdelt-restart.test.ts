import { afterAll, expect, test } from 'bun:test';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../bench/lib.ts';
import { GDELT_ZIPS, EVENT_ROWS, startGdeltMirror } from '../helpers/gdelt.ts';
import { ROOT, tempDir, waitFor } from '../helpers/index.ts';

const dir = tempDir('sillage-gdelt-restart-');
const mirror = startGdeltMirror();
// The third batch's events zip sends 60 KB of its 150 KB, then hangs: the server is killed mid-batch.
const stalled = '/20150218233000.export.CSV.zip';
mirror.override(stalled, () => {
  const bytes = readFileSync(join(GDELT_ZIPS, stalled));
  return new Response(
    new ReadableStream({
      start(c) {
        c.enqueue(bytes.subarray(0, 60_000));
      },
    }),
  );
});
afterAll(() => {
  mirror.stop();
  dir[Symbol.dispose]();
});

async function startServer(port: number) {
  const proc = Bun.spawn(['bun', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...Bun.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dir.path, GDELT_BASE_URL: mirror.url, LOG_FORMAT: 'json', LAKE_URL: '', DATABASE_URL: '', REDIS_URL: '', KAFKA_BOOTSTRAP_SERVERS: '' },
    stdout: 'ignore',
    stderr: 'ignore',
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${base}/health`)).ok, { timeoutMs: 20_000, what: 'the server to start' });
  return { proc, base };
}

const lakeFiles = () => readdirSync(join(dir.path, 'lake'), { recursive: true }).map(String).filter((f) => !f.endsWith('/') && f.includes('.')).sort();

test('a server killed mid-batch leaves no partial file visible, and after a restart the job finishes', async () => {
  const port = await freePort();
  let server = await startServer(port);
  const { job_id } = await (await fetch(`${server.base}/api/v1/ingest/trigger?n_batches=4`, { method: 'POST' })).json();
  await waitFor(() => mirror.hits.get(stalled), { timeoutMs: 30_000, what: 'the download of the third batch to start' });
  server.proc.kill('SIGKILL');
  await server.proc.exited;

  // Two batches were published; the third was half downloaded: nothing of it is in the lake, no temp file either.
  const files = lakeFiles();
  expect(files.filter((f) => f.endsWith('.parquet'))).toEqual([
    'events/date=2015-02-18/batch=20150218230000.parquet',
    'events/date=2015-02-18/batch=20150218231500.parquet',
    'mentions/date=2015-02-18/batch=20150218230000.parquet',
    'mentions/date=2015-02-18/batch=20150218231500.parquet',
  ]);
  expect(files.filter((f) => f.includes('.tmp-') || f.includes('20150218233000'))).toEqual([]);

  mirror.override(stalled, undefined);
  server = await startServer(port);
  try {
    const job = await waitFor(
      async () => {
        const j = await (await fetch(`${server.base}/api/v1/ingest/jobs/${job_id}`)).json();
        return j.state === 'succeeded' || j.state === 'failed' ? j : undefined;
      },
      // Below the rate limit's refill, so the reads after it are not refused.
      { timeoutMs: 60_000, intervalMs: 200, what: 'the resumed job to end' },
    );
    expect(job).toMatchObject({ state: 'succeeded', attempts: 2, batches_done: 4, errors: [] });
    const batches = await (await fetch(`${server.base}/api/v1/ingest/batches?table=events`)).json();
    expect(batches.items.map((b: any) => b.rows).sort()).toEqual(Object.values(EVENT_ROWS).sort());
    const search = await (await fetch(`${server.base}/api/v1/events/search?limit=1`)).json();
    expect(search.total).toBe(Object.values(EVENT_ROWS).reduce((a, b) => a + b));
  } finally {
    server.proc.kill('SIGTERM');
    await server.proc.exited;
  }
});
