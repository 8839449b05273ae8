import { describe, expect, test } from 'bun:test';
import type { Clock } from '../../src/platform/clock.ts';
import { terminal, transient } from '../../src/platform/errors.ts';
import { memoryLogger } from '../../src/platform/log.ts';
import type { DeadLetter } from '../../src/platform/stream/dlq.ts';
import { FanOut } from '../../src/platform/stream/fanout.ts';
import type { Sink } from '../../src/platform/stream/sink.ts';
import type { SourceBatch } from '../../src/platform/stream/source.ts';
import type { Envelope } from '../../src/platform/stream/types.ts';
import { ContentCatalogue } from '../../src/features/engagement/catalogue.ts';
import type { Content, EngagementEvent } from '../../src/features/engagement/model.ts';
import { processBatch } from '../../src/features/engagement/processor.ts';

const pod: Content = { id: 'aaaaaaaa-0000-4000-8000-000000000001', slug: 'pod', title: 'Pod', content_type: 'podcast', length_seconds: 100, publish_ts: null };
const late: Content = { ...pod, id: 'aaaaaaaa-0000-4000-8000-000000000002', slug: 'late' };

const message = (id: number, content_id: string | null) =>
  JSON.stringify({ id: String(id), content_id, user_id: 'bbbbbbbb-0000-4000-8000-000000000001', event_type: 'pause', event_ts: '2026-11-23T10:00:00.000Z', duration_ms: 10_000, device: 'web', raw_payload: null });

function setup(options: { lookup?: (ids: string[]) => Promise<Content[]> } = {}) {
  let t = 0;
  const sleeps: number[] = [];
  const clock: Clock = { now: () => t, sleep: async (ms) => void (sleeps.push(ms), (t += ms)) };
  const received: Envelope<EngagementEvent>[] = [];
  const sink: Sink<EngagementEvent> = { name: 'memory', write: async (b) => (received.push(...b), { applied: b.map((e) => e.id), duplicates: [], failed: [] }), close: async () => {} };
  const letters: DeadLetter[] = [];
  const catalogue = new ContentCatalogue({ lookup: options.lookup });
  const deps = { catalogue, fanOut: new FanOut({ sinks: [{ sink }], clock, log: memoryLogger() }), deadLetters: { publish: async (l: DeadLetter[]) => void letters.push(...l) }, clock, log: memoryLogger(), unknownContent: { retries: 2, delayMs: 100 } };
  return { deps, received, letters, sleeps, catalogue };
}

const batchOf = (values: (string | null)[]) => {
  const state = { committed: false };
  const batch: SourceBatch = {
    lane: 'events/0',
    records: values.map((v, i) => ({ topic: 'events', partition: 0, offset: String(i), key: null, value: v === null ? null : Buffer.from(v), headers: {}, timestampMs: 0 })),
    commit: async () => void (state.committed = true),
  };
  return { batch, state };
};

