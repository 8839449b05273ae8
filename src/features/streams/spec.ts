import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { z } from 'zod';
import { AppError } from '../../platform/errors.ts';
import { compileExpression, describeExpressionError, ExpressionError, type ValueType } from './filter.ts';
import type { WindowDef } from './windows.ts';

/**
 * The job spec: what a user writes in `streams/<name>.yaml` or POSTs to /api/v1/streams/jobs. Validation happens
 * here, once, with zod for the shape and a second pass for what zod cannot see (fields that must exist in the
 * schema, expressions that must type-check, a slide no longer than its window). Every problem names the field
 * path it is about, e.g. `aggregates[1].fn` or `window.slide`.
 */

/** Job names end up in SQL rows, Redis keys, worker names and URLs, so they are kept to a strict alphabet. */
export const JOB_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const OUTPUT_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const TOPIC = /^[A-Za-z0-9._-]{1,200}$/;

export const FIELD_TYPES = ['string', 'number', 'integer', 'boolean', 'timestamp'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export const QUANTILES = { p50: 0.5, p75: 0.75, p90: 0.9, p95: 0.95, p99: 0.99, p999: 0.999 } as const;
export const AGGREGATE_FNS = ['count', 'sum', 'min', 'max', 'avg', 'first', 'last', 'count_distinct', ...(Object.keys(QUANTILES) as (keyof typeof QUANTILES)[])] as const;
export type AggregateFn = (typeof AGGREGATE_FNS)[number];

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30s" → 30000; an integer is taken as milliseconds. Undefined when the value is not a non-negative duration. */
export function durationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = DURATION.exec(value.trim());
  return m ? Math.round(Number(m[1]) * UNIT_MS[m[2]!]!) : undefined;
}

const duration = z
  .union([z.string(), z.number()], { error: 'must be a duration such as "30s", "5m" or a number of milliseconds' })
  .refine((v) => durationMs(v) !== undefined, {
    error: (issue) => `must be a non-negative duration such as "30s", "5m", "1h" or a number of milliseconds (got ${JSON.stringify(issue.input)})`,
  });
const positiveDuration = duration.refine((v) => (durationMs(v) ?? 1) > 0, { error: 'must be longer than zero' });

const fieldType = z.enum(FIELD_TYPES, { error: `must be one of ${FIELD_TYPES.join(', ')}` });
const fieldSpec = z.union([fieldType, z.strictObject({ type: fieldType, optional: z.boolean().default(false) })]);

const windowSpec = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('tumbling'), size: positiveDuration }),
    z.strictObject({ type: z.literal('hopping'), size: positiveDuration, slide: positiveDuration }),
    z.strictObject({ type: z.literal('session'), gap: positiveDuration }),
  ],
  { error: 'window.type must be one of tumbling (size), hopping (size, slide) or session (gap)' },
);

const aggregateSpec = z.strictObject({
  name: z.string().regex(OUTPUT_NAME, 'must be lower-case letters, digits and _ (it becomes a result column)'),
  fn: z.enum(AGGREGATE_FNS, { error: `must be one of ${AGGREGATE_FNS.join(', ')}` }),
  /** A field name or an expression over fields; not needed for count. */
  field: z.string().min(1).max(500).optional(),
  /** avg only: weights each value (a VWAP is avg of price weighted by size). */
  weight: z.string().min(1).max(500).optional(),
  /** Only records matching this condition feed the aggregate (SQL's FILTER (WHERE …)). */
  where: z.string().min(1).max(1000).optional(),
});

export const SINKS = ['postgres', 'redis'] as const;

