import { DuckDBInstance } from '@duckdb/node-api';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBWarehouse } from '../../src/features/engagement/warehouse/duckdb.ts';
import { engagementEnvelope } from '../helpers/engagement.ts';
import { tempDir } from '../helpers/index.ts';
import { sinkContract } from './sink-contract.ts';

sinkContract('DuckDB warehouse', async () => {
  const dir = tempDir('sillage-wh-');
  const sink = new DuckDBWarehouse({ path: join(dir.path, 'warehouse.duckdb'), flushRows: 100, flushIntervalMs: 20 });
  await sink.prepare();
  return {
    sink,
    envelope: (n) => engagementEnvelope(n),
    async effects(ids) {
      // A connection of its own on the same instance (a second instance on the file in this process would not see it).
      const c = await (sink as unknown as { instance: DuckDBInstance }).instance.connect();
      try {
        const numbers = ids.map((id) => BigInt(id.split(':')[1]!));
        const rows = (await c.runAndReadAll(`SELECT CAST(event_id AS VARCHAR) AS id, count(*)::INT AS n FROM engagement_facts WHERE list_contains(string_split($ids, ',')::BIGINT[], event_id) GROUP BY 1`, { ids: numbers.map(String).join(',') })).getRowObjectsJson();
        const found = new Map(rows.map((r) => [`engagement_events:${r.id}`, Number(r.n)]));
        return new Map(ids.map((id) => [id, found.get(id) ?? 0]));
      } finally {
        c.closeSync();
      }
    },
    poison: async () => engagementEnvelope(999, { event_ts: 'not a time' }),
    // A file under a path whose parent is a regular file can never be opened.
    unreachable: async () => new DuckDBWarehouse({ path: join(dir.path, 'warehouse.duckdb', 'nested', 'x.duckdb'), flushRows: 100, flushIntervalMs: 20 }),
    cleanup: async () => rmSync(dir.path, { recursive: true, force: true }),
  };
});
