import type { Message, TopicMessages } from 'kafkajs';
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import type { Clock } from '../../platform/clock.ts';
import { AppError, errorMessage, terminal } from '../../platform/errors.ts';
import type { Logger } from '../../platform/log.ts';
import type { Sql } from '../../platform/stores/postgres.ts';
import { MESSAGE_ID_HEADER } from '../../platform/stream/types.ts';
import { formatLsn, LsnTracker, parseLsn } from './lsn.ts';
import type { EngagementNames } from './names.ts';
import { COMMIT_TS_HEADER } from './processor.ts';
import type { Publisher } from './publisher.ts';

const q = (id: string) => `"${id.replaceAll('"', '""')}"`;

/**
 * Makes sure the publication and the durable slot exist. Both are database-wide, named after the schema. A
 * temporary slot would lose every change made while the relay is down, so only a durable one is accepted.
 */
export async function prepareReplication(sql: Sql, names: Pick<EngagementNames, 'schema' | 'slot' | 'publication'>) {
  const [{ wal_level }] = (await sql`SELECT current_setting('wal_level') AS wal_level`) as unknown as [{ wal_level: string }];
  if (wal_level !== 'logical')
    throw terminal(
      'wal_level_not_logical',
      `Postgres runs with wal_level=${wal_level}, but change data capture needs wal_level=logical. Run "ALTER SYSTEM SET wal_level = logical" as a superuser and restart Postgres (scripts/services.sh up does this for development).`,
    );
  const created = { publication: false, slot: false };
  const pubs = await sql`SELECT 1 FROM pg_publication WHERE pubname = ${names.publication}`;
  if (!pubs.length) {
    try {
      await sql.unsafe(`CREATE PUBLICATION ${q(names.publication)} FOR TABLE ${q(names.schema)}.content, ${q(names.schema)}.engagement_events`);
      created.publication = true;
    } catch (error) {
      if ((error as { code?: string }).code !== '42710') throw replicationError('publication', names.publication, error);
    }
  }
  const slots = await sql<{ plugin: string; temporary: boolean }[]>`SELECT plugin, temporary FROM pg_replication_slots WHERE slot_name = ${names.slot}`;
  if (slots.length) {
    if (slots[0]!.plugin !== 'pgoutput')
      throw terminal('slot_plugin_mismatch', `Replication slot ${names.slot} exists but uses plugin ${slots[0]!.plugin}; CDC needs pgoutput. Drop it (SELECT pg_drop_replication_slot('${names.slot}')) or set CDC_SLOT_NAME to another name.`);
  } else {
    try {
      await sql`SELECT pg_create_logical_replication_slot(${names.slot}, 'pgoutput')`;
      created.slot = true;
    } catch (error) {
      if ((error as { code?: string }).code !== '42710') throw replicationError('slot', names.slot, error);
    }
  }
  return created;
}

function replicationError(what: 'slot' | 'publication', name: string, error: unknown): AppError {
  const code = (error as { code?: string }).code;
  const why = errorMessage(error);
  if (code === '53400')
    return terminal('replication_slots_exhausted', `Cannot create replication slot ${name}: ${why}. Drop unused slots (SELECT slot_name FROM pg_replication_slots; SELECT pg_drop_replication_slot('…')) or raise max_replication_slots.`, error);
  if (code === '42501')
    return terminal('replication_not_permitted', `Cannot create ${what} ${name}: ${why}. The DATABASE_URL user needs the REPLICATION attribute (ALTER ROLE … REPLICATION) and ownership of the tables.`, error);
  return new AppError('replication_setup_failed', `Cannot create ${what} ${name}: ${why}`, { cause: error, retryable: true });
}

/** Removes the slot and publication (tests, uninstall). A slot left behind pins WAL on the server forever. */
export async function dropReplication(sql: Sql, names: Pick<EngagementNames, 'slot' | 'publication'>) {
  for (let i = 0; i < 50; i++) {
    const [slot] = await sql<{ active_pid: number | null }[]>`SELECT active_pid FROM pg_replication_slots WHERE slot_name = ${names.slot}`;
    if (!slot) break;
    if (slot.active_pid) await sql`SELECT pg_terminate_backend(${slot.active_pid})`;
    try {
      await sql`SELECT pg_drop_replication_slot(${names.slot})`;
      break;
    } catch (error) {
      // 55006: still active (the terminated walsender has not exited yet).
      if ((error as { code?: string }).code !== '55006') throw error;
      await Bun.sleep(100);
    }
  }
  await sql.unsafe(`DROP PUBLICATION IF EXISTS ${q(names.publication)}`);
}

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v === null || v === undefined ? null : String(v));

type Txn = { records: TopicMessages[]; count: number; bytes: number; commitTs: string; lsn: string };

/**
 * An `engagement_events` row as the JSON every stage reads (the engagement topic's value). Backfill, which
 * reads the table directly, builds the same value, so both paths decode, dedupe and aggregate alike.
 */
