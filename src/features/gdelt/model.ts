import { t } from 'elysia';

/** Route schemas: each is the TypeScript type, the request validator and the OpenAPI doc at once. */

const Nullable = <T extends Parameters<typeof t.Union>[0][number]>(s: T) => t.Union([s, t.Null()]);

const dateOrTime = (description: string) =>
  t.String({ maxLength: 40, description: `${description}: YYYY-MM-DD (whole day) or an ISO date-time with zone. Applies to when GDELT added the event.`, examples: ['2015-02-18'] });

export const JobErrorSchema = t.Object({
  code: t.String(),
  message: t.String(),
  batch: t.Optional(t.String()),
  table: t.Optional(t.String()),
  line: t.Optional(t.Number()),
});

export const JobSchema = t.Object(
  {
    job_id: t.Number(),
    kind: t.Union([t.Literal('latest'), t.Literal('range'), t.Literal('poll')]),
    state: t.Union([t.Literal('queued'), t.Literal('running'), t.Literal('succeeded'), t.Literal('failed')]),
    params: t.Object({ n_batches: t.Optional(t.Number()), from: t.Optional(t.String()), to: t.Optional(t.String()) }),
    batches_total: t.Number({ description: '15-minute batches the job covers (known once the manifest is read)' }),
    batches_done: t.Number(),
    rows: t.Number({ description: 'rows written (or found already in the lake) across tables' }),
    quarantined_rows: t.Number(),
    errors: t.Array(JobErrorSchema),
    attempts: t.Number({ description: 'times a worker took the job (more than 1 after a restart)' }),
    created_at: t.String(),
    started_at: Nullable(t.String()),
    finished_at: Nullable(t.String()),
    updated_at: t.String(),
  },
  { description: 'An ingestion job' },
);

export const TriggerQuery = t.Object({
  n_batches: t.Optional(t.Integer({ minimum: 1, maximum: 96, default: 1, description: 'how many of the latest 15-minute batches (1..96)' })),
});
export const BackfillQuery = t.Object({
  from: t.String({ maxLength: 40, description: 'first batch: YYYY-MM-DD, ISO date-time or YYYYMMDDHHMMSS', examples: ['2015-02-18'] }),
  to: t.String({ maxLength: 40, description: 'last batch (inclusive; a date covers the whole day)', examples: ['2015-02-18'] }),
});
export const Enqueued = t.Object({ job_id: t.Number(), state: t.Literal('queued') });

export const JobsQuery = t.Object({
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 200, default: 20 })),
  offset: t.Optional(t.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0 })),
  state: t.Optional(t.Union([t.Literal('queued'), t.Literal('running'), t.Literal('succeeded'), t.Literal('failed')])),
});
export const JobList = t.Object({ items: t.Array(JobSchema), total: t.Number() });

export const BatchSchema = t.Object({
  name: t.String({ description: 'file name in the GDELT manifest' }),
  table: t.Union([t.Literal('events'), t.Literal('mentions')]),
  batch_time: t.String({ description: 'ISO time of the 15-minute batch' }),
  rows: t.Number(),
  bytes: t.Number({ description: 'size of the GDELT zip, as the manifest lists it' }),
  md5: t.String({ description: "md5 of the GDELT zip, checked against the manifest" }),
  quarantined_rows: t.Number(),
  ingested_at: t.String(),
  indexed_at: Nullable(t.String({ description: 'when the batch became searchable; null while the index stage has not reached it (and for mentions, which are not indexed)' })),
  parquet_key: t.String({ description: 'object key in the lake' }),
  parquet_bytes: t.Number(),
  quarantine_key: Nullable(t.String()),
});
export const BatchesQuery = t.Object({
  table: t.Optional(t.Union([t.Literal('events'), t.Literal('mentions')])),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  offset: t.Optional(t.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0 })),
});
export const BatchList = t.Object({
  items: t.Array(BatchSchema),
  total: t.Number({ description: 'batch files matching the filter' }),
  rows: t.Number({ description: 'rows in all of those batch files (not only this page)' }),
});

