import type { Sink } from '../../../platform/stream/sink.ts';
import type { EngagementEvent } from '../model.ts';
import type { DailyRow, HourlyRow, WarehouseQuery } from './facts.ts';

/**
 * The engagement warehouse: a Sink (facts keyed by event id, applied once, acknowledged once stored) plus the
 * reads of its two views. Postgres (default), DuckDB and BigQuery implement it; all pass the Sink contract.
 */
export interface Warehouse extends Sink<EngagementEvent> {
  readonly kind: 'postgres' | 'duckdb' | 'bigquery';
  /** Creates tables and views if missing (idempotent, safe from several processes). */
  prepare(): Promise<void>;
  daily(query: WarehouseQuery): Promise<DailyRow[]>;
  hourly(query: WarehouseQuery): Promise<HourlyRow[]>;
  /** Facts whose event time is at or after `fromMs`, page by page: the source for rebuilding the live aggregates. */
  factsSince(fromMs: number, pageSize?: number): AsyncIterable<EngagementEvent[]>;
  /** Facts stored, for status and tests. */
  count(): Promise<number>;
}

export const WAREHOUSE_SINK = 'warehouse';
