import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { zipSync } from 'fflate';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFixtureServer } from '../helpers/fixtures.ts';
import { FIXTURE_LINES, GDELT_ZIPS, fixtureCsv, manifestLine, zipName, type MirrorFile, runJob } from '../helpers/gdelt.ts';
import { testApp, type TestApp } from '../helpers/index.ts';

/** A fixture events CSV moved to another batch time (DATEADDED rewritten), as bytes, optionally edited line by line. */
function csvFor(batch: string, edit: (fields: string[], i: number) => string[] | string | null = (f) => f, from = '20150218230000'): Buffer {
  const lines = fixtureCsv(from).toString('latin1').split('\n').filter(Boolean);
  const out: string[] = [];
  lines.forEach((l, i) => {
    const f = l.split('\t');
    f[59] = batch;
    const r = edit(f, i);
    if (r !== null) out.push(Array.isArray(r) ? r.join('\t') : r);
  });
  return Buffer.from(out.join('\n') + '\n', 'latin1');
}
const zipOf = (batch: string, csv: Uint8Array) => zipSync({ [`${batch}.export.CSV`]: csv });

/** A mirror serving the given files; lastupdate names the newest, the master list all of them. */
function mirrorOf(files: (MirrorFile & { serve?: Uint8Array | ((req: Request) => Response) })[], extraLines: string[] = []) {
  const lines = [...files.map(manifestLine), ...extraLines];
  const newest = files.map((f) => f.batch).sort().at(-1)!;
  const routes: Record<string, (req: Request) => Response> = {
    '/lastupdate.txt': () => new Response(lines.filter((l) => l.includes(`/${newest}.`)).join('\n') + '\n'),
    '/masterfilelist.txt': () => new Response(lines.join('\n') + '\n'),
  };
  for (const f of files) {
    const s = f.serve;
    routes[`/${zipName(f)}`] = typeof s === 'function' ? s : () => new Response((s ?? f.zip) as Uint8Array<ArrayBuffer>);
  }
  return startFixtureServer({ root: GDELT_ZIPS, routes });
}

async function withApp(mirror: ReturnType<typeof startFixtureServer>, fn: (t: TestApp) => Promise<void>, env: Record<string, string> = {}) {
  const t = await testApp({ GDELT_BASE_URL: mirror.url, GDELT_TABLES: 'events', ...env });
  try {
    await fn(t);
  } finally {
    await t.close();
    mirror.stop();
  }
}

const parquetFiles = (dir: string) =>
  existsSync(join(dir, 'lake/events')) ? readdirSync(join(dir, 'lake/events'), { recursive: true }).map(String).filter((f) => f.endsWith('.parquet')).sort() : [];
const fixtureZip = (batch: string) => new Uint8Array(readFileSync(join(GDELT_ZIPS, `${batch}.export.CSV.zip`)));

