/**
 * The stream platform's vocabulary, after Redpanda Connect's input → processors → outputs: a Source delivers
 * batches of raw records, stages turn them into Envelopes, and every Sink receives Envelopes.
 */

/** Where a record came from, enough to find it again (and to put in a dead letter). */
export type RecordRef = { topic: string; partition: number; offset: string };

/** A record as a source delivers it: bytes plus metadata, not yet decoded. */
export type SourceRecord = RecordRef & {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestampMs: number;
};

/**
 * One decoded unit of work. `id` is derived from the origin (e.g. `engagement_events:42`) and is the key every
 * sink applies at most once, so a redelivered envelope is harmless.
 */
export type Envelope<T> = {
  id: string;
  value: T;
  /** The raw record, so a failure can be dead-lettered with its original bytes. */
  record: SourceRecord;
};

/** The header that carries a message's id from the source through every stage. */
export const MESSAGE_ID_HEADER = 'message-id';

export function headersToStrings(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined || v === null) continue;
    out[k] = Array.isArray(v) ? String(v.at(-1)) : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  }
  return out;
}
