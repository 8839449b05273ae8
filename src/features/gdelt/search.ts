import { badRequest } from '../../platform/errors.ts';
import type { Lookups } from './lookups.ts';
import { docRangeStart, msOfDoc, type SearchIndex } from './search-index.ts';

export type SearchSort = 'date' | 'tone' | 'mentions';
export type SearchParams = {
  query?: string;
  since?: string;
  until?: string;
  country?: string;
  event_code?: string;
  actor?: string;
  limit: number;
  offset: number;
  sort: SearchSort;
};

export type EventSummary = {
  id: number;
  date: string | null;
  date_added: string;
  actor1: { name: string | null; code: string | null };
  actor2: { name: string | null; code: string | null };
  event_code: string | null;
  event_description: string | null;
  event_root_code: string | null;
  event_root_description: string | null;
  quad_class: number | null;
  goldstein: number | null;
  tone: number | null;
  mentions: number | null;
  country: { code: string | null; name: string | null };
  location: string | null;
  source_url: string | null;
};

export const MAX_QUERY_TOKENS = 8;

/**
 * Turns free text into an FTS5 expression that cannot be anything but a list of words: every run of letters or
 * digits becomes a quoted term and the terms are ANDed. Quotes, `%`, `_`, `;`, operators and SQL keywords
 * are therefore plain words or separators, never syntax.
 */
export function ftsQuery(text: string): string {
  const words = text.normalize('NFKC').match(/[\p{L}\p{N}]+/gu) ?? [];
  if (!words.length) throw badRequest('invalid_query', `query=${JSON.stringify(text)} has no letters or digits to search for. Give at least one word, e.g. query=protest.`);
  return [...new Set(words.map((w) => w.toLowerCase()))].slice(0, MAX_QUERY_TOKENS).map((w) => `"${w}"`).join(' ');
}

/**
 * `since`/`until` (on the time GDELT added the event, which is also how the lake is partitioned): YYYY-MM-DD
 * covers that whole day; an ISO date-time is exact. Returns a half-open [from, to) window in ms.
 */
export function timeWindow(since?: string, until?: string): { fromMs?: number; toMs?: number } {
  const parse = (v: string, name: string, end: boolean) => {
    if (/^\d{4}-\d{2}-\d{2}$/.test(v)) {
      const t = Date.parse(`${v}T00:00:00Z`);
      if (!Number.isNaN(t) && new Date(t).toISOString().startsWith(v)) return end ? t + 86_400_000 : t;
    } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(v)) {
      const t = Date.parse(v);
      if (!Number.isNaN(t)) return t;
    }
    throw badRequest('invalid_time', `${name}=${JSON.stringify(v)} is not a date. Use YYYY-MM-DD (e.g. 2015-02-18) or an ISO date-time with a zone (2015-02-18T23:00:00Z).`);
  };
  const fromMs = since ? parse(since, 'since', false) : undefined;
  const toMs = until ? parse(until, 'until', true) : undefined;
  if (fromMs !== undefined && toMs !== undefined && fromMs >= toMs)
    throw badRequest('invalid_time_range', `since=${since} is not before until=${until}. Swap them or widen the window.`);
  return { fromMs, toMs };
}

type EvRow = {
  doc: number;
  id: number;
  date: string | null;
  code: string | null;
  quad: number | null;
  country: string | null;
  actor1: string | null;
  actor1_code: string | null;
  actor2: string | null;
  actor2_code: string | null;
  goldstein: number | null;
  tone: number | null;
  mentions: number | null;
  location: string | null;
  url: string | null;
};

export function summarize(r: EvRow, lookups: Lookups): EventSummary {
  const root = r.code ? r.code.slice(0, 2) : null;
  return {
    id: r.id,
    date: r.date,
    date_added: new Date(msOfDoc(r.doc)).toISOString(),
    actor1: { name: r.actor1, code: r.actor1_code },
    actor2: { name: r.actor2, code: r.actor2_code },
    event_code: r.code,
    event_description: (r.code && lookups.eventCodes.get(r.code)?.description) || null,
    event_root_code: root,
    event_root_description: (root && lookups.eventCodes.get(root)?.description) || null,
    quad_class: r.quad,
    goldstein: r.goldstein,
    tone: r.tone,
    mentions: r.mentions,
    country: { code: r.country, name: (r.country && lookups.fipsCountries.get(r.country)) || null },
    location: r.location,
    source_url: r.url,
  };
}