describe('bad inputs each give a clear error or a counted quarantine, and the lake stays consistent', () => {
  test('malformed and empty manifest lines are reported in the job; the good lines are ingested', async () => {
    const good = FIXTURE_LINES[0]!;
    const master = ['', good, 'not a manifest line', '12 zz http://x/20150218230000.export.CSV.zip', '   ', ''].join('\n');
    const mirror = startFixtureServer({ root: GDELT_ZIPS, routes: { '/lastupdate.txt': () => new Response(`${good}\n\nbroken line here\n`), '/masterfilelist.txt': () => new Response(master) } });
    await withApp(mirror, async (t) => {
      const job = await runJob(t, '/api/v1/ingest/trigger?n_batches=1');
      expect(job.state).toBe('succeeded');
      expect(job.rows).toBe(2271);
      expect(job.errors).toEqual([{ code: 'manifest_line_invalid', message: expect.stringContaining('"broken line here": size "broken" is not a whole number'), line: 3 }]);
    });
  });

  test('a lastupdate.txt with no usable line fails the job with manifest_empty', async () => {
    const mirror = startFixtureServer({ root: GDELT_ZIPS, routes: { '/lastupdate.txt': () => new Response('\n\ngarbage\n') } });
    await withApp(mirror, async (t) => {
      const job = await runJob(t, '/api/v1/ingest/trigger');
      expect(job.state).toBe('failed');
      expect(job.errors.at(-1)).toMatchObject({ code: 'manifest_empty', message: expect.stringContaining('line 3') });
      expect(parquetFiles(t.dir)).toEqual([]);
    });
  });

  test('a 404 for a listed batch fails that batch only; the others are ingested', async () => {
    const ok: MirrorFile = { batch: '20150218230000', table: 'events', zip: fixtureZip('20150218230000') };
    const missing: MirrorFile & { serve: () => Response } = { batch: '20150218231500', table: 'events', zip: fixtureZip('20150218231500'), serve: () => new Response('gone', { status: 404 }) };
    await withApp(mirrorOf([ok, missing]), async (t) => {
      const job = await runJob(t, '/api/v1/ingest/trigger?n_batches=2');
      expect(job).toMatchObject({ state: 'failed', batches_total: 2, batches_done: 2, rows: 2271 });
      expect(job.errors).toEqual([{ code: 'upstream_not_found', batch: '20150218231500', table: 'events', message: expect.stringContaining('answered 404') }]);
      expect(parquetFiles(t.dir)).toEqual(['date=2015-02-18/batch=20150218230000.parquet']);
    });
  });

  test('a batch answered 503 and then 429 is downloaded again and ingested; the job succeeds', async () => {
    const zip = fixtureZip('20150218230000');
    // Retry-After: 0 makes the backoff wait nothing, so the test does not wait for it.
    const answers = [() => new Response('busy', { status: 503, headers: { 'retry-after': '0' } }), () => new Response('slow down', { status: 429, headers: { 'retry-after': '0' } })];
    let n = 0;
    const serve = () => (n < answers.length ? answers[n++]!() : new Response(zip));
    const mirror = mirrorOf([{ batch: '20150218230000', table: 'events', zip, serve }]);
    await withApp(mirror, async (t) => {
      const job = await runJob(t, '/api/v1/ingest/trigger');
      expect(job).toMatchObject({ state: 'succeeded', batches_done: 1, rows: 2271, errors: [] });
      expect(mirror.hits.get('/20150218230000.export.CSV.zip')).toBe(3);
      expect(parquetFiles(t.dir)).toEqual(['date=2015-02-18/batch=20150218230000.parquet']);
    });
  });

  test('a zip served shorter than the manifest says fails with size_mismatch and publishes nothing', async () => {
    const zip = fixtureZip('20150218230000');
    await withApp(mirrorOf([{ batch: '20150218230000', table: 'events', zip, serve: zip.subarray(0, 100_000) }]), async (t) => {
      const job = await runJob(t, '/api/v1/ingest/trigger');
      expect(job.state).toBe('failed');
      expect(job.errors[0]).toMatchObject({ code: 'size_mismatch', message: expect.stringContaining('100000 bytes, not the 150383 bytes') });
      expect(parquetFiles(t.dir)).toEqual([]);
      expect(readdirSync(join(t.dir, 'tmp/gdelt')).filter((f) => !f.startsWith('duckdb'))).toEqual([]);
    });
  });

  test('a truncated zip that matches its manifest line fails with zip_truncated', async () => {
    const zip = fixtureZip('20150218230000').subarray(0, 100_000);
    await withApp(mirrorOf([{ batch: '20150218230000', table: 'events', zip }]), async (t) => {
      const job = await runJob(t, '/api/v1/ingest/trigger');
      expect(job.errors[0]).toMatchObject({ code: 'zip_truncated', batch: '20150218230000' });
      expect(parquetFiles(t.dir)).toEqual([]);
    });
  });

  test('a zip whose md5 does not match the manifest fails with md5_mismatch', async () => {
    const zip = fixtureZip('20150218230000');
    const tampered = zip.slice();
    tampered[1000] = tampered[1000]! ^ 0xff;
    await withApp(mirrorOf([{ batch: '20150218230000', table: 'events', zip, serve: tampered }]), async (t) => {
      const job = await runJob(t, '/api/v1/ingest/trigger');
      expect(job.errors[0]).toMatchObject({ code: 'md5_mismatch', message: expect.stringContaining('297a16b493de7cf6ca809a7cc31d0b93') });
      expect(parquetFiles(t.dir)).toEqual([]);
    });
  });

  test('zips holding no file or two files fail with zip_empty and zip_members', async () => {
    const none: MirrorFile = { batch: '20150219000000', table: 'events', zip: zipSync({}) };
    const two: MirrorFile = { batch: '20150219001500', table: 'events', zip: zipSync({ 'a.export.CSV': csvFor('20150219001500'), 'b.export.CSV': csvFor('20150219001500') }) };
    await withApp(mirrorOf([none, two]), async (t) => {
      const job = await runJob(t, '/api/v1/ingest/trigger?n_batches=2');
      expect(job.errors.map((e: any) => [e.batch, e.code])).toEqual([['20150219000000', 'zip_empty'], ['20150219001500', 'zip_members']]);
      expect(parquetFiles(t.dir)).toEqual([]);
    });
  });

  test('rows of 60 and 62 fields and rows with non-UTF-8 bytes are quarantined with their line numbers and counted', async () => {
    const batch = '20150219000000';
    const csv = csvFor(batch, (f, i) => (i === 9 ? f.slice(0, 60) : i === 19 ? [...f, 'extra'] : i === 29 ? f.map((v, k) => (k === 6 ? 'CAF\xe9' : v)) : f));
    await withApp(mirrorOf([{ batch, table: 'events', zip: zipOf(batch, csv) }]), async (t) => {
      const job = await runJob(t, '/api/v1/ingest/trigger');
      expect(job).toMatchObject({ state: 'succeeded', rows: 2268, quarantined_rows: 3, errors: [] });
      const { body } = await t.json('/api/v1/ingest/batches');
      expect(body.items[0]).toMatchObject({ rows: 2268, quarantined_rows: 3, quarantine_key: `_quarantine/events/batch=${batch}.jsonl` });
      const q = readFileSync(join(t.dir, 'lake', body.items[0].quarantine_key), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(q.map((r: any) => [r.line, r.reasons[0].split(':')[0]])).toEqual([[10, 'missing columns'], [20, 'too many columns'], [30, 'invalid encoding']]);
      expect(q[0].raw).toStartWith('410412356\t');
      expect((await t.json('/api/v1/events/search?limit=1')).body.total).toBe(2268);
    });
  });

  test('an empty CSV fails the batch with empty_file and publishes nothing', async () => {
    const batch = '20150219000000';
    await withApp(mirrorOf([{ batch, table: 'events', zip: zipOf(batch, new Uint8Array(0)) }]), async (t) => {
      const job = await runJob(t, '/api/v1/ingest/trigger');
      expect(job.errors[0]).toMatchObject({ code: 'empty_file', batch });
      expect(parquetFiles(t.dir)).toEqual([]);
    });
  });

  test('an event id seen again in a later batch: the latest DATEADDED wins in search and in stats', async () => {
    const first = '20150219000000';
    const second = '20150219001500';
    // The second batch repeats the first 10 events of the first one with another event code (a correction).
    const a = csvFor(first);
    const b = csvFor(second, (f, i) => (i < 10 ? f.map((v, k) => (k === 26 ? '141' : k === 28 ? '14' : v)) : null));
    await withApp(mirrorOf([{ batch: first, table: 'events', zip: zipOf(first, a) }, { batch: second, table: 'events', zip: zipOf(second, b) }]), async (t) => {
      const job = await runJob(t, '/api/v1/ingest/trigger?n_batches=2');
      expect(job).toMatchObject({ state: 'succeeded', rows: 2271 + 10 });
      const ev = await t.json('/api/v1/events/410412347');
      expect(ev.body).toMatchObject({ batch: second, event_code: '141', date_added: '2015-02-19T00:15:00.000Z' });
      expect((await t.json('/api/v1/events/search?limit=1')).body.total).toBe(2271);
      const stats = await t.json('/api/v1/events/stats?group_by=day');
      expect(stats.body.items).toEqual([{ key: '2015-02-19', label: null, count: 2271, avg_tone: expect.any(Number), avg_goldstein: expect.any(Number) }]);
      // Only the first batch, whose 10 corrected events lost to the second: they are left out of it.
      const firstOnly = await t.json('/api/v1/events/stats?group_by=day&until=2015-02-19T00:15:00Z');
      expect(firstOnly.body.items.map((i: any) => i.count)).toEqual([2261]);
      const timeline = await t.json('/api/v1/events/timeline?interval=15m');
      expect(timeline.body.items.map((i: any) => i.count)).toEqual([2261, 10]);
    });
  });
});

describe('bad query parameters are refused with 400 and say why', () => {
  let t: TestApp;
  beforeAll(async () => (t = await testApp()));
  afterAll(() => t.close());

  const bad = async (path: string, code: string, text: string | RegExp, init?: RequestInit) => {
    const r = await t.json(path, init);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe(code);
    expect(r.body.error.message).toMatch(text);
  };

  test('since=yesterday', () => bad('/api/v1/events/search?since=yesterday', 'invalid_time', 'since="yesterday" is not a date'));
  test('since after until', () => bad('/api/v1/events/search?since=2026-02-02&until=2026-02-01', 'invalid_time_range', 'is not before until'));
  test('since after until on stats', () => bad('/api/v1/events/stats?since=2026-02-02&until=2026-02-01', 'invalid_time_range', 'is not before'));
  test('limit=0', () => bad('/api/v1/events/search?limit=0', 'invalid_request', /"limit": must be an integer from 1 to 500 \(got 0\)/));
  test('limit=100000', () => bad('/api/v1/events/search?limit=100000', 'invalid_request', /"limit": must be an integer from 1 to 500 \(got 100000\)/));
  test('limit=abc', () => bad('/api/v1/events/search?limit=abc', 'invalid_request', /limit/));
  test('country=../../etc', () => bad('/api/v1/events/search?country=../../etc', 'invalid_request', /country/));
  test('event_code=1;DROP', () => bad('/api/v1/events/search?event_code=1%3BDROP', 'invalid_request', /event_code/));
  test('a query with nothing but punctuation', () => bad(`/api/v1/events/search?query=${encodeURIComponent(`%_;'"`)}`, 'invalid_query', 'no letters or digits'));
  test('country=USA on stats and timeline', async () => {
    await bad('/api/v1/events/stats?country=USA', 'invalid_request', /country/);
    await bad('/api/v1/events/timeline?country=USA', 'invalid_request', /country/);
  });
  test('event_code=abc on stats and timeline', async () => {
    await bad('/api/v1/events/stats?group_by=root_code&event_code=abc', 'invalid_request', /event_code/);
    await bad('/api/v1/events/timeline?event_code=abc', 'invalid_request', /event_code/);
  });
  test('a stats query with nothing but punctuation', () => bad(`/api/v1/events/stats?query=${encodeURIComponent('%;')}`, 'invalid_query', 'no letters or digits'));
  test('empty values mean "not given" (the URL template of the API docs: until=&country=&event_code=&actor=)', async () => {
    const res = await t.request('/api/v1/events/search?query=protest&since=2026-02-01&until=&country=&event_code=&actor=&limit=50&offset=0&sort=date');
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).items).toBeArray();
    expect((await t.request('/api/v1/events/stats?actor=&group_by=day')).status).toBe(200);
  });
  test('group_by=actor', () => bad('/api/v1/events/stats?group_by=actor', 'invalid_request', /group_by/));
  test('n_batches=0 and 97', async () => {
    await bad('/api/v1/ingest/trigger?n_batches=0', 'invalid_request', /"n_batches": must be an integer from 1 to 96 \(got 0\)/, { method: 'POST' });
    await bad('/api/v1/ingest/trigger?n_batches=97', 'invalid_request', /"n_batches": must be an integer from 1 to 96 \(got 97\)/, { method: 'POST' });
  });
  test('a backfill from after to, or over 31 days, or with words', async () => {
    await bad('/api/v1/ingest/backfill?from=2015-03-01&to=2015-02-01', 'invalid_time_range', 'after', { method: 'POST' });
    await bad('/api/v1/ingest/backfill?from=2015-01-01&to=2015-03-01', 'range_too_large', '31 days', { method: 'POST' });
    await bad('/api/v1/ingest/backfill?from=yesterday&to=today', 'invalid_time', 'from="yesterday"', { method: 'POST' });
  });

  test('quotes, %, _, ; and SQL keywords in a query are plain words: no error, no injection', async () => {
    for (const q of [`"protest`, `protest' OR 1=1 --`, '100%', 'a_b', 'x; DROP TABLE ev;', 'SELECT * FROM docs', 'NEAR(a b)', 'protest AND NOT']) {
      const r = await t.json(`/api/v1/events/search?query=${encodeURIComponent(q)}&actor=${encodeURIComponent(q)}`);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ items: [], total: 0 });
    }
    expect((await t.json('/api/v1/events/search')).status).toBe(200);
  });
});

describe('with API_KEY set', () => {
  let t: TestApp;
  beforeAll(async () => (t = await testApp({ API_KEY: 'a-very-long-test-secret', GDELT_BASE_URL: 'http://127.0.0.1:9' })));
  afterAll(() => t.close());

  test('trigger and backfill need the bearer key; reads do not', async () => {
    expect((await t.json('/api/v1/ingest/trigger', { method: 'POST' })).status).toBe(401);
    expect((await t.json('/api/v1/ingest/backfill?from=2015-02-18&to=2015-02-18', { method: 'POST', headers: { authorization: 'Bearer wrong' } })).status).toBe(403);
    const ok = await t.json('/api/v1/ingest/trigger', { method: 'POST', headers: { authorization: 'Bearer a-very-long-test-secret' } });
    expect(ok.status).toBe(202);
    expect((await t.json('/api/v1/ingest/jobs')).status).toBe(200);
    expect((await t.json('/api/v1/events/search?query=x')).status).toBe(200);
  });
});