export function engagementEventValue(r: Record<string, any>) {
  return {
    id: String(r.id),
    content_id: r.content_id ?? null,
    user_id: r.user_id,
    event_type: r.event_type,
    event_ts: iso(r.event_ts),
    duration_ms: r.duration_ms ?? null,
    device: r.device ?? null,
    raw_payload: r.raw_payload ?? null,
  };
}

/** One decoded change → the Kafka record it becomes (or nothing, for changes the pipeline does not use). */
export function changeToRecord(change: Pgoutput.Message, txn: Pick<Txn, 'commitTs' | 'lsn'>, names: EngagementNames): { topic: string; message: Message } | undefined {
  if (change.tag !== 'insert' && change.tag !== 'update' && change.tag !== 'delete') return undefined;
  const table = change.relation.name;
  if (change.relation.schema !== names.schema) return undefined;
  const source = `postgres:${names.schema}.${table}`;
  if (table === 'engagement_events' && change.tag === 'insert') {
    const value = engagementEventValue(change.new);
    return {
      topic: names.eventsTopic,
      message: {
        key: value.content_id,
        value: JSON.stringify(value),
        headers: { [MESSAGE_ID_HEADER]: `engagement_events:${value.id}`, source, 'source-lsn': txn.lsn, [COMMIT_TS_HEADER]: txn.commitTs },
      },
    };
  }
  if (table === 'content') {
    const row = change.tag === 'delete' ? (change.old ?? change.key) : change.new;
    const id = String(row?.id);
    const value =
      change.tag === 'delete'
        ? null
        : JSON.stringify({ id, slug: row!.slug, title: row!.title, content_type: row!.content_type, length_seconds: row!.length_seconds ?? null, publish_ts: iso(row!.publish_ts) });
    return { topic: names.contentTopic, message: { key: id, value, headers: { [MESSAGE_ID_HEADER]: `content:${id}@${txn.lsn}`, source, 'source-lsn': txn.lsn, [COMMIT_TS_HEADER]: txn.commitTs } } };
  }
  return undefined;
}

export type CdcStatus = { confirmedLsn: string; serverLsn: string; produced: number; transactions: number; lastProducedAt: string | null };

export type CdcRelayOptions = {
  databaseUrl: string;
  names: EngagementNames;
  publisher: Publisher;
  log: Logger;
  clock: Clock;
  /** How often position is confirmed while idle (and the server asked for its position). */
  heartbeatMs: number;
  /** Records per Kafka send at most. */
  maxBatchRecords?: number;
  /**
   * Bytes per Kafka send at most. Skewed keys can put a whole send on one partition, and the broker refuses a
   * partition batch over its max.message.bytes (1 MB by default).
   */
  maxBatchBytes?: number;
  /** Records waiting for Kafka before reading from Postgres pauses. */
  highWaterRecords?: number;
  onProduced?: (info: { records: number; ms: number; byTopic: Record<string, number> }) => void;
  onStatus?: (status: CdcStatus) => void;
};

/**
 * Streams the slot with pgoutput and produces each committed change to Kafka. A position is confirmed to
 * Postgres only after Kafka acknowledged every record up to it, so a crash replays changes instead of losing
 * them (downstream stages drop the repeats by message id). Resolves when the signal aborts; rejects when
 * replication or Kafka fails, for the supervisor to restart it.
 */
