import postgres from 'postgres';
import { PostgresWarehouse } from '../../src/features/engagement/warehouse/postgres.ts';
import { engagementEnvelope } from '../helpers/engagement.ts';
import { services, skipReason, uniqueName } from '../helpers/index.ts';
import { sinkContract } from './sink-contract.ts';

sinkContract(
  'Postgres warehouse',
  async () => {
    const schema = uniqueName('wh');
    const sink = new PostgresWarehouse({ url: services.postgres!, schema, flushRows: 100, flushIntervalMs: 20 });
    const reader = postgres(services.postgres!, { onnotice: () => {}, max: 1 });
    return {
      sink,
      envelope: (n) => engagementEnvelope(n),
      async effects(ids) {
        const numbers = ids.map((id) => id.split(':')[1]!);
        const rows = await reader.unsafe<{ event_id: string; n: string }[]>(
          `SELECT event_id::text AS event_id, count(*) AS n FROM "${schema}".engagement_facts WHERE event_id = ANY($1::bigint[]) GROUP BY 1`,
          [numbers],
        );
        const found = new Map(rows.map((r) => [`engagement_events:${r.event_id}`, Number(r.n)]));
        return new Map(ids.map((id) => [id, found.get(id) ?? 0]));
      },
      // An event whose time is not a time can never become a fact.
      poison: async () => engagementEnvelope(999, { event_ts: 'not a time' }),
      unreachable: async () => new PostgresWarehouse({ url: 'postgres://postgres@127.0.0.1:1/none', schema, flushRows: 100, flushIntervalMs: 20 }),
      async cleanup() {
        await reader.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await reader.end();
      },
    };
  },
  { skip: skipReason('postgres') },
);