const CodeName = t.Object({ name: Nullable(t.String()), code: Nullable(t.String()) });
export const EventSchema = t.Object({
  id: t.Number({ description: 'GLOBALEVENTID' }),
  date: Nullable(t.String({ description: 'SQLDATE, the date the event took place' })),
  date_added: t.String({ description: 'DATEADDED: when GDELT first saw the event (its batch time)' }),
  actor1: CodeName,
  actor2: CodeName,
  event_code: Nullable(t.String()),
  event_description: Nullable(t.String({ description: 'CAMEO description of the event code' })),
  event_root_code: Nullable(t.String()),
  event_root_description: Nullable(t.String()),
  quad_class: Nullable(t.Number()),
  goldstein: Nullable(t.Number()),
  tone: Nullable(t.Number()),
  mentions: Nullable(t.Number()),
  country: t.Object({ code: Nullable(t.String({ description: 'FIPS 10-4 code of the action location' })), name: Nullable(t.String()) }),
  location: Nullable(t.String()),
  source_url: Nullable(t.String()),
});

const country = t.String({ pattern: '^[A-Za-z]{2}$', description: 'FIPS 10-4 country code of where the event happened (ActionGeo_CountryCode), e.g. US, UK, IN' });
const eventCode = t.String({ pattern: '^[0-9]{2,4}$', description: 'CAMEO event code or prefix: 14 = every protest code, 145 = violent protest' });

export const SearchQuery = t.Object({
  query: t.Optional(t.String({ minLength: 1, maxLength: 200, description: 'words matched against actor names, place names, source URL words and CAMEO event descriptions (all words must match)', examples: ['protest'] })),
  since: t.Optional(dateOrTime('start')),
  until: t.Optional(dateOrTime('end')),
  country: t.Optional(country),
  event_code: t.Optional(eventCode),
  actor: t.Optional(t.String({ minLength: 1, maxLength: 100, description: 'part of an actor name, or an exact actor code (e.g. USAGOV)' })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 500, default: 50, description: '1..500' })),
  offset: t.Optional(t.Integer({ minimum: 0, maximum: 10_000, default: 0 })),
  sort: t.Optional(t.Union([t.Literal('date'), t.Literal('tone'), t.Literal('mentions')], { default: 'date', description: 'date = newest first, tone = most negative first, mentions = most mentioned first' })),
});
export const SearchResult = t.Object({ items: t.Array(EventSchema), total: t.Number({ description: 'events matching in all' }) });

export const StatItemSchema = t.Object({
  key: t.String(),
  label: Nullable(t.String({ description: 'name of the code, when the key is one' })),
  count: t.Number(),
  avg_tone: Nullable(t.Number()),
  avg_goldstein: Nullable(t.Number()),
});
/** The search filters stats and timeline accept too: with any of them, they count exactly the events a search matches. */
const matchFilters = {
  query: t.Optional(t.String({ minLength: 1, maxLength: 200, description: 'only events matching these words (as in search)', examples: ['protest'] })),
  country: t.Optional(country),
  event_code: t.Optional(eventCode),
  actor: t.Optional(t.String({ minLength: 1, maxLength: 100, description: 'part of an actor name, or an exact actor code (as in search)' })),
};
export const StatsQuery = t.Object({
  since: t.Optional(dateOrTime('start')),
  until: t.Optional(dateOrTime('end')),
  group_by: t.Optional(t.Union([t.Literal('day'), t.Literal('root_code'), t.Literal('country'), t.Literal('quad_class')], { default: 'day' })),
  ...matchFilters,
});
export const TimelineQuery = t.Object({
  since: t.Optional(dateOrTime('start')),
  until: t.Optional(dateOrTime('end')),
  interval: t.Optional(t.Union([t.Literal('15m'), t.Literal('hour'), t.Literal('day')], { default: 'hour' })),
  ...matchFilters,
});
export const StatList = t.Object({ items: t.Array(StatItemSchema) });

export const EventParams = t.Object({ id: t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'GLOBALEVENTID' }) });
export const EventDetailSchema = t.Composite([
  EventSchema,
  t.Object({
    batch: t.String(),
    fields: t.Record(t.String(), t.Any(), { description: 'all 61 columns as stored in the lake' }),
    names: t.Record(t.String(), Nullable(t.String()), { description: 'names of the coded columns' }),
  }),
]);
