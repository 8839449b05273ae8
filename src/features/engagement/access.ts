import type { AppContext } from '../../platform/context.ts';
import { transient, unavailable } from '../../platform/errors.ts';
import type { Sink } from '../../platform/stream/sink.ts';
import type { WorkerHandle } from '../../platform/workers/supervisor.ts';
import { ContentCatalogue, contentLookup } from './catalogue.ts';
import type { EngagementEvent } from './model.ts';
import { restOptions, warehouseOptions } from './options.ts';
import { REDIS_SINK, RedisEngagementSink } from './redis-sink.ts';
import { openWarehouse, restSink } from './sinks.ts';
import type { DailyRow, HourlyRow, WarehouseQuery } from './warehouse/facts.ts';
import { WarehouseRpcClient, type WarehouseCall, type WarehouseReply } from './warehouse/rpc.ts';
import type { Warehouse } from './warehouse/warehouse.ts';

/** What the API needs of the warehouse: its views, and writes for DLQ replay. */
export type WarehouseAccess = Pick<Warehouse, 'name' | 'daily' | 'hourly' | 'write'>;

/**
 * The API's handles on the pipeline's stores, opened on first use and closed with the app: the warehouse
 * (its own client for Postgres and BigQuery; the processor worker's, over messages, for a DuckDB file), the
 * content catalogue and the sinks a DLQ replay writes to.
 */
export class EngagementAccess {
  private rpc: WarehouseRpcClient | undefined;
  private local: Promise<Warehouse> | undefined;
  private replaySinks: Promise<Map<string, Sink<EngagementEvent>>> | undefined;
  private migrated: Promise<void> | undefined;
  readonly catalogue: ContentCatalogue | undefined;

  constructor(private ctx: AppContext) {
    const pg = ctx.stores.postgres;
    this.catalogue = pg ? new ContentCatalogue({ lookup: contentLookup(pg.sql), log: ctx.log }) : undefined;
    ctx.onClose(() => this.close());
  }

  /** The processor worker of this process, which owns a DuckDB warehouse. */
  attachProcessor(handle: WorkerHandle<WarehouseCall>) {
    this.rpc = new WarehouseRpcClient({ send: (call) => handle.send(call), timeoutMs: 15_000 });
  }

  receive(reply: WarehouseReply) {
    this.rpc?.receive(reply);
  }

  /** The source tables' schema, migrated once (the dead-letter index lives there). */
  async sql() {
    const pg = this.ctx.stores.postgres;
    if (!pg) throw unavailable('engagement_disabled', 'The dead-letter queue needs Postgres: set DATABASE_URL (and KAFKA_BOOTSTRAP_SERVERS, REDIS_URL for the pipeline).');
    this.migrated ??= pg.migrate().catch((e) => {
      this.migrated = undefined;
      throw e;
    });
    await this.migrated;
    return pg.sql;
  }

  async warehouse(): Promise<WarehouseAccess> {
    const o = warehouseOptions(this.ctx.config);
    if (o.kind === 'duckdb') {
      const rpc = this.rpc;
      if (!rpc)
        throw unavailable(
          'warehouse_not_here',
          `WAREHOUSE=duckdb keeps the warehouse file (${o.duckdbPath}) inside the process whose processor writes it, and this process runs none (ROLE=${this.ctx.config.ROLE.join(',')}, ENGAGEMENT_PIPELINE=${this.ctx.config.ENGAGEMENT_PIPELINE}). Serve the API from that process, or use WAREHOUSE=postgres, which every instance shares.`,
        );
      return {
        name: 'warehouse',
        daily: (q: WarehouseQuery) => rpc.call<DailyRow[]>('daily', q),
        hourly: (q: WarehouseQuery) => rpc.call<HourlyRow[]>('hourly', q),
        write: (batch) => rpc.call('write', batch),
      };
    }
    if (o.kind === 'postgres' && !o.databaseUrl) throw unavailable('warehouse_disabled', 'The warehouse lives in Postgres: set DATABASE_URL (WAREHOUSE_SCHEMA names its schema).');
    this.local ??= openWarehouse(o, { flushRows: this.ctx.config.BATCH_SIZE, clock: this.ctx.clock }).then(async (w) => {
      await w.prepare();
      return w;
    });
    return this.local.catch((e) => {
      this.local = undefined;
      throw e;
    });
  }

  /** Every sink of the pipeline as this process can reach it, by name, for replaying dead letters. */
  sinks(): Promise<Map<string, Sink<EngagementEvent>>> {
    this.replaySinks ??= (async () => {
      const { config, stores, clock } = this.ctx;
      const out = new Map<string, Sink<EngagementEvent>>();
      const warehouse = await this.warehouse();
      const local = this.local ? await this.local : undefined;
      if (stores.redis)
        out.set(
          REDIS_SINK,
          new RedisEngagementSink({
            redis: stores.redis.redis,
            prefix: config.REDIS_KEY_PREFIX,
            windowMinutes: config.REDIS_AGGREGATION_WINDOW_MINUTES,
            clock,
            rebuildFrom: local
              ? (fromMs) => local.factsSince(fromMs)
              : () => {
                  throw transient('redis_rebuilding', 'Redis has no live state and only the processor can rebuild it from the DuckDB warehouse; replay again once it has.');
                },
          }),
        );
      out.set('warehouse', { name: 'warehouse', write: (batch) => warehouse.write(batch), close: async () => {} });
      const rest = restOptions(config);
      if (rest) out.set('rest', restSink(rest, { clock }));
      return out;
    })().catch((e) => {
      this.replaySinks = undefined;
      throw e;
    });
    return this.replaySinks;
  }

  async close() {
    const local = this.local;
    this.local = undefined;
    if (local) await (await local.catch(() => undefined))?.close();
  }
}
