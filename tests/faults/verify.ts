import type Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import type postgres from 'postgres';
import type { RestReceiver } from '../helpers/rest-receiver.ts';

/**
 * The end-to-end check of "exactly once in effect": for each sink, the set of event ids it holds against the
 * set the source table says it should hold, and how many effects each id has.
 */
export type SinkCount = {
  sink: string;
  expected: number;
  /** Distinct ids with an effect. */
  present: number;
  lost: number;
  /** Ids with more than one effect (or effects beyond the distinct ids). */
  duplicated: number;
  /** Ids the sink holds that it should not. */
  unexpected: number;
  /** Deliveries the sink absorbed as repeats (redeliveries deduplicated). */
  repeatsAbsorbed: number;
};

export type Expectation = {
  sql: postgres.Sql;
  schema: string;
  warehouseSchema: string;
  redis: Redis;
  prefix: string;
  receiver: RestReceiver;
  /** Events the REST endpoint refuses on purpose: expected only in the other sinks. */
  restPoison: (row: { device: string | null }) => boolean;
};

const diff = (expected: Set<string>, present: Set<string>) => ({
  lost: [...expected].filter((id) => !present.has(id)),
  unexpected: [...present].filter((id) => !expected.has(id)),
});

async function scanKeys(redis: Redis, pattern: string) {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Source ids with content (the others are dead-lettered before any sink), and those the endpoint refuses. */
export async function sourceSets(e: Pick<Expectation, 'sql' | 'schema' | 'restPoison'>) {
  const rows = await e.sql.unsafe<{ id: string; content_id: string | null; device: string | null }[]>(`SELECT id::text, content_id::text, device FROM "${e.schema}".engagement_events`);
  const withContent = rows.filter((r) => r.content_id);
  return {
    total: rows.length,
    all: new Set(withContent.map((r) => `engagement_events:${r.id}`)),
    rest: new Set(withContent.filter((r) => !e.restPoison(r)).map((r) => `engagement_events:${r.id}`)),
    noContent: rows.filter((r) => !r.content_id).map((r) => `engagement_events:${r.id}`),
    restPoison: withContent.filter((r) => e.restPoison(r)).map((r) => `engagement_events:${r.id}`),
  };
}

export async function sinkCounts(e: Expectation): Promise<{ counts: SinkCount[]; redisTotal: number; warehouseTotal: number; source: Awaited<ReturnType<typeof sourceSets>> }> {
  const source = await sourceSets(e);

  const facts = await e.sql.unsafe<{ id: string }[]>(`SELECT event_id::text AS id FROM "${e.warehouseSchema}".engagement_facts`);
  const factIds = facts.map((f) => `engagement_events:${f.id}`);
  const warehouse = new Set(factIds);

  // Redis: the per-bucket sets of applied ids, and the event counts of the aggregates.
  const seen: string[] = [];
  for (const key of await scanKeys(e.redis, `${e.prefix}eng:seen:*`)) seen.push(...(await e.redis.smembers(key)));
  const redis = new Set(seen);
  let redisTotal = 0;
  for (const key of await scanKeys(e.redis, `${e.prefix}eng:agg:*`)) redisTotal += Number((await e.redis.hget(key, 'events')) ?? 0);

  const rest = new Set(e.receiver.applied.keys());
  const count = (sink: string, expected: Set<string>, present: Set<string>, effects: number, repeatsAbsorbed: number): SinkCount => {
    const d = diff(expected, present);
    return { sink, expected: expected.size, present: present.size, lost: d.lost.length, duplicated: effects - present.size, unexpected: d.unexpected.length, repeatsAbsorbed };
  };
  return {
    source,
    redisTotal,
    warehouseTotal: factIds.length,
    counts: [
      count('redis', source.all, redis, Math.max(seen.length, redisTotal), 0),
      count('warehouse', source.all, warehouse, factIds.length, 0),
      count('rest', source.rest, rest, rest.size, e.receiver.receipts.length - rest.size),
    ],
  };
}

/** Committed offset vs end offset of every partition: a stalled partition shows lag or nothing committed. */
export async function partitionLag(brokers: string[], group: string, topic: string) {
  const admin = new Kafka({ clientId: 'faults-verify', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId: group, topics: [topic] })]);
    const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    return ends
      .map((p) => ({ partition: p.partition, end: BigInt(p.high), committed: at.get(p.partition) ?? -1n }))
      .map((p) => ({ partition: p.partition, end: Number(p.end), committed: Number(p.committed), lag: Number(p.end - (p.committed < 0n ? 0n : p.committed)) }))
      .sort((a, b) => a.partition - b.partition);
  } finally {
    await admin.disconnect();
  }
}

export function printTable(title: string, counts: SinkCount[], extra: string[] = []) {
  const head = ['sink', 'expected', 'present', 'lost', 'duplicated', 'unexpected', 'repeats absorbed'];
  const rows = counts.map((c) => [c.sink, c.expected, c.present, c.lost, c.duplicated, c.unexpected, c.repeatsAbsorbed].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  console.log([`\n${title}`, line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line), ...extra].join('\n'));
}
