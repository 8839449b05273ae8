import { fieldTypeOf, isOptional, type FieldType, type JobSpec } from './spec.ts';

/**
 * Decoding and checking raw records against a job's schema. Pure: bytes in, typed records and rejects out.
 * A rejected record carries the reason and a preview of its bytes, for the dead-letter table.
 */

/** What parseRecords needs from a source record (the platform's SourceRecord, as the Kafka source delivers it, satisfies it). */
export type RawRecord = { partition: number; offset: string | number; value: Uint8Array | string | null };

/** A checked record: event time in ms, field values (timestamps converted to ms), and where it came from. */
export type ParsedRecord = { t: number; v: Record<string, unknown>; p: number; o: number };

export type RejectReason = 'invalid_json' | 'not_an_object' | 'missing_field' | 'wrong_type' | 'missing_time' | 'invalid_time' | 'future_time' | 'too_late';

export type Rejected = { partition: number; offset: number; reason: RejectReason; detail: string; value?: string; eventTimeMs?: number };

export type CompiledSchema = { fields: { name: string; type: FieldType; optional: boolean }[]; timeField: string };

export function compileSchema(spec: JobSpec): CompiledSchema {
  return {
    fields: Object.entries(spec.source.schema).map(([name, f]) => ({ name, type: fieldTypeOf(f), optional: isOptional(f) })),
    timeField: spec.time.field,
  };
}

const PREVIEW_CHARS = 1000;
const decoder = new TextDecoder();

const preview = (text: string) => (text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text);

/** Timestamps are ISO-8601 strings or epoch milliseconds; NaN when neither. */
function toMs(x: unknown): number {
  if (typeof x === 'number') return Number.isFinite(x) ? x : NaN;
  if (typeof x === 'string') return Date.parse(x);
  return NaN;
}

function checkType(type: FieldType, x: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof x === 'string';
    case 'number':
      return typeof x === 'number' && Number.isFinite(x);
    case 'integer':
      return typeof x === 'number' && Number.isInteger(x);
    case 'boolean':
      return typeof x === 'boolean';
    case 'timestamp':
      return !Number.isNaN(toMs(x));
  }
}

/**
 * Parses a batch. Records keep their batch order; unknown fields are dropped, optional fields that are absent
 * become null, and every timestamp field is converted to milliseconds.
 */
export function parseRecords(batch: readonly RawRecord[], schema: CompiledSchema): { records: ParsedRecord[]; rejected: Rejected[] } {
  const records: ParsedRecord[] = [];
  const rejected: Rejected[] = [];
  const { fields, timeField } = schema;
  for (const r of batch) {
    const offset = Number(r.offset);
    const text = r.value === null ? '' : typeof r.value === 'string' ? r.value : decoder.decode(r.value);
    const reject = (reason: RejectReason, detail: string, eventTimeMs?: number) =>
      rejected.push({ partition: r.partition, offset, reason, detail, value: preview(text), eventTimeMs });
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      reject('invalid_json', `the value is not JSON: ${(e as Error).message}`);
      continue;
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      reject('not_an_object', `expected a JSON object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`);
      continue;
    }
    const obj = raw as Record<string, unknown>;
    const v: Record<string, unknown> = {};
    let bad = false;
    for (const f of fields) {
      const x = obj[f.name];
      if (x === undefined || x === null) {
        if (f.name === timeField) {
          reject('missing_time', `the event-time field "${f.name}" is missing`);
          bad = true;
          break;
        }
        if (!f.optional) {
          reject('missing_field', `required field "${f.name}" is missing`);
          bad = true;
          break;
        }
        v[f.name] = null;
        continue;
      }
      if (!checkType(f.type, x)) {
        if (f.name === timeField) reject('invalid_time', `"${f.name}" must be an ISO-8601 time or epoch milliseconds, got ${JSON.stringify(x).slice(0, 60)}`);
        else reject('wrong_type', `field "${f.name}" must be ${f.type === 'integer' ? 'an integer' : `a ${f.type}`}, got ${JSON.stringify(x).slice(0, 60)}`);
        bad = true;
        break;
      }
      v[f.name] = f.type === 'timestamp' ? toMs(x) : x;
    }
    if (bad) continue;
    records.push({ t: v[timeField] as number, v, p: r.partition, o: offset });
  }
  return { records, rejected };
}
