import type { DuckDBConnection } from '@duckdb/node-api';
import { readCsvSql, takeRejects, type QuarantinedRow } from './parse.ts';
import type { TableName } from './schema.ts';

/**
 * 122,880 rows (DuckDB's default) per row group: large enough for good ZSTD ratios and few metadata entries,
 * small enough that a query can skip most of a batch by the id and date statistics.
 */
export const ROW_GROUP_SIZE = 122_880;

let seq = 0;

/**
 * Parses a batch CSV and writes it as ZSTD Parquet in one DuckDB `COPY` (bench/gdelt-choices: 2.4× a JS parse
 * into apache-arrow written by parquet-wasm, with smaller files and the typed-parse rejects for the quarantine).
 * Returns the rows written and the rows quarantined.
 */
export async function writeBatchParquet(
  c: DuckDBConnection,
  options: { table: TableName; csvPath: string; parquetPath: string },
): Promise<{ rows: number; quarantined: QuarantinedRow[] }> {
  const rejects = { table: `rejects_${process.pid}_${++seq}`, scan: `rejects_scan_${process.pid}_${seq}` };
  const result = await c.runAndReadAll(
    `COPY (SELECT * FROM ${readCsvSql(options.table, rejects)}) TO $out (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${ROW_GROUP_SIZE})`,
    { csv: options.csvPath, out: options.parquetPath },
  );
  const rows = Number((result.getRows()[0]?.[0] as bigint | number | undefined) ?? 0);
  return { rows, quarantined: await takeRejects(c, rejects) };
}
