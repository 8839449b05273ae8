import type { Database } from 'bun:sqlite';
import { batchFromMs, batchIso } from './manifest.ts';
import type { TableName } from './schema.ts';

/** A batch file published in the lake: what the manifest said about its zip, and what we wrote. */
export type BatchRecord = {
  table: TableName;
  batch: string;
  name: string;
  rows: number;
  bytes: number;
  md5: string;
  quarantined_rows: number;
  parquet_key: string;
  parquet_bytes: number;
  quarantine_key: string | null;
  ingested_at: string;
};

type Row = Omit<BatchRecord, 'table'> & { tbl: TableName };
const fromRow = ({ tbl, ...r }: Row): BatchRecord => ({ table: tbl, ...r });

export const parquetKey = (table: TableName, batch: string) => `${table}/date=${batchIso(batch).slice(0, 10)}/batch=${batch}.parquet`;
export const quarantineKey = (table: TableName, batch: string) => `_quarantine/${table}/batch=${batch}.jsonl`;
export const markerKey = (table: TableName, batch: string) => `_batches/${table}/${batch}.json`;

/** The catalog of published batches in SQLite: what the API lists and which files queries read. */
export class Catalog {
  constructor(private db: Database) {}

  get(table: TableName, batch: string): BatchRecord | undefined {
    const r = this.db.query<Row, [string, string]>('SELECT * FROM gdelt_batches WHERE tbl = ? AND batch = ?').get(table, batch);
    return r ? fromRow(r) : undefined;
  }

  record(r: BatchRecord) {
    this.db
      .query(
        `INSERT INTO gdelt_batches (tbl, batch, name, rows, bytes, md5, quarantined_rows, parquet_key, parquet_bytes, quarantine_key, ingested_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (tbl, batch) DO UPDATE SET name = excluded.name, rows = excluded.rows, bytes = excluded.bytes, md5 = excluded.md5,
           quarantined_rows = excluded.quarantined_rows, parquet_key = excluded.parquet_key, parquet_bytes = excluded.parquet_bytes,
           quarantine_key = excluded.quarantine_key, ingested_at = excluded.ingested_at`,
      )
      .run(r.table, r.batch, r.name, r.rows, r.bytes, r.md5, r.quarantined_rows, r.parquet_key, r.parquet_bytes, r.quarantine_key, r.ingested_at);
  }

  list(options: { table?: TableName; limit: number; offset: number }): { items: BatchRecord[]; total: number; rows: number } {
    const where = options.table ? 'WHERE tbl = ?' : '';
    const args = options.table ? [options.table] : [];
    const items = this.db
      .query<Row, (string | number)[]>(`SELECT * FROM gdelt_batches ${where} ORDER BY batch DESC, tbl LIMIT ? OFFSET ?`)
      .all(...args, options.limit, options.offset)
      .map(fromRow);
    const { n: total, rows } = this.db.query<{ n: number; rows: number }, string[]>(`SELECT count(*) AS n, coalesce(sum(rows), 0) AS rows FROM gdelt_batches ${where}`).get(...args)!;
    return { items, total, rows };
  }

  /** Parquet keys of a table whose batch time is within [fromMs, toMs), oldest first (batch names sort as times). */
  keys(table: TableName, fromMs?: number, toMs?: number): { batch: string; key: string }[] {
    const from = fromMs === undefined ? '00000000000000' : batchFromMs(Math.max(0, fromMs));
    const to = toMs === undefined ? '99999999999999' : batchFromMs(Math.max(0, toMs));
    return this.db
      .query<{ batch: string; parquet_key: string }, [string, string, string]>(
        'SELECT batch, parquet_key FROM gdelt_batches WHERE tbl = ? AND rows > 0 AND batch >= ? AND batch < ? ORDER BY batch',
      )
      .all(table, from, to)
      .map((r) => ({ batch: r.batch, key: r.parquet_key }));
  }

  /** Published batches of a table that hold rows. */
  count(table: TableName): number {
    return this.db.query<{ n: number }, [string]>('SELECT count(*) AS n FROM gdelt_batches WHERE tbl = ? AND rows > 0').get(table)!.n;
  }

  newest(table: TableName): string | undefined {
    return this.db.query<{ b: string | null }, [string]>('SELECT max(batch) AS b FROM gdelt_batches WHERE tbl = ?').get(table)?.b ?? undefined;
  }
}