export const JobSpecSchema = z
  .strictObject({
    name: z.string().regex(JOB_NAME, 'must start with a lower-case letter and use only a-z, 0-9 and _ (at most 63 characters)'),
    description: z.string().max(500).optional(),
    source: z.strictObject({
      topic: z.string().regex(TOPIC, 'must be a Kafka topic name (letters, digits, . _ -)'),
      format: z.literal('json', { error: 'only "json" is supported' }).default('json'),
      start_from: z.enum(['earliest', 'latest'], { error: 'must be earliest or latest' }).default('earliest'),
      schema: z
        .record(z.string().regex(FIELD_NAME, 'field names use letters, digits and _'), fieldSpec)
        .refine((s) => Object.keys(s).length > 0 && Object.keys(s).length <= 200, { error: 'must declare 1 to 200 fields' }),
    }),
    time: z.strictObject({
      field: z.string(),
      watermark_delay: duration.default('0s'),
      allowed_lateness: duration.default('0s'),
      max_future: positiveDuration.default('10m'),
      idle_timeout: positiveDuration.default('30s'),
    }),
    filter: z.string().min(1).max(2000).optional(),
    key: z.array(z.string()).max(8).default([]),
    window: windowSpec,
    aggregates: z.array(aggregateSpec).min(1, 'needs at least one aggregate').max(50),
    alerts: z
      .array(z.strictObject({ name: z.string().regex(OUTPUT_NAME, 'must be lower-case letters, digits and _'), when: z.string().min(1).max(1000) }))
      .max(20)
      .default([]),
    sinks: z.array(z.enum(SINKS, { error: 'must be postgres or redis' })).min(1).max(2).default(['postgres', 'redis']),
  })
  .superRefine((spec, ctx) => checkSemantics(spec, ctx));

export type JobSpecInput = z.input<typeof JobSpecSchema>;
export type JobSpec = z.output<typeof JobSpecSchema>;

export const valueTypeOf = (t: FieldType): ValueType => (t === 'string' ? 'string' : t === 'boolean' ? 'boolean' : 'number');
export const fieldTypeOf = (f: z.output<typeof fieldSpec>) => (typeof f === 'string' ? f : f.type);
export const isOptional = (f: z.output<typeof fieldSpec>) => typeof f !== 'string' && f.optional;

function checkSemantics(spec: JobSpec, ctx: z.RefinementCtx) {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const schema = spec.source?.schema ?? {};
  const names = Object.keys(schema);
  const types: Record<string, ValueType> = Object.fromEntries(names.map((n) => [n, valueTypeOf(fieldTypeOf(schema[n]!))]));
  const known = names.join(', ');

  const timeField = schema[spec.time.field];
  if (!timeField) issue(['time', 'field'], `"${spec.time.field}" is not in source.schema (fields: ${known})`);
  else if (fieldTypeOf(timeField) !== 'timestamp') issue(['time', 'field'], `"${spec.time.field}" must be declared as timestamp in source.schema (it is ${fieldTypeOf(timeField)})`);
  else if (isOptional(timeField)) issue(['time', 'field'], `"${spec.time.field}" is the event time and cannot be optional`);

  spec.key.forEach((k, i) => {
    const f = schema[k];
    if (!f) issue(['key', i], `"${k}" is not in source.schema (fields: ${known})`);
    else if (isOptional(f)) issue(['key', i], `"${k}" is optional; a key field must be present in every record`);
  });
  if (new Set(spec.key).size !== spec.key.length) issue(['key'], 'lists a field twice');

  const expr = (path: (string | number)[], text: string, scope: Record<string, ValueType>, want: ValueType[] | undefined, role: string) => {
    try {
      const c = compileExpression(text, scope);
      if (want && !want.includes(c.type)) issue(path, `${role} must be ${want.join(' or ')}, but "${text}" is a ${c.type}`);
      return c;
    } catch (e) {
      if (e instanceof ExpressionError) issue(path, describeExpressionError(text, e));
      else throw e;
    }
  };
  if (spec.filter !== undefined) expr(['filter'], spec.filter, types, ['boolean'], 'a filter');

  const w = spec.window;
  if (w?.type === 'hopping') {
    const size = durationMs(w.size);
    const slide = durationMs(w.slide);
    if (size !== undefined && slide !== undefined && slide > size) issue(['window', 'slide'], `must not be longer than window.size (${w.slide} > ${w.size}); a slide longer than the window would skip records`);
    else if (size !== undefined && slide && size / slide > 100) issue(['window', 'slide'], `puts each record in ${Math.ceil(size / slide)} windows; keep size/slide at most 100`);
  }

  const outputs = new Set<string>();
  spec.aggregates.forEach((a, i) => {
    if (outputs.has(a.name)) issue(['aggregates', i, 'name'], `"${a.name}" is used twice`);
    outputs.add(a.name);
    if (a.fn !== 'count' && a.field === undefined) issue(['aggregates', i, 'field'], `${a.fn} needs a field (a field name or an expression)`);
    if (a.weight !== undefined && a.fn !== 'avg') issue(['aggregates', i, 'weight'], 'only avg takes a weight');
    if (a.field !== undefined) {
      const want: ValueType[] | undefined = a.fn === 'count_distinct' || a.fn === 'count' ? undefined : ['number', 'boolean'];
      expr(['aggregates', i, 'field'], a.field, types, want, `the input of ${a.fn}`);
    }
    if (a.weight !== undefined) expr(['aggregates', i, 'weight'], a.weight, types, ['number'], 'a weight');
    if (a.where !== undefined) expr(['aggregates', i, 'where'], a.where, types, ['boolean'], 'a where condition');
  });

  const resultScope: Record<string, ValueType> = Object.fromEntries([...outputs].map((n) => [n, 'number' as ValueType]));
  resultScope.records = 'number';
  spec.alerts.forEach((a, i) => expr(['alerts', i, 'when'], a.when, resultScope, ['boolean'], 'an alert condition'));
  if (new Set(spec.alerts.map((a) => a.name)).size !== spec.alerts.length) issue(['alerts'], 'uses an alert name twice');
  if (new Set(spec.sinks).size !== spec.sinks.length) issue(['sinks'], 'lists a sink twice');
}

