import type { Kafka } from 'kafkajs';
import type { Sql } from '../../platform/stores/postgres.ts';
import type { Logger } from '../../platform/log.ts';
import { ContentMessage, type Content } from './model.ts';

/**
 * The content table in memory, fed by the compacted content topic, so enrichment costs no database query per
 * event. A miss (content newer than what the feed has delivered) falls back to one query for all the batch's
 * missing ids.
 */
export class ContentCatalogue {
  private byId = new Map<string, Content>();
  constructor(private options: { lookup?: (ids: string[]) => Promise<Content[]>; log?: Logger } = {}) {}

  get size() {
    return this.byId.size;
  }
  get(id: string): Content | undefined {
    return this.byId.get(id);
  }
  put(content: Content) {
    this.byId.set(content.id, content);
  }

  /** Applies one content-topic record: a row (insert/update) or a tombstone (null value = deleted). */
  applyRecord(key: Buffer | null, value: Buffer | null) {
    if (!value) {
      if (key) this.byId.delete(key.toString('utf8'));
      return;
    }
    try {
      const parsed = ContentMessage.safeParse(JSON.parse(value.toString('utf8')));
      if (parsed.success) this.put(parsed.data);
      else this.options.log?.warn('ignoring an invalid content record', { key: key?.toString('utf8'), issues: parsed.error.issues.slice(0, 3) });
    } catch {
      this.options.log?.warn('ignoring a content record that is not JSON', { key: key?.toString('utf8') });
    }
  }

  /** The content of each id, asking the database once for those not in memory. Unknown ids are absent. */
  async resolve(ids: Iterable<string>): Promise<Map<string, Content>> {
    const found = new Map<string, Content>();
    const missing: string[] = [];
    for (const id of new Set(ids)) {
      const c = this.byId.get(id);
      if (c) found.set(id, c);
      else missing.push(id);
    }
    if (missing.length && this.options.lookup) {
      for (const c of await this.options.lookup(missing)) {
        this.put(c);
        found.set(c.id, c);
      }
    }
    return found;
  }
}

/** One query for many ids, in the same shape as the content topic's values. */
export function contentLookup(sql: Sql): (ids: string[]) => Promise<Content[]> {
  return async (ids) => {
    const rows = await sql<{ id: string; slug: string; title: string; content_type: Content['content_type']; length_seconds: number | null; publish_ts: Date | null }[]>`
      SELECT id, slug, title, content_type, length_seconds, publish_ts FROM content WHERE id = ANY(${ids}::uuid[])`;
    return rows.map((r) => ({ ...r, publish_ts: r.publish_ts ? r.publish_ts.toISOString() : null }));
  };
}

/**
 * Follows the content topic from its beginning into the catalogue, under a group id of its own that never
 * commits (every instance needs the whole table). Resolves `ready` once it has read up to the end offsets the
 * topic had when it started, so the first event batches find their content in memory.
 */
export async function followContent(options: { kafka: Kafka; topic: string; groupId: string; catalogue: ContentCatalogue; log: Logger; signal: AbortSignal }) {
  const { kafka, topic, catalogue, signal } = options;
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<number, bigint>();
  try {
    for (const p of await admin.fetchTopicOffsets(topic)) if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high));
  } finally {
    await admin.disconnect();
  }
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const check = () => ends.size === 0 && markReady();
  check();
  const consumer = kafka.consumer({ groupId: options.groupId, maxWaitTimeInMs: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, resolveOffset }) => {
      for (const m of batch.messages) {
        catalogue.applyRecord(m.key, m.value);
        resolveOffset(m.offset);
      }
      const end = ends.get(batch.partition);
      if (end !== undefined && (BigInt(batch.lastOffset()) + 1n >= end || batch.offsetLag() === '0')) {
        ends.delete(batch.partition);
        check();
      }
    },
  });
  const stopped = new Promise<void>((resolve) => {
    const stop = () => void consumer.disconnect().finally(resolve);
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });
  return { ready, stopped };
}