describe('processing a batch', () => {
  test('events are enriched from the in-memory content table without asking the database', async () => {
    let lookups = 0;
    const s = setup({ lookup: async () => (lookups++, []) });
    s.catalogue.put(pod);
    const { batch, state } = batchOf([message(1, pod.id), message(2, pod.id)]);
    const report = await processBatch(s.deps, batch);
    expect(lookups).toBe(0);
    expect(s.received.map((e) => [e.id, e.value.slug, e.value.engagement_pct])).toEqual([['engagement_events:1', 'pod', 10], ['engagement_events:2', 'pod', 10]]);
    expect(report).toMatchObject({ records: 2, envelopes: 2, rejected: 0 });
    expect(state.committed).toBe(true);
  });

  test('a content missing from memory is fetched once for the whole batch and then kept', async () => {
    const asked: string[][] = [];
    const s = setup({ lookup: async (ids) => (asked.push(ids), ids.includes(late.id) ? [late] : []) });
    const { batch } = batchOf([message(1, late.id), message(2, late.id)]);
    await processBatch(s.deps, batch);
    expect(asked).toEqual([[late.id]]);
    expect(s.catalogue.get(late.id)).toEqual(late);
    expect(s.received).toHaveLength(2);
  });

  test('unknown content is retried with backoff, then dead-lettered with reason unknown_content; the others go through', async () => {
    const s = setup({ lookup: async () => [] });
    s.catalogue.put(pod);
    const ghost = 'cccccccc-0000-4000-8000-000000000009';
    const { batch, state } = batchOf([message(1, ghost), message(2, pod.id), message(3, null), 'garbage', null]);
    const report = await processBatch(s.deps, batch);
    expect(s.sleeps).toEqual([100, 200]);
    expect(s.received.map((e) => e.id)).toEqual(['engagement_events:2']);
    expect(s.letters.map((l) => [l.reason, l.id ?? null, l.record.offset])).toEqual([
      ['malformed_json', null, '3'],
      ['malformed_message', null, '4'],
      ['unknown_content', 'engagement_events:1', '0'],
      ['unknown_content', 'engagement_events:3', '2'],
    ]);
    expect(report.rejectedBy).toEqual({ malformed_json: 1, malformed_message: 1, unknown_content: 2 });
    expect(state.committed).toBe(true);
  });

  test('a content that arrives on the content topic during the retries is used', async () => {
    const s = setup();
    const sleep = s.deps.clock.sleep;
    s.deps.clock.sleep = async (ms, signal) => {
      s.catalogue.applyRecord(Buffer.from(late.id), Buffer.from(JSON.stringify(late)));
      return sleep(ms, signal);
    };
    const { batch } = batchOf([message(1, late.id)]);
    await processBatch(s.deps, batch);
    expect(s.received).toHaveLength(1);
    expect(s.letters).toHaveLength(0);
  });

  test('latency to Redis is measured when Redis acknowledged, not when the slowest sink did; events Redis gave up on are left out', async () => {
    const eventMs = Date.parse('2026-11-23T10:00:00.000Z');
    let t = eventMs + 1000;
    const clock: Clock = { now: () => t, sleep: async (ms) => void (t += ms) };
    const redis: Sink<EngagementEvent> = {
      name: 'redis',
      write: async (b) => {
        t += 50;
        return { applied: [b[0]!.id], duplicates: [], failed: b.slice(1).map((e) => ({ id: e.id, error: terminal('redis_wrong_type', 'a key holds another type') })) };
      },
      close: async () => {},
    };
    let warehouseCalls = 0;
    const warehouse: Sink<EngagementEvent> = {
      name: 'warehouse',
      write: async (b) =>
        warehouseCalls++ ? { applied: b.map((e) => e.id), duplicates: [], failed: [] } : { applied: [], duplicates: [], failed: b.map((e) => ({ id: e.id, error: transient('warehouse_unavailable', 'busy', { retryAfterMs: 2000 }) })) },
      close: async () => {},
    };
    const catalogue = new ContentCatalogue();
    catalogue.put(pod);
    const fanOut = new FanOut({ sinks: [{ sink: redis }, { sink: warehouse, policy: { retries: 1, baseDelayMs: 1000, maxDelayMs: 5000 } }], clock, log: memoryLogger() });
    const deps = { catalogue, fanOut, deadLetters: { publish: async () => {} }, clock, log: memoryLogger() };
    const report = await processBatch(deps, batchOf([message(1, pod.id), message(2, pod.id)]).batch);
    // Event time + 1 s when the batch arrived, + 50 ms for Redis; the warehouse waited 2 s more before it took them.
    expect(report.toRedisMs).toEqual([1050]);
    expect(report.endToEndMs).toEqual([3050, 3050]);
  });

  test('a content tombstone removes the content from memory', () => {
    const c = new ContentCatalogue();
    c.applyRecord(Buffer.from(pod.id), Buffer.from(JSON.stringify(pod)));
    expect(c.get(pod.id)).toEqual(pod);
    c.applyRecord(Buffer.from(pod.id), null);
    expect(c.get(pod.id)).toBeUndefined();
  });
});
