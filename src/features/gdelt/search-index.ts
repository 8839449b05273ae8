import { Database } from 'bun:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { describeCode, type Lookups } from './lookups.ts';
import { batchTimeMs } from './manifest.ts';

/**
 * The search index, built at ingest in its own SQLite file (DATA_DIR/gdelt-index.db) so the service database
 * stays small and the index can be dropped and rebuilt from the lake.
 *
 * - `ev` holds, per event, the fields a search filters on and shows (a covering copy: a search never opens Parquet).
 * - `docs` is a contentless FTS5 table over actor names, place names, source URL words and the CAMEO descriptions
 *   of the event code and its parents, so `protest` finds root-code-14 events even when no text says so.
 * - Both are keyed by `doc = slot << 24 | row`, where slot is the 15-minute batch number since 1970 and row the
 *   row within the batch: doc order is time order, a time window is one doc range FTS5 can seek to, and newest-
 *   first results come from walking the posting list backwards and stopping at `limit`.
 * - Duplicate GLOBALEVENTIDs across batches: the row with the latest DATEADDED wins. The loser's (batch, id) goes
 *   to `superseded`, which lake queries (stats, timeline) exclude; the index keeps only the winner.
 */
export const ROW_BITS = 24;
const ROW_SPAN = 2 ** ROW_BITS;
const SLOT_MS = 15 * 60_000;

export const docOf = (batch: string, row: number) => Math.floor(batchTimeMs(batch)! / SLOT_MS) * ROW_SPAN + row;
export const docRangeStart = (ms: number) => Math.ceil(ms / SLOT_MS) * ROW_SPAN;
export const msOfDoc = (doc: number) => Math.floor(doc / ROW_SPAN) * SLOT_MS;

export type IndexRow = {
  row: number;
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
  /** Place names of both actors, indexed for search but not stored. */
  places: string;
};

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ev (
  doc INTEGER PRIMARY KEY,
  id INTEGER NOT NULL,
  batch TEXT NOT NULL,
  date TEXT, code TEXT, quad INTEGER, country TEXT,
  actor1 TEXT, actor1_code TEXT, actor2 TEXT, actor2_code TEXT,
  goldstein REAL, tone REAL, mentions INTEGER, location TEXT, url TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS ev_id ON ev (id);
CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts5 (t, content = '', contentless_delete = 1, detail = none, tokenize = 'porter unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS indexed_batches (batch TEXT PRIMARY KEY, rows INTEGER NOT NULL, superseded INTEGER NOT NULL, indexed_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS superseded (batch TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (batch, id)) WITHOUT ROWID;
`;

/** Words of a source URL worth searching: host and path words, without scheme, `www` and long numeric ids. */
export function urlWords(url: string | null): string {
  if (!url) return '';
  return url
    .replace(/^[a-z]+:\/\/(www\d?\.)?/i, '')
    .replace(/\d{5,}/g, ' ')
    .replace(/[^\p{L}\p{N}]+/gu, ' ');
}

export class SearchIndex {
  readonly db: Database;
  constructor(path: string, options: { readonly?: boolean } = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path, { create: true, strict: true });
    this.db.run('PRAGMA journal_mode = WAL');
    // The index is derived from the lake and rebuilt per batch if lost, so a power cut may cost the last commit.
    this.db.run('PRAGMA synchronous = NORMAL');
    this.db.run('PRAGMA busy_timeout = 5000');
    this.db.run('PRAGMA cache_size = -65536');
    if (!options.readonly) this.db.run(SCHEMA);
  }

  isIndexed(batch: string): boolean {
    return !!this.db.query('SELECT 1 FROM indexed_batches WHERE batch = ?').get(batch);
  }

  /**
   * Adds one batch in one transaction (so a crash leaves it wholly in or out) and marks it indexed. Returns the
   * number of rows indexed and of duplicates resolved.
   */
  addBatch(batch: string, rows: Iterable<IndexRow>, lookups: Lookups, at: string): { rows: number; superseded: number } {
    const time = batchTimeMs(batch)!;
    const described = new Map<string, string>();
    const describe = (code: string | null) => {
      if (!code) return '';
      let d = described.get(code);
      if (d === undefined) described.set(code, (d = describeCode(lookups, code)));
      return d;
    };
    const insEv = this.db.query(
      `INSERT INTO ev (doc, id, batch, date, code, quad, country, actor1, actor1_code, actor2, actor2_code, goldstein, tone, mentions, location, url)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    );
    const insDoc = this.db.query('INSERT INTO docs (rowid, t) VALUES (?, ?)');
    const existing = this.db.query<{ doc: number; batch: string }, [number]>('SELECT doc, batch FROM ev WHERE id = ?');
    const delEv = this.db.query('DELETE FROM ev WHERE doc = ?');
    const delDoc = this.db.query('DELETE FROM docs WHERE rowid = ?');
    const addSuperseded = this.db.query('INSERT OR IGNORE INTO superseded (batch, id) VALUES (?, ?)');
    let count = 0;
    let superseded = 0;
    this.db.transaction(() => {
      if (this.isIndexed(batch)) return;
      for (const r of rows) {
        const doc = docOf(batch, r.row);
        const args = [doc, r.id, batch, r.date, r.code, r.quad, r.country, r.actor1, r.actor1_code, r.actor2, r.actor2_code, r.goldstein, r.tone, r.mentions, r.location, r.url] as const;
        const text = `${r.actor1 ?? ''} ${r.actor2 ?? ''} ${r.location ?? ''} ${r.places} ${urlWords(r.url)} ${describe(r.code)}`;
        if (insEv.run(...args).changes === 0) {
          const old = existing.get(r.id)!;
          if (old.batch === batch) continue;
          superseded++;
          if (batchTimeMs(old.batch)! > time) {
            addSuperseded.run(batch, r.id);
            continue;
          }
          addSuperseded.run(old.batch, r.id);
          delEv.run(old.doc);
          delDoc.run(old.doc);
          insEv.run(...args);
        }
        insDoc.run(doc, text);
        count++;
      }
      this.db.query('INSERT INTO indexed_batches (batch, rows, superseded, indexed_at) VALUES (?, ?, ?, ?)').run(batch, count, superseded, at);
    })();
    return { rows: count, superseded };
  }

  /** (batch, GLOBALEVENTID) pairs that lost to a newer copy; lake queries leave them out. */
  superseded(): { batch: string; id: number }[] {
    return this.db.query<{ batch: string; id: number }, []>('SELECT batch, id FROM superseded').all();
  }

  supersededCount(): number {
    return this.db.query<{ n: number }, []>('SELECT count(*) AS n FROM superseded').get()!.n;
  }

  close() {
    this.db.close();
  }
}
