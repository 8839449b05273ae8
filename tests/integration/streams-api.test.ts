import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTopic } from '../../src/features/streams/producer.ts';
import { skipReason, testApp, waitFor, type TestApp } from '../helpers/index.ts';
import { streamServices, type StreamServices } from '../helpers/streams.ts';

setDefaultTimeout(90_000);

const KEY = 'a-long-enough-secret-key';
const auth = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);
const S = 1000;

const specFor = (name: string, topic: string, patch: Record<string, unknown> = {}) => ({
  name,
  source: { topic, schema: { ts: 'timestamp', service: 'string', latency_ms: 'number', status: 'integer' } },
  time: { field: 'ts', watermark_delay: '1s', allowed_lateness: '10s' },
  key: ['service'],
  window: { type: 'tumbling', size: '10s' },
  aggregates: [
    { name: 'requests', fn: 'count' },
    { name: 'p95_ms', fn: 'p95', field: 'latency_ms' },
    { name: 'error_rate', fn: 'avg', field: 'status >= 500' },
  ],
  alerts: [{ name: 'errors', when: 'error_rate > 0.4' }],
  ...patch,
});

const rec = (t: number, service: string, latency_ms: number, status = 200) => JSON.stringify({ ts: new Date(t).toISOString(), service, latency_ms, status });

