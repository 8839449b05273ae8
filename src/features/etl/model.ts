import { Type } from '@sinclair/typebox';
import { t, type Static } from 'elysia';

/**
 * The ETL's schemas: each is the TypeScript type, the validator and the OpenAPI doc at once. `SourcePost` checks
 * what the REST source sends; the others are the API's contract.
 */

export const MAX_TITLE_LENGTH = 1_000;
export const MAX_BODY_LENGTH = 50_000;

// The source record is checked with plain TypeBox: Elysia's `t.Integer` also accepts any integer-like string (it
// is built for query parameters), which would let "0" through. Descriptions read as the end of "<field> must be …":
// they are the rejection reasons too.
const sourceId = () =>
  Type.Union([Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), Type.String({ pattern: '^\\s*[1-9][0-9]{0,14}\\s*$' })], {
    description: 'a positive integer, or a string of digits',
  });

/** One record as the source (JSONPlaceholder `/posts`) sends it. Extra fields are allowed and ignored. */
export const SourcePost = Type.Object({
  userId: sourceId(),
  id: sourceId(),
  title: Type.String({ maxLength: MAX_TITLE_LENGTH, description: `a string of at most ${MAX_TITLE_LENGTH} characters` }),
  body: Type.String({ maxLength: MAX_BODY_LENGTH, description: `a string of at most ${MAX_BODY_LENGTH} characters` }),
});
export type SourcePost = Static<typeof SourcePost>;

export const Post = t.Object(
  {
    id: t.Integer({ minimum: 1 }),
    user_id: t.Integer({ minimum: 1 }),
    title: t.String({ description: 'trimmed, whitespace collapsed' }),
    body: t.String({ description: 'trimmed, whitespace collapsed' }),
    loaded_at: t.String({ format: 'date-time', description: 'start of the run that last wrote this post (ISO 8601 UTC)' }),
  },
  { description: 'A post as loaded into SQLite' },
);
export type Post = Static<typeof Post>;

export const RunStatus = t.Union([t.Literal('running'), t.Literal('succeeded'), t.Literal('failed'), t.Literal('partial')], {
  description: '`partial` = loaded, but some records were rejected; `failed` = nothing from this run was loaded',
});
export type RunStatus = Static<typeof RunStatus>;
export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'partial'] as const satisfies readonly RunStatus[];

export const Run = t.Object(
  {
    id: t.Integer(),
    status: RunStatus,
    started_at: t.String({ format: 'date-time' }),
    finished_at: t.Union([t.String({ format: 'date-time' }), t.Null()]),
    extracted: t.Integer({ description: 'records read from the source' }),
    loaded: t.Integer({ description: 'posts written (inserted or updated)' }),
    rejected: t.Integer({ description: 'records that failed validation; see GET /etl/runs/:id' }),
    error: t.Union([t.String(), t.Null()], { description: 'why the run failed, or a note on rejected records' }),
    duration_ms: t.Union([t.Integer(), t.Null()]),
  },
  { description: 'One ETL run' },
);
export type Run = Static<typeof Run>;

export const RejectedRecord = t.Object({
  position: t.Integer({ description: '0-based position of the record in the source, across pages' }),
  reason: t.String(),
  raw: t.String({ description: 'the record as JSON (cut at 10,000 characters)' }),
});
export type RejectedRecord = Static<typeof RejectedRecord>;

export const RunDetail = t.Composite([
  Run,
  t.Object({
    source_url: t.String(),
    rejected_records: t.Array(RejectedRecord, { description: 'the first `rejected_limit` rejected records, in source order' }),
  }),
]);
export type RunDetail = Static<typeof RunDetail>;

export const PostList = t.Object({ items: t.Array(Post), total: t.Integer({ description: 'posts matching the filters' }) });
export const RunList = t.Object({ items: t.Array(Run), total: t.Integer({ description: 'runs recorded' }) });
export const Preview = t.Object({
  items: t.Array(Post, { description: 'the first n records that passed validation, transformed, not loaded' }),
  total: t.Integer({ description: 'records examined' }),
  rejected: t.Array(RejectedRecord),
});
export type Preview = Static<typeof Preview>;

export const Stats = t.Object({
  post_count: t.Integer(),
  distinct_users: t.Integer(),
  avg_title_length: t.Union([t.Number(), t.Null()], { description: 'characters, null when there are no posts' }),
  avg_body_length: t.Union([t.Number(), t.Null()]),
  last_run: t.Union([Run, t.Null()]),
  runs_by_status: t.Object({ running: t.Integer(), succeeded: t.Integer(), failed: t.Integer(), partial: t.Integer() }),
});
export type Stats = Static<typeof Stats>;

// `error` texts name the parameter and its rule; they become the 400 reply's message. An empty `user_id=` or
// `q=` (what an HTML form sends) means "no filter".
const intParam = (name: string, min: number, max: number, extra: { default?: number; description?: string } = {}) =>
  t.Integer({ minimum: min, maximum: max, ...extra, error: `${name} must be an integer from ${min} to ${max}` });

export const PostsQuery = t.Object({
  limit: intParam('limit', 1, 1000, { default: 10 }),
  offset: intParam('offset', 0, Number.MAX_SAFE_INTEGER, { default: 0 }),
  user_id: t.Optional(
    t.Union([t.Literal(''), t.Integer({ minimum: 1, error: 'user_id must be a positive integer, or empty' })], {
      description: 'only posts of this user',
      error: 'user_id must be a positive integer, or empty',
    }),
  ),
  q: t.Optional(t.String({ maxLength: 200, description: 'case-insensitive substring of the title or body', error: 'q must be at most 200 characters' })),
});
export const RunsQuery = t.Object({
  limit: intParam('limit', 1, 1000, { default: 20 }),
  offset: intParam('offset', 0, Number.MAX_SAFE_INTEGER, { default: 0 }),
});
export const RunDetailQuery = t.Object({ rejected_limit: intParam('rejected_limit', 0, 10_000, { default: 100 }) });
export const PreviewQuery = t.Object({ n: intParam('n', 1, 100, { default: 3, description: 'how many records to preview' }) });
export const RunQuery = t.Object({
  wait: t.Boolean({
    default: true,
    description: 'true: answer when the run has finished (200); false: answer at once with the running run (202)',
    error: 'wait must be true or false',
  }),
});
export const IdParams = t.Object({ id: t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, error: 'id must be a positive integer' }) });
