import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Clock } from '../../platform/clock.ts';
import type { Sql } from '../../platform/stores/postgres.ts';
import { AppError } from '../../platform/errors.ts';
import { CONTENT_TYPES, EVENT_TYPES, type ContentType } from './model.ts';
import { seededRandom } from '../../platform/random.ts';

/**
 * Realistic engagement data for development, tests and benchmarks: a catalogue of podcasts, newsletters and
 * videos, a pool of users, and listening sessions (play → pause/play… → finish or a last pause; newsletters are
 * clicked). Everything drawn from one seeded generator, so the same seed gives the same catalogue, users and
 * event sequence (timestamps are placed relative to the moment of the run).
 */


function uuid(rand: () => number): string {
  const b = Array.from({ length: 16 }, () => Math.floor(rand() * 256));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const pick = <T>(rand: () => number, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const between = (rand: () => number, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

const WORDS = ['quiet', 'signal', 'harbour', 'atlas', 'ember', 'orbit', 'meadow', 'circuit', 'tide', 'lantern', 'summit', 'canvas', 'echo', 'granite', 'willow', 'pulse'];

/**
 * Progress lines for long runs: at most one per `everyMs` of the clock, with the count, the share of `total`
 * when known, and the rate since the start. `tick` is cheap enough to call per chunk.
 */
export function progressReporter(options: { label: string; clock: Clock; everyMs: number; write: (line: string) => void; total?: number }) {
  const { clock, everyMs, total } = options;
  const started = clock.now();
  let last = started;
  return {
    tick(done: number) {
      const now = clock.now();
      if (now - last < everyMs) return;
      last = now;
      const rate = Math.round(done / Math.max((now - started) / 1000, 0.001));
      const share = total ? `/${total} events (${Math.floor((done / total) * 100)}%)` : ' events';
      options.write(`${options.label}: ${done}${share}, ${rate} ev/s`);
    },
  };
}

export type ContentRow = { id: string; slug: string; title: string; content_type: ContentType; length_seconds: number | null; publish_ts: Date };
export type GeneratedEvent = { content_id: string; user_id: string; event_type: string; event_ts: Date; duration_ms: number | null; device: string; raw_payload: Record<string, unknown> };

export type World = { catalogue: ContentRow[]; users: string[]; rand: () => number };

export function buildWorld(options: { seed: number; contents?: number; users?: number; now?: number }): World {
  const rand = seededRandom(options.seed);
  const now = options.now ?? Date.now();
  const catalogue: ContentRow[] = Array.from({ length: options.contents ?? 60 }, (_, i) => {
    const content_type = CONTENT_TYPES[i % CONTENT_TYPES.length]!;
    const words = [pick(rand, WORDS), pick(rand, WORDS)];
    // Newsletters are read, not played: they have no length, so their completion is unknown (null).
    const length_seconds = content_type === 'podcast' ? between(rand, 900, 3600) : content_type === 'video' ? between(rand, 60, 1800) : null;
    return { id: uuid(rand), slug: `${content_type}-${i + 1}-${words.join('-')}`, title: `${words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' ')} #${i + 1}`, content_type, length_seconds, publish_ts: new Date(now - between(rand, 0, 90) * 86_400_000) };
  });
  const users = Array.from({ length: options.users ?? 2000 }, () => uuid(rand));
  return { catalogue, users, rand };
}

type Draft = Omit<GeneratedEvent, 'event_ts'> & { offsetMs: number };

/** One user's session on one content: the events and their offsets from the session start. */
function session(world: World): Draft[] {
  const { rand } = world;
  // Popularity is skewed (a few items get most plays), as on real platforms.
  const content = world.catalogue[Math.floor(rand() ** 2.5 * world.catalogue.length)]!;
  const user_id = pick(rand, world.users);
  const device = content.content_type === 'video' ? pick(rand, ['ios', 'android', 'web', 'tv']) : pick(rand, ['ios', 'android', 'web']);
  const base = { content_id: content.id, user_id, device };
  const payload = (extra: Record<string, unknown> = {}) => ({ app_version: `3.${between(rand, 0, 9)}.${between(rand, 0, 20)}`, ...extra });
  if (content.length_seconds === null) {
    return Array.from({ length: between(rand, 1, 3) }, (_, i) => ({
      ...base, event_type: 'click', offsetMs: i * between(rand, 2000, 60_000), duration_ms: rand() < 0.2 ? null : between(rand, 5000, 300_000), raw_payload: payload({ link: between(rand, 1, 12) }),
    }));
  }
  const out: Draft[] = [];
  const lengthMs = content.length_seconds * 1000;
  // Mostly partial listens; a few go past the end (replays, seeking) and show up as capped completions.
  const targetMs = Math.round(lengthMs * (rand() < 0.03 ? 1 + rand() * 0.5 : rand() < 0.3 ? 1 : rand()));
  let at = 0;
  let listened = 0;
  while (listened < targetMs) {
    out.push({ ...base, event_type: 'play', offsetMs: at, duration_ms: null, raw_payload: payload({ position_ms: listened }) });
    const segment = Math.min(targetMs - listened, between(rand, 30_000, Math.max(30_000, Math.round(lengthMs / 2))));
    listened += segment;
    at += segment;
    const finished = listened >= Math.min(targetMs, lengthMs) && targetMs >= lengthMs;
    out.push({ ...base, event_type: finished ? 'finish' : 'pause', offsetMs: at, duration_ms: segment, raw_payload: payload({ position_ms: listened }) });
    if (finished) break;
    at += between(rand, 1000, 120_000);
  }
  return out;
}

/**
 * An endless stream of events: sessions flattened in order. `eventTypes` replaces the session model with a
 * uniform mix of the given types (used to show what Postgres does with a type outside its set).
 */
export function* eventDrafts(world: World, options: { eventTypes?: string[] } = {}): Generator<Draft> {
  for (;;) {
    for (const d of session(world)) yield options.eventTypes ? { ...d, event_type: pick(world.rand, options.eventTypes) } : d;
  }
}

export class GeneratorError extends AppError {}

/** Turns a Postgres rejection into a sentence that names the rule and the fix, instead of a driver stack. */
export function explainInsertError(error: unknown): Error {
  const e = error as { code?: string; constraint_name?: string; message?: string; detail?: string };
  if (e.code === '23514' && e.constraint_name === 'engagement_events_event_type_check')
    return new GeneratorError('invalid_event_type', `Postgres rejected an event: event_type must be one of ${EVENT_TYPES.join(', ')} (check constraint ${e.constraint_name}). Choose --event-types among those.`, { status: 400, retryable: false, cause: error });
  if (e.code === '23514')
    return new GeneratorError('check_violation', `Postgres rejected an event: ${e.message} (constraint ${e.constraint_name}).`, { status: 400, retryable: false, cause: error });
  if (e.code === '23503') return new GeneratorError('unknown_content', `Postgres rejected an event for content that does not exist: ${e.detail ?? e.message}.`, { status: 400, retryable: false, cause: error });
  if (e.code === '42P01') return new GeneratorError('no_tables', 'The engagement tables do not exist in this DATABASE_SCHEMA; they are created on the first run, so check DATABASE_SCHEMA.', { status: 400, retryable: false, cause: error });
  return error instanceof Error ? error : new Error(String(error));
}

export async function ensureCatalogue(sql: Sql, world: World): Promise<number> {
  const rows = await sql`INSERT INTO content ${sql(world.catalogue)} ON CONFLICT (id) DO NOTHING RETURNING id`;
  return rows.length;
}

/** Multi-row INSERT in one statement (one transaction). */
export async function insertEvents(sql: Sql, events: GeneratedEvent[]): Promise<void> {
  if (!events.length) return;
  try {
    await sql`INSERT INTO engagement_events ${sql(events as unknown as Record<string, unknown>[], 'content_id', 'user_id', 'event_type', 'event_ts', 'duration_ms', 'device', 'raw_payload')}`;
  } catch (error) {
    throw explainInsertError(error);
  }
}

const tsv = (v: unknown) => (v === null || v === undefined ? '\\N' : String(v).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n'));

/** COPY … FROM STDIN: the fastest way to load many rows (one transaction). */
export async function copyEvents(sql: Sql, events: Iterable<GeneratedEvent>): Promise<void> {
  try {
    const writable = await sql`COPY engagement_events (content_id, user_id, event_type, event_ts, duration_ms, device, raw_payload) FROM STDIN`.writable();
    const lines = (function* () {
      let chunk = '';
      for (const e of events) {
        chunk += `${e.content_id}\t${e.user_id}\t${tsv(e.event_type)}\t${e.event_ts.toISOString()}\t${tsv(e.duration_ms)}\t${tsv(e.device)}\t${tsv(JSON.stringify(e.raw_payload))}\n`;
        if (chunk.length > 1 << 16) {
          yield chunk;
          chunk = '';
        }
      }
      if (chunk) yield chunk;
    })();
    await pipeline(Readable.from(lines), writable);
  } catch (error) {
    throw explainInsertError(error);
  }
}

/** `count` events with timestamps spread over [fromMs, toMs), sessions keeping their internal spacing. */
export function* spreadEvents(world: World, count: number, fromMs: number, toMs: number, options: { eventTypes?: string[] } = {}): Generator<GeneratedEvent> {
  const drafts = eventDrafts(world, options);
  let sessionStart = fromMs;
  for (let i = 0; i < count; i++) {
    const d = drafts.next().value as Draft;
    // Every session starts at offset 0: place it at a random moment of the period.
    if (d.offsetMs === 0) sessionStart = fromMs + Math.floor(world.rand() * (toMs - fromMs));
    const { offsetMs, ...rest } = d;
    yield { ...rest, event_ts: new Date(Math.min(toMs - 1, sessionStart + offsetMs)) };
  }
}