describe.skipIf(!!skipReason('postgres', 'kafka', 'redis'))('streams API on real Kafka, Postgres and Redis', () => {
  let s: StreamServices;
  let app: TestApp;
  let dir: string;

  const send = async (topic: string, values: (string | null)[], key = 'k') => {
    const producer = s.kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: values.map((value) => ({ key, value })) });
    await producer.disconnect();
  };
  const create = async (spec: unknown) => app.json('/api/v1/streams/jobs', { method: 'POST', headers: auth, body: JSON.stringify(spec) });
  const job = (name: string) => app.json(`/api/v1/streams/jobs/${name}`);

  beforeAll(async () => {
    s = streamServices();
    dir = mkdtempSync(join(tmpdir(), 'sillage-streams-'));
    mkdirSync(join(dir, 'streams'));
    const fileTopic = s.topic('file');
    await ensureTopic(s.kafka, fileTopic, 1);
    writeFileSync(join(dir, 'streams', 'from_file.yaml'), Bun.YAML.stringify(specFor('from_file', fileTopic)));
    // One client makes every request of this file, more than its rate limits allow (they are tested in tests/http).
    const unlimited = { RATE_LIMIT_SEARCH_PER_MINUTE: '1000000', RATE_LIMIT_MUTATIONS_PER_MINUTE: '1000000' };
    app = await testApp({ ...s.env(), ...unlimited, API_KEY: KEY, STREAMS_DIR: join(dir, 'streams'), STREAMS_COMMIT_INTERVAL_MS: '100' });
  });
  afterAll(async () => {
    await app.close();
    await s.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a job defined in a file starts with the app, shows in the list and cannot be deleted over the API', async () => {
    await waitFor(async () => (await job('from_file')).body?.state === 'running', { timeoutMs: 30_000, what: 'the file job to run' });
    const { body } = await app.json('/api/v1/streams/jobs');
    expect(body.jobs.map((j: { name: string; origin: string; file: string }) => [j.name, j.origin, j.file])).toContainEqual(['from_file', 'file', 'from_file.yaml']);
    const del = await app.json('/api/v1/streams/jobs/from_file', { method: 'DELETE', headers: auth });
    expect(del.status).toBe(409);
    expect(del.body.error).toMatchObject({ code: 'job_defined_in_file', message: expect.stringContaining('from_file.yaml') });
    expect((await app.json('/health')).body.components.streams).toBe('ok');
  });

  test('a created job aggregates records into windows readable from Postgres, Redis and the live feed', async () => {
    const topic = s.topic('requests');
    await ensureTopic(s.kafka, topic, 2);
    const created = await create(specFor('reqs', topic));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'reqs', origin: 'api', topic, spec: { name: 'reqs' } });
    await waitFor(async () => (await job('reqs')).body.state === 'running', { timeoutMs: 30_000, what: 'the job to run' });

    const live = await app.request('/api/v1/streams/jobs/reqs/live');
    expect(live.headers.get('content-type')).toBe('text/event-stream');
    const reader = live.body!.getReader();
    let feed = '';
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        feed += new TextDecoder().decode(value);
      }
    })();

    await send(topic, [rec(T0 + 1 * S, 'api', 10), rec(T0 + 2 * S, 'api', 30, 500), rec(T0 + 3 * S, 'web', 20), rec(T0 + 12 * S, 'api', 5), rec(T0 + 25 * S, 'web', 1)]);
    await waitFor(async () => (await app.json('/api/v1/streams/jobs/reqs/results')).body.results.length === 3, { timeoutMs: 20_000, what: 'three windows' });

    const all = await app.json('/api/v1/streams/jobs/reqs/results');
    expect(all.body.source).toBe('postgres');
    expect(all.body.results.map((r: any) => [r.key, r.window_start, r.values.requests, r.values.error_rate, r.alerts])).toEqual([
      ['api', new Date(T0 + 10 * S).toISOString(), 1, 0, []],
      ['api', new Date(T0).toISOString(), 2, 0.5, ['errors']],
      ['web', new Date(T0).toISOString(), 1, 0, []],
    ]);
    const one = await app.json(`/api/v1/streams/jobs/reqs/results?key=api&from=${new Date(T0 + 5 * S).toISOString()}&limit=5`);
    expect(one.body.results.map((r: any) => r.window_start)).toEqual([new Date(T0 + 10 * S).toISOString()]);
    // `to` is exclusive: windows starting before it.
    const before = await app.json(`/api/v1/streams/jobs/reqs/results?to=${new Date(T0 + 10 * S).toISOString()}`);
    expect(before.body.results.map((r: any) => [r.key, r.window_start])).toEqual([
      ['api', new Date(T0).toISOString()],
      ['web', new Date(T0).toISOString()],
    ]);
    const between = await app.json(`/api/v1/streams/jobs/reqs/results?key=api&from=${new Date(T0).toISOString()}&to=${new Date(T0 + 10 * S + 1).toISOString()}`);
    expect(between.body.results.map((r: any) => r.window_start)).toEqual([new Date(T0 + 10 * S).toISOString(), new Date(T0).toISOString()]);
    // The issue's URL template with nothing filled in: empty values are not given, so every window comes back.
    const template = await app.json('/api/v1/streams/jobs/reqs/results?key=&from=&to=&limit=&latest=');
    expect(template.status).toBe(200);
    expect(template.body).toEqual(all.body);
    expect((await app.json('/api/v1/streams/jobs/reqs/dlq?limit=')).status).toBe(200);

    const latest = await app.json('/api/v1/streams/jobs/reqs/results?latest=true');
    expect(latest.body.source).toBe('redis');
    expect(latest.body.results.map((r: any) => [r.key, r.window_start])).toEqual([
      ['api', new Date(T0 + 10 * S).toISOString()],
      ['web', new Date(T0).toISOString()],
    ]);
    // Redis is a cache of Postgres: when its values are gone they are rebuilt on read.
    await s.redis.del(`${s.redisPrefix}streams:reqs:latest`, `${s.redisPrefix}streams:reqs:latest_start`);
    expect((await app.json('/api/v1/streams/jobs/reqs/results?latest=true&key=web')).body.results.map((r: any) => r.key)).toEqual(['web']);
    expect(await s.redis.hlen(`${s.redisPrefix}streams:reqs:latest`)).toBe(2);

    await waitFor(() => (feed.match(/event: window/g) ?? []).length >= 3, { what: 'three windows on the live feed' });
    expect(feed).toStartWith('retry: 3000');
    const first = JSON.parse(/event: window\ndata: (.*)\n/.exec(feed)![1]!);
    expect(first).toMatchObject({ key: expect.any(String), window_start: expect.any(String), values: expect.any(Object), revision: 1 });
    await reader.cancel();
    await reading;

    const status = (await job('reqs')).body;
    expect(status).toMatchObject({ state: 'running', records_in: 5, late: 0, dlq: 0, windows_emitted: 3, open_windows: 2, lag: { total: 0 } });
    expect(status.watermark).toBe(new Date(T0 + 24 * S).toISOString());
    const metrics = await (await app.request('/metrics')).text();
    expect(metrics).toMatch(/sillage_streams_records_in_total\{stream_job="reqs"\} 5/);
    expect(metrics).toMatch(/sillage_streams_windows_emitted_total\{stream_job="reqs"\} 3/);
    expect(metrics).toMatch(/sillage_streams_consumer_lag_records\{stream_job="reqs"\} 0/);
  });

  test('a duplicate job name answers 409', async () => {
    const topic = s.topic('dup');
    const { status, body } = await create(specFor('reqs', topic));
    expect(status).toBe(409);
    expect(body.error).toMatchObject({ code: 'job_exists', message: expect.stringContaining('"reqs" already exists') });
  });

  test.each([
    ['an unknown aggregate', 'aggregates[0].fn', { aggregates: [{ name: 'x', fn: 'median', field: 'latency_ms' }] }],
    ['a window with slide > size', 'window.slide', { window: { type: 'hopping', size: '10s', slide: '1m' } }],
    ['a negative lateness', 'time.allowed_lateness', { time: { field: 'ts', allowed_lateness: '-10s' } }],
    ['a key field not in the schema', 'key[0]', { key: ['host'] }],
    ['a filter that references a missing field', 'filter', { filter: 'region = "eu"' }],
  ])('a spec with %s answers 400 pointing at %s', async (_what, path, patch) => {
    const { status, body } = await create(specFor('bad_spec', 'whatever', patch));
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_spec');
    expect(body.error.message).toContain(`${path}: `);
    expect(body.error.issues[0].path).toBe(path);
    expect((await job('bad_spec')).status).toBe(404);
  });

  test('records that are not JSON, miss the time field or are far in the future go to the dead-letter table with their reason', async () => {
    const topic = s.topic('bad');
    await ensureTopic(s.kafka, topic, 1);
    expect((await create(specFor('bad_records', topic))).status).toBe(201);
    const future = Date.now() + 3 * 3600 * 1000;
    await send(topic, ['{not json', JSON.stringify({ service: 'api', latency_ms: 1, status: 200 }), rec(future, 'api', 1), rec(T0, 'api', 1)]);
    await waitFor(async () => (await app.json('/api/v1/streams/jobs/bad_records/dlq')).body.records?.length === 3, { timeoutMs: 30_000, what: 'three dead letters' });
    const { body } = await app.json('/api/v1/streams/jobs/bad_records/dlq');
    expect(body.records.map((r: any) => [r.offset, r.reason]).sort()).toEqual([
      [0, 'invalid_json'],
      [1, 'missing_time'],
      [2, 'future_time'],
    ]);
    expect(body.records.find((r: any) => r.reason === 'invalid_json').value).toBe('{not json');
    expect(body.records.find((r: any) => r.reason === 'future_time').detail).toContain('ahead of the clock');
    await waitFor(async () => (await job('bad_records')).body.records_in === 4, { what: 'the counters' });
    expect((await job('bad_records')).body).toMatchObject({ records_in: 4, dlq: 3, late: 0 });
  });

  test('a job with sinks: [postgres] leaves Redis alone, and its latest windows come from Postgres, current after each commit', async () => {
    const topic = s.topic('pg_only');
    await ensureTopic(s.kafka, topic, 1);
    expect((await create(specFor('pg_only', topic, { sinks: ['postgres'] }))).status).toBe(201);
    const latest = async () => (await app.json('/api/v1/streams/jobs/pg_only/results?latest=true')).body;
    await send(topic, [rec(T0 + 1 * S, 'api', 10), rec(T0 + 12 * S, 'api', 20)]);
    await waitFor(async () => (await latest()).results?.length === 1, { timeoutMs: 30_000, what: 'the first window' });
    expect((await latest()).source).toBe('postgres');
    expect((await latest()).results[0].window_start).toBe(new Date(T0).toISOString());

    await send(topic, [rec(T0 + 25 * S, 'api', 30)]);
    await waitFor(async () => (await latest()).results?.[0]?.window_start === new Date(T0 + 10 * S).toISOString(), { timeoutMs: 30_000, what: 'the next window as the latest' });
    expect((await app.json('/api/v1/streams/jobs/pg_only/results')).body.results).toHaveLength(2);
    expect(await s.redis.exists(`${s.redisPrefix}streams:pg_only:latest`, `${s.redisPrefix}streams:pg_only:latest_start`)).toBe(0);
  });

  test('a job with sinks: [redis] keeps the newest window per key in Redis and no history in Postgres', async () => {
    const topic = s.topic('redis_only');
    await ensureTopic(s.kafka, topic, 1);
    expect((await create(specFor('redis_only', topic, { sinks: ['redis'] }))).status).toBe(201);
    await send(topic, [rec(T0 + 1 * S, 'api', 10), rec(T0 + 3 * S, 'web', 20), rec(T0 + 12 * S, 'api', 30)]);
    const latest = async () => (await app.json('/api/v1/streams/jobs/redis_only/results?latest=true')).body;
    await waitFor(async () => (await latest()).results?.length === 2, { timeoutMs: 30_000, what: 'two windows in Redis' });
    const body = await latest();
    expect(body.source).toBe('redis');
    expect(body.results.map((r: any) => [r.key, r.window_start, r.values.requests])).toEqual([
      ['api', new Date(T0).toISOString(), 1],
      ['web', new Date(T0).toISOString(), 1],
    ]);
    expect((await app.json('/api/v1/streams/jobs/redis_only/results')).body).toEqual({ job: 'redis_only', source: 'postgres', results: [] });
    const [rows] = await s.sql`SELECT count(*)::int AS n FROM stream_results WHERE job = 'redis_only'`;
    expect(rows!.n).toBe(0);
    // Offsets and counters are still committed to Postgres, so a restart resumes where the job was.
    await waitFor(async () => (await s.sql`SELECT 1 FROM stream_offsets WHERE job = 'redis_only' AND next_offset = 3`).length === 1, { what: 'the offsets commit' });
  });

  test('deleting a running job stops it cleanly and keeps its results', async () => {
    const before = (await app.json('/api/v1/streams/jobs/reqs/results')).body.results;
    expect(before.length).toBe(3);
    const del = await app.json('/api/v1/streams/jobs/reqs', { method: 'DELETE', headers: auth });
    expect(del).toEqual({ status: 200, body: { deleted: 'reqs', results_kept: true } });
    expect((await job('reqs')).status).toBe(404);
    expect((await app.json('/health')).body.workers['streams:reqs']).toBeUndefined();
    expect(app.log.lines.some((l) => l.msg === 'worker did not stop in time; terminating')).toBe(false);
    expect((await app.json('/api/v1/streams/jobs/reqs/results')).body.results).toEqual(before);
    expect((await app.json('/api/v1/streams/jobs/reqs', { method: 'DELETE', headers: auth })).status).toBe(404);
    const [offsets] = await s.sql`SELECT count(*)::int AS n FROM stream_offsets WHERE job = 'reqs'`;
    expect(offsets!.n).toBe(0);
  });
});
