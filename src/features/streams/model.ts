import { t } from 'elysia';
import type { WindowResult } from './aggregate.ts';
import type { DlqRow } from './store.ts';

/** The API's shapes: each schema is the TypeScript type, the validator and the OpenAPI document. */

const iso = (description: string) => t.Union([t.String({ format: 'date-time', description }), t.Null()]);

export const PartitionLagSchema = t.Object({
  partition: t.Integer(),
  next_offset: t.Integer({ description: 'next offset the job will read (stored with its results)' }),
  end_offset: t.Union([t.Integer(), t.Null()], { description: 'end of the partition, when the job is running' }),
  lag: t.Union([t.Integer(), t.Null()], { description: 'records not read yet' }),
});

export const JobStatusSchema = t.Object({
  name: t.String(),
  description: t.Union([t.String(), t.Null()]),
  origin: t.Union([t.Literal('file'), t.Literal('api')], { description: 'defined by a file under STREAMS_DIR or by the API' }),
  file: t.Union([t.String(), t.Null()]),
  topic: t.String(),
  key: t.Array(t.String()),
  window: t.Record(t.String(), t.Union([t.String(), t.Number()]), { description: 'the spec window, e.g. { type: "tumbling", size: "1m" }' }),
  sinks: t.Array(t.String()),
  state: t.Union([t.Literal('starting'), t.Literal('waiting_for_topic'), t.Literal('running'), t.Literal('restarting'), t.Literal('stopping'), t.Literal('stopped')], {
    description: 'stopped = not running in this process (its ROLE lacks api, or streams are disabled)',
  }),
  watermark: iso('event time up to which windows are complete'),
  watermark_lag_ms: t.Union([t.Number(), t.Null()], { description: 'now minus the watermark' }),
  open_windows: t.Union([t.Integer(), t.Null()]),
  lag: t.Object({ total: t.Union([t.Integer(), t.Null()]), partitions: t.Array(PartitionLagSchema) }),
  records_in: t.Integer(),
  filtered: t.Integer(),
  late: t.Integer({ description: 'records later than the allowed lateness (also in the dead-letter table)' }),
  dlq: t.Integer({ description: 'records in the dead-letter table' }),
  windows_emitted: t.Integer(),
  last_commit_at: iso('last transaction of results + offsets'),
  restarts: t.Integer(),
  last_error: t.Union([t.String(), t.Null()]),
});
export type JobStatus = typeof JobStatusSchema.static;

export const JobDetailSchema = t.Composite([JobStatusSchema, t.Object({ spec: t.Record(t.String(), t.Any(), { description: 'the job spec as stored' }) })]);
export type JobDetail = typeof JobDetailSchema.static;

export const WindowResultSchema = t.Object({
  key: t.String({ description: 'group-by value(s); several are joined by "|"; "*" when the job has no key' }),
  key_values: t.Record(t.String(), t.Any()),
  window_start: t.String({ format: 'date-time' }),
  window_end: t.String({ format: 'date-time' }),
  values: t.Record(t.String(), t.Union([t.Number(), t.Null()]), { description: 'one entry per aggregate of the spec' }),
  records: t.Integer({ description: 'records in the window (after the filter)' }),
  revision: t.Integer({ description: '1 when first emitted, +1 for each late update' }),
  alerts: t.Array(t.String()),
});
export type WindowResultDto = typeof WindowResultSchema.static;

export const toResultDto = (r: WindowResult): WindowResultDto => ({
  key: r.key,
  key_values: r.keyValues,
  window_start: new Date(r.start).toISOString(),
  window_end: new Date(r.end).toISOString(),
  values: r.values,
  records: r.records,
  revision: r.revision,
  alerts: r.alerts,
});

export const ResultsSchema = t.Object({
  job: t.String(),
  source: t.Union([t.Literal('postgres'), t.Literal('redis')]),
  results: t.Array(WindowResultSchema),
});

export const ResultsQuerySchema = t.Object({
  key: t.Optional(t.String({ description: 'only this key' })),
  from: t.Optional(t.String({ format: 'date-time', description: 'windows starting at or after this time' })),
  to: t.Optional(t.String({ format: 'date-time', description: 'windows starting before this time' })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 10_000, default: 100 })),
  latest: t.Optional(t.Boolean({ description: 'newest window per key, from Redis (rebuilt from Postgres when missing)' })),
});

export const DlqEntrySchema = t.Object({
  partition: t.Integer(),
  offset: t.Integer(),
  reason: t.String({ examples: ['invalid_json', 'missing_time', 'future_time', 'too_late'] }),
  detail: t.String(),
  value: t.Union([t.String(), t.Null()], { description: 'the record (first 1000 characters)' }),
  event_time: iso('event time, when it could be read'),
  recorded_at: t.String({ format: 'date-time' }),
});

export const toDlqDto = (r: DlqRow): typeof DlqEntrySchema.static => ({
  partition: r.partition,
  offset: Number(r.offset),
  reason: r.reason,
  detail: r.detail,
  value: r.value,
  event_time: r.event_time ? r.event_time.toISOString() : null,
  recorded_at: r.recorded_at.toISOString(),
});

export const JobNameParams = t.Object({ name: t.String({ pattern: '^[a-z][a-z0-9_]{0,62}$', description: 'job name' }) });
