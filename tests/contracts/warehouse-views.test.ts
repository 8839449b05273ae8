import { rmSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { BigQueryWarehouse } from '../../src/features/engagement/warehouse/bigquery.ts';
import { DuckDBWarehouse } from '../../src/features/engagement/warehouse/duckdb.ts';
import { PostgresWarehouse } from '../../src/features/engagement/warehouse/postgres.ts';
import { startBigQueryStandIn } from '../helpers/bigquery-standin.ts';
import { services, skipReason, tempDir, uniqueName } from '../helpers/index.ts';
import { warehouseViewsContract } from './warehouse-contract.ts';

warehouseViewsContract(
  'Postgres',
  async () => {
    const schema = uniqueName('whv');
    return {
      warehouse: new PostgresWarehouse({ url: services.postgres!, schema, flushRows: 100, flushIntervalMs: 10 }),
      async cleanup() {
        const sql = postgres(services.postgres!, { onnotice: () => {}, max: 1 });
        await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await sql.end();
      },
    };
  },
  { skip: skipReason('postgres') },
);

warehouseViewsContract('DuckDB', async () => {
  const dir = tempDir('sillage-whv-');
  return { warehouse: new DuckDBWarehouse({ path: join(dir.path, 'w.duckdb'), flushRows: 100, flushIntervalMs: 10 }), cleanup: async () => rmSync(dir.path, { recursive: true, force: true }) };
});

warehouseViewsContract('BigQuery (local stand-in)', async () => {
  const dir = tempDir('sillage-whv-bq-');
  const standIn = await startBigQueryStandIn({ dir: dir.path });
  return {
    warehouse: new BigQueryWarehouse({ projectId: standIn.projectId, datasetId: 'views', apiUrl: standIn.url, credentialsFile: standIn.credentialsFile, flushRows: 100, flushIntervalMs: 10 }),
    async cleanup() {
      await standIn.close();
      rmSync(dir.path, { recursive: true, force: true });
    },
  };
});
