import type { Admin } from 'kafkajs';
import type { Sql } from '../../platform/stores/postgres.ts';
import type { WorkerStatus } from '../../platform/workers/supervisor.ts';
import type { EngagementNames } from './names.ts';

export type PipelineStatus = {
  slot: { name: string; active: boolean; lag_bytes: number; confirmed_lsn: string | null } | null;
  consumer: { group: string; lag: Record<string, number>; total_lag: number } | null;
  last_commit_at: string | null;
  workers: Record<string, { state: string; restarts: number; last_error?: string }>;
};

export async function slotStatus(sql: Sql, slot: string): Promise<PipelineStatus['slot']> {
  const [row] = await sql<{ active: boolean; lag_bytes: string | null; confirmed_lsn: string | null }[]>`
    SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS lag_bytes, confirmed_flush_lsn::text AS confirmed_lsn
    FROM pg_replication_slots WHERE slot_name = ${slot}`;
  // Confirmed positions point one byte past the last change, so a caught-up slot is 1 byte "ahead": shown as 0.
  return row ? { name: slot, active: row.active, lag_bytes: Math.max(0, Number(row.lag_bytes ?? 0)), confirmed_lsn: row.confirmed_lsn } : null;
}

/** Per partition: end offset − committed offset of the group (the whole partition when nothing is committed yet). */
export async function consumerLag(admin: Admin, group: string, topic: string): Promise<PipelineStatus['consumer']> {
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) return null;
  const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId: group, topics: [topic] })]);
  const done = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
  const lag: Record<string, number> = {};
  for (const p of ends) {
    const at = done.get(p.partition) ?? -1n;
    lag[String(p.partition)] = Number(BigInt(p.high) - (at < 0n ? BigInt(p.low) : at));
  }
  return { group, lag, total_lag: Object.values(lag).reduce((a, b) => a + b, 0) };
}

/**
 * The pipeline is down when one of its workers crashed and is waiting to restart; the slot and consumer
 * figures are details. (A missing slot right after start is normal: the CDC worker creates it.)
 */
export function pipelineProblem(workers: Record<string, WorkerStatus | undefined>): string | undefined {
  for (const [name, w] of Object.entries(workers)) {
    if (!w) return `worker ${name} is not running`;
    if (w.state === 'restarting') return `worker ${name} failed (${w.lastError ?? 'no message'}) and is restarting (${w.restarts} restarts so far)`;
  }
  return undefined;
}

