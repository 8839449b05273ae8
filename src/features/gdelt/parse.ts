import type { DuckDBConnection } from '@duckdb/node-api';
import { TABLES, type TableName } from './schema.ts';

/** A row that did not make it into the lake, kept with its line number and why. */
export type QuarantinedRow = { line: number; reasons: string[]; raw: string };

/**
 * The DuckDB `read_csv` call that parses a GDELT batch: tab-separated, no header, no quoting (GDELT never quotes
 * and its URLs contain quotes), every column typed from the codebook. Rows with another field count, a value that
 * does not parse as its type (an id that is not a number, a date like 20151345) or bytes that are not UTF-8 are
 * not loaded; DuckDB records each in the rejects tables with the line number, which becomes the quarantine.
 */
export function readCsvSql(table: TableName, rejects: { table: string; scan: string }): string {
  const columns = TABLES[table].columns.map((c) => `'${c.name}': '${c.type}'`).join(', ');
  return `read_csv($csv, delim='\\t', header=false, quote='', escape='', auto_detect=false, new_line='\\n',
    columns={${columns}}, dateformat='%Y%m%d', timestampformat='%Y%m%d%H%M%S',
    store_rejects=true, rejects_table='${rejects.table}', rejects_scan='${rejects.scan}', rejects_limit=0)`;
}

/** Reads what DuckDB rejected (one entry per line, every reason), then drops the rejects tables. */
export async function takeRejects(c: DuckDBConnection, rejects: { table: string; scan: string }): Promise<QuarantinedRow[]> {
  const rows = (
    await c.runAndReadAll(
      `SELECT line::BIGINT AS line, list(DISTINCT lower(error_type::VARCHAR) || ': ' || error_message ORDER BY lower(error_type::VARCHAR) || ': ' || error_message) AS reasons, any_value(csv_line) AS raw
       FROM ${rejects.table} GROUP BY line ORDER BY line`,
    )
  ).getRowObjectsJson() as { line: string; reasons: string[]; raw: string | null }[];
  await c.run(`DROP TABLE IF EXISTS ${rejects.table}; DROP TABLE IF EXISTS ${rejects.scan}`);
  return rows.map((r) => ({ line: Number(r.line), reasons: r.reasons.map((x) => x.split('\n')[0]!), raw: r.raw ?? '' }));
}