export async function runCdcRelay(options: CdcRelayOptions, signal: AbortSignal): Promise<void> {
  const { names, publisher, log, clock } = options;
  const maxBatch = options.maxBatchRecords ?? 2000;
  const maxBytes = options.maxBatchBytes ?? 512 * 1024;
  const highWater = options.highWaterRecords ?? 20_000;
  const tracker = new LsnTracker();
  const service = new LogicalReplicationService(
    { connectionString: options.databaseUrl, application_name: `sillage-cdc-${names.slot}` } as never,
    // Acknowledgement is ours alone: the library's automatic one would confirm positions Kafka has not stored yet.
    // Its flow control is off because it queues changes but not keepalives, so a keepalive could overtake
    // changes still queued; here both are handled synchronously in arrival order, and backpressure pauses the socket.
    { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: false } },
  );
  const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [names.publication] });

  const queue: Txn[] = [];
  let queuedRecords = 0;
  let current: Txn | undefined;
  let serverLsn = 0n;
  let produced = 0;
  let transactions = 0;
  let lastProducedAt: string | null = null;
  let wake: (() => void) | undefined;
  let paused = false;
  const socket = () => (service as unknown as { _connection?: { stream?: { pause?(): void; resume?(): void } } })._connection?.stream;
  let failure: ((e: unknown) => void) | undefined;
  const failed = new Promise<never>((_, reject) => (failure = reject));
  failed.catch(() => {});

  const status = (): CdcStatus => ({ confirmedLsn: formatLsn(tracker.confirmable), serverLsn: formatLsn(serverLsn), produced, transactions, lastProducedAt });
  let lastSentConfirm = -1n;
  const confirm = async (ping = false) => {
    const lsn = tracker.confirmable;
    if (lsn === 0n) return;
    if (lsn !== lastSentConfirm || ping) {
      lastSentConfirm = lsn;
      await service.acknowledge(formatLsn(lsn), ping);
    }
  };

  service.on('data', (_lsn: string, change: Pgoutput.Message) => {
    if (change.tag === 'begin') {
      tracker.begin();
      current = { records: [], count: 0, bytes: 0, commitTs: new Date(Number(change.commitTime) / 1000).toISOString(), lsn: change.commitLsn ?? '' };
      return;
    }
    if (change.tag === 'commit') {
      const txn = current ?? { records: [], count: 0, bytes: 0, commitTs: '', lsn: '' };
      current = undefined;
      tracker.committed(parseLsn(change.commitEndLsn!));
      queue.push(txn);
      queuedRecords += txn.count;
      transactions++;
      wake?.();
      if (queuedRecords >= highWater && !paused) {
        paused = true;
        socket()?.pause?.();
      }
      return;
    }
    if (!current) return;
    if (change.tag === 'truncate') {
      log.warn('a truncate of a captured table is not propagated; downstream aggregates keep their data', { tables: change.relations.map((r) => r.name) });
      return;
    }
    const record = changeToRecord(change, current, names);
    if (!record) return;
    const last = current.records.at(-1);
    if (last?.topic === record.topic) last.messages.push(record.message);
    else current.records.push({ topic: record.topic, messages: [record.message] });
    current.count++;
    current.bytes += String(record.message.value ?? '').length + 200;
  });
  service.on('heartbeat', (lsn: string, _ts: number, shouldRespond: boolean) => {
    const at = parseLsn(lsn);
    if (at > serverLsn) serverLsn = at;
    tracker.keepalive(at);
    if (shouldRespond) confirm(true).catch(failure);
  });
  service.on('error', (e: unknown) => failure?.(e));

  const flushLoop = async () => {
    while (!signal.aborted) {
      if (!queue.length) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      // Whole transactions per send (a position is confirmed per transaction); a single large one is split below.
      let take = 0;
      let records = 0;
      let bytes = 0;
      while (take < queue.length && (take === 0 || (records + queue[take]!.count <= maxBatch && bytes + queue[take]!.bytes <= maxBytes))) {
        records += queue[take]!.count;
        bytes += queue[take++]!.bytes;
      }
      const txns = queue.slice(0, take);
      const byTopic = new Map<string, Message[]>();
      for (const t of txns) for (const r of t.records) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), ...r.messages]);
      tracker.sending(take);
      const started = clock.now();
      for (const part of splitSend(byTopic, maxBatch, maxBytes)) await publisher.publish(part);
      queue.splice(0, take);
      queuedRecords -= records;
      tracker.sent();
      produced += records;
      if (records) {
        lastProducedAt = new Date(clock.now()).toISOString();
        options.onProduced?.({ records, ms: clock.now() - started, byTopic: Object.fromEntries([...byTopic].map(([t, m]) => [t, m.length])) });
      }
      await confirm();
      if (paused && queuedRecords < highWater / 2) {
        paused = false;
        socket()?.resume?.();
      }
    }
  };

  const heartbeat = setInterval(() => {
    // Asking for a reply makes the server send its current position, which an idle relay can then confirm.
    confirm(true).catch(failure);
    options.onStatus?.(status());
  }, options.heartbeatMs);

  const stopped = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  try {
    const streaming = service.subscribe(plugin, names.slot).then(() => {
      if (!signal.aborted) throw new Error('the replication connection closed');
    });
    const flushing = flushLoop();
    await Promise.race([stopped, failed, streaming, flushing.then(() => stopped)]);
    if (!signal.aborted) throw new Error('the relay stopped unexpectedly');
  } finally {
    clearInterval(heartbeat);
    wake?.();
    await service.stop().catch(() => {});
    options.onStatus?.(status());
  }
}

/** Cuts one flush into sends within the record and byte limits, keeping each topic's order. */
export function splitSend(byTopic: Map<string, Message[]>, maxRecords: number, maxBytes: number): TopicMessages[][] {
  const sends: TopicMessages[][] = [];
  let current: TopicMessages[] = [];
  let records = 0;
  let bytes = 0;
  for (const [topic, messages] of byTopic) {
    let slice: Message[] = [];
    for (const m of messages) {
      const size = String(m.value ?? '').length + 200;
      if (records > 0 && (records + 1 > maxRecords || bytes + size > maxBytes)) {
        if (slice.length) current.push({ topic, messages: slice });
        sends.push(current);
        current = [];
        slice = [];
        records = 0;
        bytes = 0;
      }
      slice.push(m);
      records++;
      bytes += size;
    }
    if (slice.length) current.push({ topic, messages: slice });
  }
  if (current.length) sends.push(current);
  return sends;
}
