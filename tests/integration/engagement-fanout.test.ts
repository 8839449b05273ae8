import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { skipReason, waitFor, type TestApp } from '../helpers/index.ts';
import type { RestReceiver } from '../helpers/rest-receiver.ts';
import { CONTENT, insertContent, insertEvents, pipelineEnv, readTopic, startPipelineWithRest, user, type RestPipeline, type RunningPipeline } from './engagement-fixture.ts';

setDefaultTimeout(60_000);

const KEY = 'fanout-test-api-key-1234';
const auth = { authorization: `Bearer ${KEY}` };

describe.skipIf(!!skipReason('postgres', 'kafka', 'redis'))('fan-out to Redis, the warehouse and the REST endpoint, with the DLQ', () => {
  let receiver: RestReceiver;
  let pipeline: RestPipeline;
  let t: TestApp;
  let sql: RunningPipeline['sql'];
  let ids: { good: string[]; poison: string };
  const { env, names } = pipelineEnv({ EXTERNAL_SINK_RETRIES: '1', API_KEY: KEY });

  beforeAll(async () => {
    pipeline = await startPipelineWithRest({ env, names });
    ({ t, sql, receiver } = pipeline);
    // The external system refuses this one event whatever batch carries it.
    receiver.behaviour.reject = (e) => e.device === 'poison';
    await insertContent(sql, Object.values(CONTENT));
    const { podcast, newsletter } = CONTENT;
    await insertEvents(sql, [
      ...Array.from({ length: 10 }, (_, i) => ({ content_id: i % 2 ? podcast.id : newsletter.id, user_id: user(i), event_type: i % 2 ? 'play' : 'click', duration_ms: 1000 * i })),
      { content_id: podcast.id, user_id: user(99), event_type: 'pause', duration_ms: 30_000, device: 'poison' },
    ]);
    const rows = await sql<{ id: string; device: string }[]>`SELECT id::text, device FROM engagement_events ORDER BY id`;
    ids = { good: rows.filter((r) => r.device !== 'poison').map((r) => `engagement_events:${r.id}`), poison: `engagement_events:${rows.find((r) => r.device === 'poison')!.id}` };
  }, 90_000);

  afterAll(() => pipeline?.close(), 60_000);

  test('every sink gets every event once; the event the endpoint refuses is dead-lettered for that sink only', async () => {
    const dlq = await waitFor(
      async () => {
        const { body } = await t.json('/dlq');
        return body.items?.length === 1 && receiver.applied.size === 10 ? body : undefined;
      },
      { timeoutMs: 45_000, what: 'ten events at the REST endpoint and one dead letter' },
    );
    expect(dlq.items[0]).toMatchObject({ id: ids.poison, sink: 'rest', reason: 'rest_rejected', attempts: 1, replayed_at: null, source: { topic: names.eventsTopic } });
    expect(dlq.items[0].error).toContain('400');
    expect(JSON.parse(dlq.items[0].value)).toMatchObject({ device: 'poison', event_type: 'pause' });
    expect([...receiver.applied.keys()].sort()).toEqual([...ids.good].sort());
    const top = await t.json('/top-content');
    expect(top.body.items.reduce((n: number, i: { events: number }) => n + i.events, 0)).toBe(11);
    const today = new Date().toISOString().slice(0, 10);
    const daily = await t.json(`/warehouse/daily?from=${today}&to=${today}`);
    expect(daily.status).toBe(200);
    expect(daily.body.items.reduce((n: number, i: { events: number }) => n + i.events, 0)).toBe(11);
    const pod = daily.body.items.find((i: { content_id: string }) => i.content_id === CONTENT.podcast.id);
    expect(pod).toMatchObject({ day: today, content_type: 'podcast', events: 6, plays: 5, pauses: 1, unique_users: 6 });
    const hourly = await t.json(`/warehouse/hourly?content_type=newsletter`);
    expect(hourly.body.items.reduce((n: number, i: { clicks: number }) => n + i.clicks, 0)).toBe(5);
  });

  test('the dead letter is in the DLQ topic with the sink, the error, the attempts and the failure times as headers', async () => {
    const [message] = await readTopic(names.dlqTopic, 1);
    expect(message!.headers).toMatchObject({ 'message-id': ids.poison, 'dlq-sink': 'rest', 'dlq-reason': 'rest_rejected', 'dlq-attempts': '1', 'dlq-source-topic': names.eventsTopic });
    expect(Date.parse(message!.headers['dlq-first-failure']!)).toBeLessThanOrEqual(Date.parse(message!.headers['dlq-last-failure']!));
  });

  test('replaying ids that are not in the DLQ is a 404 naming them, and replays nothing', async () => {
    const { status, body } = await t.json(`/dlq/replay?ids=${ids.good[0]},424242`, { method: 'POST', headers: auth });
    expect(status).toBe(404);
    expect(body.error.code).toBe('dlq_ids_not_found');
    expect(body.error.missing).toEqual([ids.good[0], 'engagement_events:424242']);
    expect(receiver.receipts.filter((r) => r.key === ids.poison)).toHaveLength(0);
  });

  test('a replay while the endpoint still refuses leaves the letter pending; once it accepts, the replay delivers it, and a second replay finds nothing', async () => {
    const refused = await t.json('/dlq/replay?sink=rest', { method: 'POST', headers: auth });
    expect(refused.status).toBe(200);
    expect(refused.body).toMatchObject({ replayed: 0, applied: 0, remaining: 1 });
    expect(refused.body.failed[0]).toMatchObject({ id: ids.poison, sink: 'rest' });

    receiver.behaviour.reject = undefined;
    const ok = await t.json(`/dlq/replay?sink=rest&ids=${ids.poison.split(':')[1]}`, { method: 'POST', headers: auth });
    expect(ok.body).toEqual({ replayed: 1, applied: 1, duplicates: 0, failed: [], remaining: 0 });
    expect(receiver.applied.has(ids.poison)).toBe(true);

    const again = await t.json('/dlq/replay', { method: 'POST', headers: auth });
    expect(again.body).toEqual({ replayed: 0, applied: 0, duplicates: 0, failed: [], remaining: 0 });
    const listed = await t.json('/dlq?pending=false');
    expect(listed.body.items[0].replayed_at).toBeString();
    expect((await t.json('/dlq?pending=true')).body.items).toEqual([]);
    // The warehouse and Redis were never asked again: still 11 events each.
    const top = await t.json('/top-content');
    expect(top.body.items.reduce((n: number, i: { events: number }) => n + i.events, 0)).toBe(11);
  });

  test('replay to a sink that does not exist is a 400 listing the enabled sinks', async () => {
    const { status, body } = await t.json('/dlq/replay?sink=bigtable', { method: 'POST', headers: auth });
    expect(status).toBe(400);
    expect(body.error.code).toBe('unknown_sink');
    expect(body.error.message).toContain('redis, warehouse, rest');
  });
});
