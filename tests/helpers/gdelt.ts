import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'bun:test';
import { FIXTURES, startFixtureServer, type FixtureServer } from './fixtures.ts';
import { waitFor, type TestApp } from './index.ts';

export const GDELT_ZIPS = join(FIXTURES, 'gdelt/events/v2-2015-02-18/zip');
export const MASTER = readFileSync(join(FIXTURES, 'gdelt/manifests/masterfilelist.v2.first1000.txt'), 'utf8');
/** GDELT's own lines for the 4 fixture batches (events, mentions, gkg each), unchanged. */
export const FIXTURE_LINES = MASTER.split('\n').slice(0, 12);
export const BATCHES = ['20150218230000', '20150218231500', '20150218233000', '20150218234500'];
export const EVENT_ROWS: Record<string, number> = { '20150218230000': 2271, '20150218231500': 2102, '20150218233000': 2084, '20150218234500': 2252 };
export const MENTION_ROWS: Record<string, number> = { '20150218230000': 8462, '20150218231500': 8857, '20150218233000': 9709, '20150218234500': 10180 };

const text = (body: string) => () => new Response(body, { headers: { 'content-type': 'text/plain' } });

/**
 * A GDELT 2.0 mirror on 127.0.0.1: the real 2015-02-18 zips, GDELT's own manifest lines (their sizes and md5s
 * match the zips), lastupdate.txt naming the 23:45 batch and masterfilelist.txt the first 1000 published lines.
 */
export function startGdeltMirror(options: { lastupdate?: string; master?: string } = {}): FixtureServer {
  return startFixtureServer({
    root: GDELT_ZIPS,
    routes: {
      '/lastupdate.txt': text(options.lastupdate ?? FIXTURE_LINES.slice(9, 12).join('\n') + '\n'),
      '/masterfilelist.txt': text(options.master ?? MASTER),
    },
  });
}

export type MirrorFile = { batch: string; table: 'events' | 'mentions'; zip: Uint8Array };

/** A manifest line for bytes we serve: GDELT's format, with the real size and md5 of those bytes. */
export function manifestLine(f: MirrorFile): string {
  const name = `${f.batch}.${f.table === 'events' ? 'export' : 'mentions'}.CSV.zip`;
  return `${f.zip.byteLength} ${new Bun.CryptoHasher('md5').update(f.zip).digest('hex')} http://data.gdeltproject.org/gdeltv2/${name}`;
}

export const zipName = (f: Pick<MirrorFile, 'batch' | 'table'>) => `${f.batch}.${f.table === 'events' ? 'export' : 'mentions'}.CSV.zip`;

/** Events CSV text of a fixture batch (LF lines, no header), to build broken variants from. */
export const fixtureCsv = (batch: string, table: 'events' | 'mentions' = 'events') =>
  readFileSync(join(FIXTURES, `gdelt/events/v2-2015-02-18/${batch}.${table === 'events' ? 'export' : 'mentions'}.CSV`));

/**
 * Queues a job with a POST and waits until it ends. Polls 5 times a second, below the rate limit's refill
 * (RATE_LIMIT_SEARCH_PER_MINUTE, 10/s by default), so waiting leaves the test's budget of reads intact.
 */
export async function runJob(t: TestApp, path: string, init: RequestInit = { method: 'POST' }) {
  const r = await t.json(path, init);
  expect(r.status).toBe(202);
  return waitFor(
    async () => {
      const j = await t.json(`/api/v1/ingest/jobs/${r.body.job_id}`);
      return j.body.state === 'succeeded' || j.body.state === 'failed' ? j.body : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200, what: `job ${r.body.job_id} to end` },
  );
}

