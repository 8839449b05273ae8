import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BATCHES, EVENT_ROWS, MENTION_ROWS, runJob, startGdeltMirror } from '../helpers/gdelt.ts';
import { testApp, type TestApp } from '../helpers/index.ts';

const lakeFiles = (dir: string) => {
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  return walk(join(dir, 'lake')).map((f) => f.slice(dir.length + 6)).sort();
};

describe('GDELT lake over the 2015-02-18 fixture batches', () => {
  let t: TestApp;
  const mirror = startGdeltMirror();
  let job: any;
  beforeAll(async () => {
    t = await testApp({ GDELT_BASE_URL: mirror.url });
    job = await runJob(t, '/api/v1/ingest/trigger?n_batches=4');
  });
  afterAll(async () => {
    await t.close();
    mirror.stop();
  });

  test('trigger answers 202 with { job_id, state } and the job ends succeeded with its counters', async () => {
    const r = await t.json('/api/v1/ingest/trigger?n_batches=1', { method: 'POST' });
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ job_id: expect.any(Number), state: 'queued' });
    const total = Object.values(EVENT_ROWS).reduce((a, b) => a + b) + Object.values(MENTION_ROWS).reduce((a, b) => a + b);
    expect(job).toMatchObject({ state: 'succeeded', batches_total: 4, batches_done: 4, rows: total, quarantined_rows: 0, errors: [], attempts: 1 });
    const list = await t.json('/api/v1/ingest/jobs');
    expect(list.body.items.map((j: any) => j.job_id)).toContain(job.job_id);
  });

  test('every batch is in the lake with its rows, the manifest size and md5, partitioned by date', async () => {
    const { body } = await t.json('/api/v1/ingest/batches?table=events');
    expect(body.items.map((b: any) => [b.batch_time, b.rows])).toEqual(
      [...BATCHES].reverse().map((b) => [new Date(Date.UTC(2015, 1, 18, 23, Number(b.slice(10, 12)))).toISOString(), EVENT_ROWS[b]]),
    );
    expect(body.items.at(-1)).toMatchObject({
      name: '20150218230000.export.CSV.zip', table: 'events', bytes: 150383, md5: '297a16b493de7cf6ca809a7cc31d0b93', quarantined_rows: 0,
      parquet_key: 'events/date=2015-02-18/batch=20150218230000.parquet', ingested_at: expect.any(String), indexed_at: expect.any(String),
    });
    const mentions = await t.json('/api/v1/ingest/batches?table=mentions');
    expect(mentions.body.items.map((b: any) => b.indexed_at)).toEqual([null, null, null, null]);
    expect(mentions.body.items.map((b: any) => b.rows).sort()).toEqual(Object.values(MENTION_ROWS).sort());
    expect(lakeFiles(t.dir).filter((f) => f.endsWith('.parquet'))).toEqual([
      ...BATCHES.map((b) => `events/date=2015-02-18/batch=${b}.parquet`),
      ...BATCHES.map((b) => `mentions/date=2015-02-18/batch=${b}.parquet`),
    ]);
  });

  test('a known event reads back field by field, with CAMEO and country names', async () => {
    const { status, body } = await t.json('/api/v1/events/410412347');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      id: 410412347, date: '2014-02-18', date_added: '2015-02-18T23:00:00.000Z', batch: '20150218230000',
      actor1: { name: null, code: null }, actor2: { name: 'PRESIDENT', code: 'GOV' },
      event_code: '043', event_description: 'Host a visit', event_root_code: '04', event_root_description: 'CONSULT',
      quad_class: 1, goldstein: 2.8, mentions: 5, tone: -4.4776119402985,
      country: { code: 'SF', name: 'South Africa' }, location: 'Waterkloof, Free State, South Africa',
      source_url: 'http://www.dailymaverick.co.za/article/2015-02-19-sona2015-jamming-state-security-agency-steps-forward-blames-low-ranking-operator/',
    });
    expect(body.fields).toMatchObject({ GLOBALEVENTID: '410412347', SQLDATE: '2014-02-18', MonthYear: 201402, FractionDate: 2014.1315, IsRootEvent: 0, NumSources: 1, NumArticles: 5, Actor2Geo_Lat: -30.3098, Actor2Geo_FeatureID: '-1299321', DATEADDED: '2015-02-18 23:00:00' });
    expect(body.names).toMatchObject({ QuadClass: 'Verbal cooperation', ActionGeo_CountryCode: 'South Africa', Actor2Type1Code: 'Government' });
    expect((await t.json('/api/v1/events/1')).status).toBe(404);
  });

  test('the last row of a batch is stored exactly as GDELT wrote it', async () => {
    const { body } = await t.json('/api/v1/events/410423407');
    expect(body).toMatchObject({ id: 410423407, date_added: '2015-02-18T23:45:00.000Z' });
    expect(body.fields.SOURCEURL).toStartWith('http');
  });

  test('query=protest finds protest-coded events even when no text says protest, newest first', async () => {
    const { status, body } = await t.json('/api/v1/events/search?query=protest&limit=500');
    expect(status).toBe(200);
    expect(body.total).toBeGreaterThan(50);
    expect(body.items.length).toBe(Math.min(500, body.total));
    const silent = body.items.filter((e: any) => e.event_root_code === '14' && !/protest/i.test(`${e.source_url} ${e.actor1.name} ${e.actor2.name} ${e.location}`));
    expect(silent.length).toBeGreaterThan(0);
    expect(silent[0].event_root_description).toBe('PROTEST');
    const times = body.items.map((e: any) => e.date_added);
    expect([...times].sort().reverse()).toEqual(times);
  });

  test('search filters by time window, country, event code and actor, and pages', async () => {
    const all = (await t.json('/api/v1/events/search?limit=1')).body.total;
    expect(all).toBe(Object.values(EVENT_ROWS).reduce((a, b) => a + b));
    const late = await t.json('/api/v1/events/search?since=2015-02-18T23:30:00Z&limit=1');
    expect(late.body.total).toBe(EVENT_ROWS['20150218233000']! + EVENT_ROWS['20150218234500']!);
    const window = await t.json('/api/v1/events/search?since=2015-02-18T23:15:00Z&until=2015-02-18T23:30:00Z&limit=1');
    expect(window.body.total).toBe(EVENT_ROWS['20150218231500']);
    const us = await t.json('/api/v1/events/search?country=us&event_code=14&limit=100');
    expect(us.body.items.every((e: any) => e.country.code === 'US' && e.event_code.startsWith('14'))).toBe(true);
    const actor = await t.json('/api/v1/events/search?actor=police&limit=100');
    expect(actor.body.total).toBeGreaterThan(0);
    expect(actor.body.items.every((e: any) => `${e.actor1.name} ${e.actor2.name}`.includes('POLICE'))).toBe(true);
    const p1 = await t.json('/api/v1/events/search?query=police&limit=5');
    const p2 = await t.json('/api/v1/events/search?query=police&limit=5&offset=5');
    expect(p2.body.total).toBe(p1.body.total);
    expect(p2.body.items[0].id).not.toBe(p1.body.items[0].id);
    const mentions = await t.json('/api/v1/events/search?query=police&sort=mentions&limit=20');
    const m = mentions.body.items.map((e: any) => e.mentions);
    expect([...m].sort((a: number, b: number) => b - a)).toEqual(m);
  });

  test('a rare actor name is found through its words', async () => {
    const { body } = await t.json('/api/v1/events/search?query=waterkloof');
    expect(body.items.map((e: any) => e.id)).toContain(410412347);
  });

  test('stats group by root code, country, quad class and day with counts, average tone and Goldstein', async () => {
    const root = await t.json('/api/v1/events/stats?group_by=root_code');
    expect(root.status).toBe(200);
    const total = Object.values(EVENT_ROWS).reduce((a, b) => a + b);
    expect(root.body.items.reduce((a: number, i: any) => a + i.count, 0)).toBe(total);
    expect(root.body.items[0]).toEqual({ key: '04', label: 'CONSULT', count: 2001, avg_tone: expect.any(Number), avg_goldstein: expect.any(Number) });
    const day = await t.json('/api/v1/events/stats?group_by=day');
    expect(day.body.items).toEqual([{ key: '2015-02-18', label: null, count: total, avg_tone: expect.any(Number), avg_goldstein: expect.any(Number) }]);
    const quad = await t.json('/api/v1/events/stats?group_by=quad_class');
    expect(quad.body.items.map((i: any) => i.label).sort()).toEqual(['Material conflict', 'Material cooperation', 'Verbal conflict', 'Verbal cooperation']);
    const country = await t.json('/api/v1/events/stats?group_by=country&since=2015-02-18T23:45:00Z');
    expect(country.body.items.reduce((a: number, i: any) => a + i.count, 0)).toBe(EVENT_ROWS['20150218234500']);
    expect(country.body.items.find((i: any) => i.key === 'US').label).toBe('United States');
    const none = await t.json('/api/v1/events/stats?since=2020-01-01');
    expect(none.body).toEqual({ items: [] });
  });

  test('the timeline counts events per 15 minutes, hour or day, for all events or those matching a query', async () => {
    const all = await t.json('/api/v1/events/timeline?interval=15m');
    expect(all.body.items.map((i: any) => [i.key, i.count])).toEqual(BATCHES.map((b, k) => [new Date(Date.UTC(2015, 1, 18, 23, k * 15)).toISOString(), EVENT_ROWS[b]]));
    const total = Object.values(EVENT_ROWS).reduce((a, b) => a + b);
    const day = await t.json('/api/v1/events/timeline?interval=day');
    expect(day.body.items).toEqual([{ key: '2015-02-18T00:00:00.000Z', label: null, count: total, avg_tone: expect.any(Number), avg_goldstein: expect.any(Number) }]);
    const hour = await t.json('/api/v1/events/timeline?interval=hour');
    expect(hour.body.items.map((i: any) => [i.key, i.count])).toEqual([['2015-02-18T23:00:00.000Z', total]]);
    const protestDay = await t.json('/api/v1/events/timeline?interval=day&query=protest');
    expect(protestDay.body.items.map((i: any) => i.key)).toEqual(['2015-02-18T00:00:00.000Z']);
    const protest = await t.json('/api/v1/events/timeline?interval=hour&query=protest');
    const searched = await t.json('/api/v1/events/search?query=protest&limit=1');
    expect(protest.body.items).toHaveLength(1);
    expect(protest.body.items[0].count).toBe(searched.body.total);
  });

  test('stats and timeline with search filters count exactly the events the same search matches', async () => {
    for (const filters of ['query=protest', 'country=us', 'event_code=14', 'actor=police', 'query=police&country=US&since=2015-02-18T23:30:00Z']) {
      const { total } = (await t.json(`/api/v1/events/search?${filters}&limit=1`)).body;
      expect(total).toBeGreaterThan(0);
      for (const group_by of ['root_code', 'country', 'quad_class', 'day']) {
        const r = await t.json(`/api/v1/events/stats?${filters}&group_by=${group_by}`);
        expect(r.status).toBe(200);
        expect(r.body.items.reduce((a: number, i: any) => a + i.count, 0)).toBe(total);
      }
      const tl = await t.json(`/api/v1/events/timeline?${filters}&interval=15m`);
      expect(tl.body.items.reduce((a: number, i: any) => a + i.count, 0)).toBe(total);
    }
    const protest = await t.json('/api/v1/events/stats?event_code=14&group_by=root_code');
    expect(protest.body.items).toEqual([{ key: '14', label: 'PROTEST', count: expect.any(Number), avg_tone: expect.any(Number), avg_goldstein: expect.any(Number) }]);
    const us = await t.json('/api/v1/events/stats?country=US&group_by=country');
    expect(us.body.items.map((i: any) => [i.key, i.label])).toEqual([['US', 'United States']]);
    const day = await t.json('/api/v1/events/stats?query=protest&group_by=day');
    expect(day.body.items.map((i: any) => i.key)).toEqual(['2015-02-18']);
    const nothing = await t.json('/api/v1/events/stats?query=zzzzunknownword&group_by=root_code');
    expect(nothing.body).toEqual({ items: [] });
  });

  test('the batch list sums the rows of every batch matching its filter, beyond the page', async () => {
    const { body } = await t.json('/api/v1/ingest/batches?table=events&limit=1');
    expect(body.items).toHaveLength(1);
    expect(body).toMatchObject({ total: 4, rows: Object.values(EVENT_ROWS).reduce((a, b) => a + b) });
    const all = await t.json('/api/v1/ingest/batches');
    expect(all.body.rows).toBe(Object.values(EVENT_ROWS).reduce((a, b) => a + b) + Object.values(MENTION_ROWS).reduce((a, b) => a + b));
  });

  test('ingesting the same batches again changes nothing in the lake', async () => {
    const before = lakeFiles(t.dir).map((f) => [f, statSync(join(t.dir, 'lake', f)).mtimeMs]);
    const again = await runJob(t, '/api/v1/ingest/backfill?from=2015-02-18&to=2015-02-18');
    expect(again).toMatchObject({ state: 'succeeded', batches_total: 4, batches_done: 4, errors: [] });
    expect(lakeFiles(t.dir).map((f) => [f, statSync(join(t.dir, 'lake', f)).mtimeMs])).toEqual(before);
    expect((await t.json('/api/v1/events/search?limit=1')).body.total).toBe(Object.values(EVENT_ROWS).reduce((a, b) => a + b));
    expect((await t.json('/api/v1/ingest/batches')).body.total).toBe(8);
  });

  test('/health reports the lake with how queries read it', async () => {
    const { body } = await t.json('/health');
    expect(body.details.lake).toMatchObject({
      status: 'ok', kind: 'file', query_access: 'direct', batches: 8, newest_batch: '20150218234500',
      search_index: { indexed_batches: 4, pending_batches: 0, newest_indexed_batch: '20150218234500' },
    });
  });

  test('the lake holds a manifest object per batch, written after its data', () => {
    const marker = JSON.parse(readFileSync(join(t.dir, 'lake/_batches/events/20150218230000.json'), 'utf8'));
    expect(marker).toMatchObject({ table: 'events', batch: '20150218230000', rows: 2271, md5: '297a16b493de7cf6ca809a7cc31d0b93' });
  });
});

describe('the first lake queries after start', () => {
  test('run side by side without a DuckDB catalog conflict', async () => {
    const mirror = startGdeltMirror();
    const t = await testApp({ GDELT_BASE_URL: mirror.url });
    try {
      await runJob(t, '/api/v1/ingest/trigger?n_batches=2');
      const paths = ['/api/v1/events/stats?group_by=root_code', '/api/v1/events/stats?group_by=country', '/api/v1/events/timeline?interval=hour', '/api/v1/events/stats?group_by=day', '/api/v1/events/timeline?interval=15m', '/api/v1/events/stats?group_by=quad_class'];
      const answers = await Promise.all(paths.map((p) => t.json(p)));
      expect(answers.map((a) => a.status)).toEqual(paths.map(() => 200));
    } finally {
      await t.close();
      mirror.stop();
    }
  });
});
