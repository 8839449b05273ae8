import type { Producer } from 'kafkajs';
import type { Sql } from '../../platform/stores/postgres.ts';
import { deadLetterMessage, type DeadLetter, type DeadLetterPublisher } from '../../platform/stream/dlq.ts';
import type { SourceRecord } from '../../platform/stream/types.ts';

/**
 * Dead letters go to the DLQ topic (original key, bytes and headers, plus the dlq-* headers) and to the
 * `dead_letters` index in Postgres, both before the batch is committed. A redelivered batch writes the same
 * letter again: the topic gets a copy, the index keeps one row per (record, sink).
 */
export function engagementDeadLetters(options: { producer: Producer; topic: string; sql: Sql }): DeadLetterPublisher {
  return {
    async publish(letters) {
      if (!letters.length) return;
      await options.producer.sendBatch({ acks: -1, topicMessages: [{ topic: options.topic, messages: letters.map(deadLetterMessage) }] });
      await indexDeadLetters(options.sql, letters);
    },
  };
}

export async function indexDeadLetters(sql: Sql, letters: DeadLetter[]) {
  const rows = new Map<string, Record<string, unknown>>();
  for (const l of letters) {
    const row = {
      letter_key: letterKey(l),
      source_topic: l.record.topic,
      source_partition: l.record.partition,
      source_offset: l.record.offset,
      sink: l.sink ?? '',
      message_id: l.id ?? null,
      reason: l.reason,
      error: l.error.slice(0, 4000),
      attempts: l.attempts,
      first_failure: new Date(l.firstFailureMs),
      last_failure: new Date(l.lastFailureMs),
      record_key: l.record.key,
      record_value: l.record.value,
      headers: sql.json(l.record.headers),
    };
    rows.set(row.letter_key, row);
  }
  await sql`
    INSERT INTO dead_letters ${sql([...rows.values()])}
    ON CONFLICT (letter_key) DO UPDATE SET
      reason = excluded.reason, error = excluded.error, attempts = excluded.attempts, last_failure = excluded.last_failure,
      source_topic = excluded.source_topic, source_partition = excluded.source_partition, source_offset = excluded.source_offset,
      record_key = excluded.record_key, record_value = excluded.record_value, headers = excluded.headers, replayed_at = NULL`;
}

/** One letter per event and sink; a record that could not be decoded is known by its position. */
export const letterKey = (l: Pick<DeadLetter, 'id' | 'sink' | 'record'>) =>
  `${l.id ?? `${l.record.topic}/${l.record.partition}/${l.record.offset}`}|${l.sink ?? ''}`;

export type DeadLetterRow = {
  letter_key: string;
  source_topic: string;
  source_partition: number;
  source_offset: string;
  sink: string;
  message_id: string | null;
  reason: string;
  error: string;
  attempts: number;
  first_failure: Date;
  last_failure: Date;
  record_key: Buffer | null;
  record_value: Buffer | null;
  headers: Record<string, string>;
  dead_at: Date;
  replayed_at: Date | null;
};

/** The letter as GET /dlq shows it. */
export function deadLetterView(r: DeadLetterRow) {
  const value = r.record_value ? r.record_value.toString('utf8') : null;
  return {
    id: r.message_id,
    sink: r.sink || null,
    reason: r.reason,
    error: r.error,
    attempts: r.attempts,
    first_failure: r.first_failure.toISOString(),
    last_failure: r.last_failure.toISOString(),
    dead_at: r.dead_at.toISOString(),
    replayed_at: r.replayed_at ? r.replayed_at.toISOString() : null,
    source: { topic: r.source_topic, partition: r.source_partition, offset: String(r.source_offset) },
    key: r.record_key ? r.record_key.toString('utf8') : null,
    value,
  };
}

export type DeadLetterFilter = { sink?: string; reason?: string; ids?: string[]; pending?: boolean; limit: number };

export async function findDeadLetters(sql: Sql, f: DeadLetterFilter): Promise<DeadLetterRow[]> {
  return sql<DeadLetterRow[]>`
    SELECT letter_key, source_topic, source_partition, source_offset::text AS source_offset, sink, message_id, reason, error, attempts, first_failure,
           last_failure, record_key, record_value, headers, dead_at, replayed_at
    FROM dead_letters
    WHERE true
      ${f.sink !== undefined ? sql`AND sink = ${f.sink}` : sql``}
      ${f.reason ? sql`AND reason = ${f.reason}` : sql``}
      ${f.ids ? sql`AND message_id = ANY(${f.ids})` : sql``}
      ${f.pending ? sql`AND replayed_at IS NULL` : sql``}
    ORDER BY dead_at DESC, source_offset DESC
    LIMIT ${f.limit}`;
}

export async function countDeadLetters(sql: Sql, sink?: string): Promise<{ total: number; pending: number }> {
  const [row] = await sql<{ total: string; pending: string }[]>`
    SELECT count(*) AS total, count(*) FILTER (WHERE replayed_at IS NULL) AS pending FROM dead_letters ${sink !== undefined ? sql`WHERE sink = ${sink}` : sql``}`;
  return { total: Number(row!.total), pending: Number(row!.pending) };
}

export async function markReplayed(sql: Sql, rows: Pick<DeadLetterRow, 'letter_key'>[]) {
  if (!rows.length) return;
  await sql`UPDATE dead_letters SET replayed_at = now() WHERE letter_key = ANY(${rows.map((r) => r.letter_key)})`;
}

/** A replay that failed again: the letter stays pending with the new reason, one more attempt. */
export async function markReplayFailed(sql: Sql, failures: { letter_key: string; reason: string; error: string }[]) {
  for (const f of failures)
    await sql`UPDATE dead_letters SET reason = ${f.reason}, error = ${f.error.slice(0, 4000)}, attempts = attempts + 1, last_failure = now() WHERE letter_key = ${f.letter_key}`;
}

/** The record a letter was made from, as the processor first received it. */
export function recordOf(r: DeadLetterRow): SourceRecord {
  return {
    topic: r.source_topic,
    partition: r.source_partition,
    offset: String(r.source_offset),
    key: r.record_key,
    value: r.record_value,
    headers: r.headers ?? {},
    timestampMs: r.dead_at.getTime(),
  };
}
