import { TypeCompiler } from '@sinclair/typebox/compiler';
import { SourcePost, type Post } from './model.ts';

/**
 * The normalize stage: validates each source record against `SourcePost`, converts ids to integers, trims and
 * collapses whitespace, stamps `loaded_at`. Nothing is dropped silently: a record that cannot be loaded comes back
 * as a rejection with its position, the reason and its raw JSON.
 */

export type Rejection = { position: number; reason: string; raw: string };
export type Transformed = { posts: Post[]; rejected: Rejection[] };

export type TransformOptions = {
  /** ISO 8601 UTC stamp written to every post of the run. */
  loadedAt: string;
  /** Position of the first record in the whole source (records on earlier pages come first). */
  firstPosition?: number;
  /** Ids seen earlier in the same run → their position; shared across pages to catch duplicates. */
  seen?: Map<number, number>;
};

export const MAX_RAW_CHARS = 10_000;

const check = TypeCompiler.Compile(SourcePost);
const fieldRules = Object.fromEntries(Object.entries(SourcePost.properties).map(([k, s]) => [k, (s as { description?: string }).description ?? 'valid']));

// Matches only whitespace that must change: a run that starts with anything but a space (JavaScript's \s spelled
// out, which the regex engine scans faster), or a space followed by more whitespace. Single spaces do not match,
// so ordinary text costs one scan and no replacement; that matters at 100k records.
const needsChange = /[\t\n\v\f\r\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]\s*| \s+/g;

/** Trims and turns every run of whitespace (spaces, tabs, newlines, Unicode spaces) into one space. */
export function collapseWhitespace(s: string): string {
  return s.trim().replace(needsChange, ' ');
}

const toId = (v: number | string) => (typeof v === 'number' ? v : Number(v.trim()));

function shown(value: unknown): string {
  if (typeof value === 'string') return value.length > 60 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function rawJson(value: unknown): string {
  const json = JSON.stringify(value) ?? 'null';
  return json.length > MAX_RAW_CHARS ? `${json.slice(0, MAX_RAW_CHARS)}…(cut, ${json.length} characters in all)` : json;
}

/** Why a record fails `SourcePost`, in words: "title is missing", "id must be a positive integer…; got "abc"". */
export function rejectionReason(value: unknown): string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return `record must be a JSON object; got ${shown(value)}`;
  const first = check.Errors(value).First();
  if (!first) return 'record is valid';
  const field = first.path.split('/')[1] ?? 'record';
  const actual = (value as Record<string, unknown>)[field];
  if (actual === undefined) return `${field} is missing`;
  return `${field} must be ${fieldRules[field] ?? 'valid'}; got ${shown(actual)}`;
}

export function transformRecords(records: readonly unknown[], options: TransformOptions): Transformed {
  const { loadedAt, firstPosition = 0, seen = new Map<number, number>() } = options;
  const posts: Post[] = [];
  const rejected: Rejection[] = [];
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    const position = firstPosition + i;
    if (!check.Check(record)) {
      rejected.push({ position, reason: rejectionReason(record), raw: rawJson(record) });
      continue;
    }
    const id = toId(record.id);
    const title = collapseWhitespace(record.title);
    if (!title) {
      rejected.push({ position, reason: 'title is empty once whitespace is trimmed', raw: rawJson(record) });
      continue;
    }
    const earlier = seen.get(id);
    if (earlier !== undefined) {
      rejected.push({ position, reason: `id ${id} appears again (first at position ${earlier}); the first one is kept`, raw: rawJson(record) });
      continue;
    }
    seen.set(id, position);
    posts.push({ id, user_id: toId(record.userId), title, body: collapseWhitespace(record.body), loaded_at: loadedAt });
  }
  return { posts, rejected };
}
