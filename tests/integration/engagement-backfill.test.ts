import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { ROOT } from '../../src/platform/context.ts';
import { loadConfig } from '../../src/platform/config.ts';
import { memoryLogger } from '../../src/platform/log.ts';
import { runBackfill } from '../../src/features/engagement/backfill.ts';
import { buildWorld, copyEvents, spreadEvents } from '../../src/features/engagement/generator.ts';
import { pipelineOptions } from '../../src/features/engagement/options.ts';
import { skipReason, waitFor, type TestApp } from '../helpers/index.ts';
import type { RestReceiver } from '../helpers/rest-receiver.ts';
import { pipelineEnv, startPipelineWithRest, type RestPipeline, type RunningPipeline } from './engagement-fixture.ts';

setDefaultTimeout(120_000);

const range = { startDate: '2026-01-01', endDate: '2026-01-03', fromMs: Date.UTC(2026, 0, 1), toMs: Date.UTC(2026, 0, 4) };

describe.skipIf(!!skipReason('postgres', 'kafka', 'redis'))('backfill from Postgres through every sink', () => {
  let receiver: RestReceiver;
  let pipeline: RestPipeline;
  let t: TestApp;
  let sql: RunningPipeline['sql'];
  const { env, names } = pipelineEnv({ ENGAGEMENT_PIPELINE: 'off', EXTERNAL_SINK_RETRIES: '1' });
  let options: ReturnType<typeof pipelineOptions>;
  let inRange: string[];

  beforeAll(async () => {
    // The app only serves the API here (no streaming), to read the warehouse and the DLQ.
    pipeline = await startPipelineWithRest({ env, names });
    ({ t, sql, receiver } = pipeline);
    options = pipelineOptions(loadConfig({ ...env, EXTERNAL_SINK_URL: receiver.url }));
    const world = buildWorld({ seed: 7, contents: 12, users: 200 });
    await sql`INSERT INTO content ${sql(world.catalogue)}`;
    await copyEvents(sql, spreadEvents(world, 900, range.fromMs, range.toMs));
    // Outside the range on both sides: never backfilled.
    await copyEvents(sql, spreadEvents(world, 40, range.fromMs - 86_400_000, range.fromMs));
    await copyEvents(sql, spreadEvents(world, 40, range.toMs, range.toMs + 86_400_000));
    // Two events without content: dead-lettered (unknown_content), the rest goes on.
    await sql`INSERT INTO engagement_events (content_id, user_id, event_type, event_ts) VALUES
      (NULL, ${world.users[0]!}, 'play', '2026-01-02T10:00:00Z'), (NULL, ${world.users[1]!}, 'click', '2026-01-02T11:00:00Z')`;
    inRange = (await sql<{ id: string }[]>`SELECT id::text FROM engagement_events WHERE event_ts >= '2026-01-01' AND event_ts < '2026-01-04' AND content_id IS NOT NULL`).map((r) => `engagement_events:${r.id}`);
  }, 90_000);

  afterAll(() => pipeline?.close(), 60_000);

  test('an interrupted backfill resumes from its checkpoints and ends with every event of the range once in every sink', async () => {
    const stop = new AbortController();
    const first = await runBackfill(options, { ...range, lanes: 3, batchSize: 50, restart: false }, { log: memoryLogger(), onProgress: (p) => p.done >= 100 && stop.abort() }, stop.signal);
    expect(first.interrupted).toBe(true);
    expect(first.resumed).toBe(false);
    expect(first.total).toBe(902);
    expect(first.done).toBeLessThan(902);

    const plans: boolean[] = [];
    const second = await runBackfill(options, { ...range, lanes: 3, batchSize: 50, restart: false }, { log: memoryLogger(), onPlan: (p) => plans.push(p.resumed) }, new AbortController().signal);
    expect(plans).toEqual([true]);
    expect(second).toMatchObject({ interrupted: false, resumed: true, total: 902, done: 902 });
    expect(second.eventsThisRun).toBe(902 - first.done);

    const wh = await sql.unsafe<{ n: string }[]>(`SELECT count(*) AS n FROM "${names.schema}_wh".engagement_facts`);
    expect(Number(wh[0]!.n)).toBe(900);
    expect([...receiver.applied.keys()].sort()).toEqual([...inRange].sort());
    const daily = await t.json('/warehouse/daily?from=2026-01-01&to=2026-01-03');
    expect(daily.body.items.reduce((n: number, i: { events: number }) => n + i.events, 0)).toBe(900);
    const dlq = await t.json('/dlq?reason=unknown_content');
    expect(dlq.body.items).toHaveLength(2);
    expect(dlq.body.items[0]).toMatchObject({ sink: null, reason: 'unknown_content', source: { topic: names.eventsTopic, partition: -1 } });
    // The letter keeps the bytes the CDC relay would have produced for that row.
    expect(JSON.parse(dlq.body.items[0].value)).toMatchObject({ content_id: null, event_ts: '2026-01-02T11:00:00.000Z', event_type: 'click' });
  });

  test('running it again with --restart applies nothing new: every event is a duplicate in every sink', async () => {
    const again = await runBackfill(options, { ...range, lanes: 2, batchSize: 200, restart: true }, { log: memoryLogger() }, new AbortController().signal);
    expect(again).toMatchObject({ resumed: false, done: 902 });
    expect(again.perSink.warehouse).toEqual({ applied: 0, duplicates: 900, deadLettered: 0 });
    expect(again.perSink.rest).toEqual({ applied: 0, duplicates: 900, deadLettered: 0 });
    // Events of January are older than the live window: acknowledged by Redis without effect.
    expect(again.perSink.redis!.applied + again.perSink.redis!.duplicates).toBe(900);
    expect(receiver.applied.size).toBe(900);
  });

  test('the command prints progress with rate and ETA on stderr and a JSON summary; a finished job has nothing left to do', async () => {
    const proc = Bun.spawn(['bun', 'src/cli/pipeline.ts', 'backfill', '--start-date', range.startDate, '--end-date', range.endDate], {
      cwd: ROOT,
      env: { ...Bun.env, ...env, EXTERNAL_SINK_URL: receiver.url, LOG_LEVEL: 'warn' },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(code).toBe(0);
    expect(err).toContain('Resuming backfill 2026-01-01..2026-01-03: 902 of 902 events already done');
    expect(err).toMatch(/100\.0% 902\/902 events · \d[\d,]* ev\/s · ETA \d+:\d\d/);
    expect(JSON.parse(out)).toMatchObject({ job: '2026-01-01..2026-01-03', done: 902, total: 902, eventsThisRun: 0 });
  });
});

describe.skipIf(!!skipReason('postgres', 'kafka', 'redis'))('backfill while the stream runs', () => {
  const { env, names } = pipelineEnv({ CDC_HEARTBEAT_SECONDS: '1', EXTERNAL_SINK_RETRIES: '1' });
  let receiver: RestReceiver;
  let pipeline: RestPipeline;
  let t: TestApp;
  let sql: RunningPipeline['sql'];

  beforeAll(async () => {
    pipeline = await startPipelineWithRest({ env, names });
    ({ t, sql, receiver } = pipeline);
  }, 90_000);

  afterAll(() => pipeline?.close(), 60_000);

  test("backfilling today's events while the stream delivers them leaves one effect per event in every sink", async () => {
    const world = buildWorld({ seed: 11, contents: 8, users: 100 });
    await sql`INSERT INTO content ${sql(world.catalogue)}`;
    const now = Date.now();
    await copyEvents(sql, spreadEvents(world, 600, now - 60_000, now));
    const today = new Date(now).toISOString().slice(0, 10);
    const options = pipelineOptions(loadConfig({ ...env, EXTERNAL_SINK_URL: receiver.url }));
    const summary = await runBackfill(
      options,
      { startDate: today, endDate: today, fromMs: Date.parse(today), toMs: Date.parse(today) + 86_400_000, lanes: 4, batchSize: 100, restart: false },
      { log: memoryLogger() },
      new AbortController().signal,
    );
    expect(summary.done).toBe(600);
    // Each path hands every event to the REST endpoint once: 1,200 receipts, 600 keys.
    await waitFor(() => receiver.receipts.length >= 1200, { timeoutMs: 60_000, what: 'the stream to deliver the same events' });
    await waitFor(async () => (await t.json('/health')).body.details.engagement?.consumer?.total_lag === 0, { timeoutMs: 30_000, what: 'the stream to commit' });
    const wh = await sql.unsafe<{ n: string }[]>(`SELECT count(*) AS n FROM "${names.schema}_wh".engagement_facts`);
    expect(Number(wh[0]!.n)).toBe(600);
    const top = await t.json('/top-content?limit=100');
    expect(top.body.items.reduce((n: number, i: { events: number }) => n + i.events, 0)).toBe(600);
    expect(receiver.receipts).toHaveLength(1200);
    expect(receiver.applied.size).toBe(600);
  });
});