/** `aggregates.1.fn` → `aggregates[1].fn`. */
export const formatPath = (path: PropertyKey[]) =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || '(spec)';

export type SpecIssue = { path: string; message: string };

export class SpecError extends AppError {
  constructor(
    readonly issues: SpecIssue[],
    where?: string,
  ) {
    const first = issues[0]!;
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''}, listed in "issues")` : '';
    super('invalid_spec', `${where ? `${where}: ` : ''}the job spec is invalid: ${first.path}: ${first.message}${more}. See README "Stream analytics" for the spec format.`, {
      status: 400,
      retryable: false,
      details: { issues },
    });
  }
}

/** Validates a spec; throws SpecError listing every problem with its field path. */
export function validateSpec(input: unknown, where?: string): JobSpec {
  const r = JobSpecSchema.safeParse(input);
  if (r.success) return r.data;
  throw new SpecError(
    r.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
    where,
  );
}

/** Durations in milliseconds and the window definition, ready for the engine. */
export type JobTimes = { delayMs: number; latenessMs: number; maxFutureMs: number; idleTimeoutMs: number; window: WindowDef };

export function jobTimes(spec: JobSpec): JobTimes {
  const ms = (v: string | number) => durationMs(v)!;
  const w = spec.window;
  const window: WindowDef =
    w.type === 'tumbling' ? { type: 'tumbling', sizeMs: ms(w.size) } : w.type === 'hopping' ? { type: 'hopping', sizeMs: ms(w.size), slideMs: ms(w.slide) } : { type: 'session', gapMs: ms(w.gap) };
  return {
    delayMs: ms(spec.time.watermark_delay),
    latenessMs: ms(spec.time.allowed_lateness),
    maxFutureMs: ms(spec.time.max_future),
    idleTimeoutMs: ms(spec.time.idle_timeout),
    window,
  };
}

/**
 * Fingerprint of everything that shapes a job's state (schema, time, filter, key, window, aggregates). A
 * checkpoint taken under another fingerprint cannot be resumed; alerts, sinks and the description can change freely.
 */
export function stateFingerprint(spec: JobSpec): string {
  const { source, time, filter, key, window, aggregates } = spec;
  return new Bun.CryptoHasher('sha256').update(JSON.stringify({ source, time, filter, key, window, aggregates })).digest('hex').slice(0, 16);
}

export type SpecFile = { file: string; spec?: JobSpec; error?: SpecError | Error };

/** Reads every *.json, *.yaml and *.yml file of a directory; a bad file is reported, not fatal for the others. */
export function loadSpecFiles(dir: string): SpecFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => ['.json', '.yaml', '.yml'].includes(extname(f)))
    .sort()
    .map((name) => {
      const file = join(dir, name);
      try {
        const text = readFileSync(file, 'utf8');
        const raw = extname(name) === '.json' ? JSON.parse(text) : Bun.YAML.parse(text);
        return { file, spec: validateSpec(raw, name) };
      } catch (e) {
        return { file, error: e instanceof Error ? e : new Error(String(e)) };
      }
    });
}