/**
 * With a text query the doc order is FTS5's rowid (the same value as ev.doc): ordering by it lets FTS5 walk the
 * posting list backwards and stop at `limit`, where ordering by ev.doc would sort every match first.
 */
const order = (sort: SearchSort, doc: string) =>
  sort === 'date' ? `${doc} DESC` : sort === 'mentions' ? `ev.mentions DESC, ${doc} DESC` : `ev.tone ASC, ${doc} DESC`;

/** The WHERE clause and its parameters shared by search, its count and the timeline. */
export function matchClause(p: Pick<SearchParams, 'query' | 'since' | 'until' | 'country' | 'event_code' | 'actor'>) {
  const { fromMs, toMs } = timeWindow(p.since, p.until);
  const where: string[] = [];
  const args: (string | number)[] = [];
  const fts = p.query !== undefined ? ftsQuery(p.query) : undefined;
  const lo = fromMs !== undefined ? docRangeStart(fromMs) : undefined;
  const hi = toMs !== undefined ? docRangeStart(toMs) : undefined;
  if (fts) {
    where.push('docs MATCH ?');
    args.push(fts);
  }
  const docCol = fts ? 'docs.rowid' : 'ev.doc';
  if (lo !== undefined) {
    where.push(`${docCol} >= ?`);
    args.push(lo);
  }
  if (hi !== undefined) {
    where.push(`${docCol} < ?`);
    args.push(hi);
  }
  const filters: string[] = [];
  const filterArgs: (string | number)[] = [];
  if (p.country) {
    filters.push('ev.country = ?');
    filterArgs.push(p.country);
  }
  if (p.event_code) {
    filters.push('substr(ev.code, 1, ?) = ?');
    filterArgs.push(p.event_code.length, p.event_code);
  }
  if (p.actor) {
    // instr, not LIKE: `%` and `_` in the input stay literal characters.
    filters.push('(instr(upper(ev.actor1), ?) > 0 OR instr(upper(ev.actor2), ?) > 0 OR ev.actor1_code = ? OR ev.actor2_code = ?)');
    const a = p.actor.toUpperCase();
    filterArgs.push(a, a, a, a);
  }
  const from = fts ? 'docs JOIN ev ON ev.doc = docs.rowid' : 'ev';
  return { from, where: [...where, ...filters], args: [...args, ...filterArgs], fts, lo, hi, hasFilters: filters.length > 0 };
}

/** Search over the index: `{ items, total }`, newest first unless another sort is asked for. */
export function search(index: SearchIndex, lookups: Lookups, p: SearchParams): { items: EventSummary[]; total: number } {
  const m = matchClause(p);
  const where = m.where.length ? `WHERE ${m.where.join(' AND ')}` : '';
  const rows = index.db
    .query<EvRow, (string | number)[]>(
      `SELECT ev.doc, ev.id, ev.date, ev.code, ev.quad, ev.country, ev.actor1, ev.actor1_code, ev.actor2, ev.actor2_code,
         ev.goldstein, ev.tone, ev.mentions, ev.location, ev.url
       FROM ${m.from} ${where} ORDER BY ${order(p.sort, m.fts ? 'docs.rowid' : 'ev.doc')} LIMIT ? OFFSET ?`,
    )
    .all(...m.args, p.limit, p.offset);
  // Without filters on ev, FTS5 counts a posting list range on its own, without touching the events table.
  const countFrom = m.fts && !m.hasFilters ? 'docs' : m.from;
  const total = index.db.query<{ n: number }, (string | number)[]>(`SELECT count(*) AS n FROM ${countFrom} ${where}`).get(...m.args)!.n;
  return { items: rows.map((r) => summarize(r, lookups)), total };
}
