import type { DuckDBConnection } from '@duckdb/node-api';
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

/**
 * One event as the index reads it from Parquet, in the column order of {@link INDEX_ROW_SQL}: a JSON array DuckDB
 * builds, because one string per row crosses into JS several times faster than 17 typed values.
 */
export type IndexRow = [
  row: number,
  id: number,
  date: string | null,
  code: string | null,
  quad: number | null,
  country: string | null,
  actor1: string | null,
  actor1_code: string | null,
  actor2: string | null,
  actor2_code: string | null,
  goldstein: number | null,
  tone: number | null,
  mentions: number | null,
  location: string | null,
  url: string | null,
  /** Place names of both actors, indexed for search but not stored. */
  actor1_place: string | null,
  actor2_place: string | null,
];

export const INDEX_ROW_SQL = `SELECT json_array(file_row_number, GLOBALEVENTID, strftime(SQLDATE, '%Y-%m-%d'), EventCode, QuadClass, ActionGeo_CountryCode,
    Actor1Name, Actor1Code, Actor2Name, Actor2Code, GoldsteinScale, AvgTone, NumMentions, ActionGeo_FullName, SOURCEURL,
    Actor1Geo_FullName, Actor2Geo_FullName)::VARCHAR
  FROM read_parquet($p, file_row_number = true)`;

/**
 * Streams the index rows of a published events file, one DuckDB chunk (2,048 rows) at a time, so memory stays
 * bounded whatever the batch size and the event loop gets a turn between chunks.
 */
export async function* readIndexRows(c: DuckDBConnection, parquetPath: string): AsyncGenerator<IndexRow[]> {
  const result = await c.stream(INDEX_ROW_SQL, { p: parquetPath });
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) return;
    const column = chunk.getColumnVector(0);
    const parts = new Array<string>(chunk.rowCount);
    for (let i = 0; i < chunk.rowCount; i++) parts[i] = column.getItem(i) as string;
    yield JSON.parse(`[${parts.join(',')}]`) as IndexRow[];
  }
}

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
  // Punctuation is left for the FTS5 tokenizer, which splits on it anyway.
  return url.replace(/^[a-z]+:\/\/(www\d?\.)?/i, '').replace(/\d{5,}/g, ' ');
}

/**
 * The text FTS5 indexes for an event: actor names, place names (the action place and the actors' places, each
 * once: they are often the same), source URL words and the CAMEO descriptions of the code and its parents.
 */
export function docText(r: IndexRow, describe: (code: string | null) => string): string {
  const place = r[13];
  const p1 = r[15] && r[15] !== place ? r[15] : '';
  const p2 = r[16] && r[16] !== place && r[16] !== r[15] ? r[16] : '';
  return `${r[6] ?? ''} ${r[8] ?? ''} ${place ?? ''} ${p1} ${p2} ${urlWords(r[14])} ${describe(r[3])}`;
}

export class SearchIndex {
  readonly db: Database;
  /**
   * `cacheMb`: SQLite page cache. Searches profit from 64 MB; the index stage only appends (B-tree right edges,
   * young FTS5 segments), where 16 MB is as fast and keeps the ingestion's memory down.
   */
  constructor(path: string, options: { readonly?: boolean; cacheMb?: number } = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path, { create: true, strict: true });
    this.db.run('PRAGMA journal_mode = WAL');
    // Like every SQLite file of the service: schema objects cannot call functions with side effects.
    this.db.run('PRAGMA trusted_schema = OFF');
    // The index is derived from the lake and rebuilt per batch if lost, so a power cut may cost the last commit.
    this.db.run('PRAGMA synchronous = NORMAL');
    this.db.run('PRAGMA busy_timeout = 5000');
    this.db.run(`PRAGMA cache_size = -${(options.cacheMb ?? 64) * 1024}`);
    if (!options.readonly) this.db.run(SCHEMA);
  }

  isIndexed(batch: string): boolean {
    return !!this.db.query('SELECT 1 FROM indexed_batches WHERE batch = ?').get(batch);
  }

  indexedBatches(): Set<string> {
    return new Set(this.db.query<{ batch: string }, []>('SELECT batch FROM indexed_batches').all().map((r) => r.batch));
  }

  /** When each of these batches was indexed (absent: not searchable yet). */
  indexedAt(batches: string[]): Map<string, string> {
    const rows = this.db
      .query<{ batch: string; indexed_at: string }, [string]>('SELECT batch, indexed_at FROM indexed_batches WHERE batch IN (SELECT value FROM json_each(?))')
      .all(JSON.stringify(batches));
    return new Map(rows.map((r) => [r.batch, r.indexed_at]));
  }

  /** How many batches are indexed, and the newest. */
  indexedSummary(): { batches: number; newest: string | null } {
    const r = this.db.query<{ n: number; newest: string | null }, []>('SELECT count(*) AS n, max(batch) AS newest FROM indexed_batches').get()!;
    return { batches: r.n, newest: r.newest };
  }

  private writing = false;

  /**
   * Adds one batch, chunk by chunk, in one transaction (so a crash leaves it wholly in or out; readers keep
   * reading the last commit meanwhile) and marks it indexed. Between chunks the event loop runs, so the next
   * batch's download and Parquet write go on while this one is indexed. Returns the rows indexed and the
   * duplicates resolved, or undefined when the batch was already indexed.
   */
  async addBatch(
    batch: string,
    chunks: AsyncIterable<IndexRow[]> | Iterable<IndexRow[]>,
    lookups: Lookups,
    at: string,
    signal?: AbortSignal,
  ): Promise<{ rows: number; superseded: number } | undefined> {
    if (this.writing) throw new Error('SearchIndex.addBatch is already running: batches are indexed one at a time (see Indexer).');
    const time = batchTimeMs(batch)!;
    const base = docOf(batch, 0);
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
    this.writing = true;
    this.db.run('BEGIN IMMEDIATE');
    try {
      if (this.isIndexed(batch)) {
        this.db.run('ROLLBACK');
        return undefined;
      }
      for await (const rows of chunks) {
        signal?.throwIfAborted();
        for (const r of rows) {
          const doc = base + r[0];
          const id = r[1];
          const ev = [doc, id, batch, r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14]] as const;
          if (insEv.run(...ev).changes === 0) {
            const old = existing.get(id)!;
            if (old.batch === batch) continue;
            superseded++;
            if (batchTimeMs(old.batch)! > time) {
              addSuperseded.run(batch, id);
              continue;
            }
            addSuperseded.run(old.batch, id);
            delEv.run(old.doc);
            delDoc.run(old.doc);
            insEv.run(...ev);
          }
          insDoc.run(doc, docText(r, describe));
          count++;
        }
      }
      this.db.query('INSERT INTO indexed_batches (batch, rows, superseded, indexed_at) VALUES (?, ?, ?, ?)').run(batch, count, superseded, at);
      this.db.run('COMMIT');
    } catch (e) {
      if (this.db.inTransaction) this.db.run('ROLLBACK');
      throw e;
    } finally {
      this.writing = false;
    }
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
