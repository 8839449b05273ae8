import { rmSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BigQueryWarehouse } from '../../src/features/engagement/warehouse/bigquery.ts';
import { engagementEnvelope } from '../helpers/engagement.ts';
import { startBigQueryStandIn } from '../helpers/bigquery-standin.ts';
import { tempDir } from '../helpers/index.ts';
import { sinkContract } from './sink-contract.ts';

// The BigQuery adapter against a local stand-in of the BigQuery REST API (BigQuery itself cannot run here).
sinkContract('BigQuery warehouse (local stand-in of the REST API)', async () => {
  const dir = tempDir('sillage-bq-');
  const standIn = await startBigQueryStandIn({ dir: dir.path });
  const options = { projectId: standIn.projectId, datasetId: 'engagement', apiUrl: standIn.url, credentialsFile: standIn.credentialsFile, flushRows: 100, flushIntervalMs: 20 };
  const sink = new BigQueryWarehouse(options);
  return {
    sink,
    envelope: (n) => engagementEnvelope(n),
    async effects(ids) {
      // Rows BigQuery stores, duplicates included: the stand-in's best-effort insertId dedupe is not relied on.
      const rows = await standIn.rows('engagement', 'engagement_facts');
      const count = new Map<string, number>();
      for (const r of rows) count.set(`engagement_events:${r.event_id}`, (count.get(`engagement_events:${r.event_id}`) ?? 0) + 1);
      return new Map(ids.map((id) => [id, count.get(id) ?? 0]));
    },
    poison: async () => engagementEnvelope(999, { event_ts: 'not a time' }),
    async unreachable() {
      // A key whose token endpoint is closed: no token, no request.
      const key = join(dir.path, 'dead-key.json');
      writeFileSync(key, (await Bun.file(standIn.credentialsFile).text()).replace(standIn.url, 'http://127.0.0.1:1'));
      return new BigQueryWarehouse({ ...options, apiUrl: 'http://127.0.0.1:1', credentialsFile: key });
    },
    async cleanup() {
      await standIn.close();
      rmSync(dir.path, { recursive: true, force: true });
    },
  };
});
