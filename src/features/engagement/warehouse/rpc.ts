import { AppError, unavailable } from '../../../platform/errors.ts';
import type { Warehouse } from './warehouse.ts';

/**
 * A DuckDB file has one owner per process (two DuckDB instances on one file in the same process do not see
 * each other's writes, and DuckDB's file lock does not stop them). With WAREHOUSE=duckdb the owner is the
 * processor worker, so the API asks it for reads (and replay writes) over the worker's messages.
 */
export type WarehouseMethod = 'daily' | 'hourly' | 'write';
export type WarehouseCall = { type: 'warehouse-call'; id: number; method: WarehouseMethod; args: unknown[] };
export type WarehouseReply =
  | { type: 'warehouse-reply'; id: number; ok: true; value: unknown }
  | { type: 'warehouse-reply'; id: number; ok: false; error: { code: string; message: string; status: number; retryable: boolean } };

/** Worker side: answers calls with the warehouse the running job owns. */
export function serveWarehouse(warehouse: Warehouse, emit: (reply: WarehouseReply) => void) {
  return async (call: WarehouseCall) => {
    try {
      const fn = warehouse[call.method] as (...a: unknown[]) => Promise<unknown>;
      emit({ type: 'warehouse-reply', id: call.id, ok: true, value: await fn.apply(warehouse, call.args) });
    } catch (e) {
      const error = e instanceof AppError ? e : new AppError('warehouse_failed', (e as Error).message ?? String(e));
      emit({ type: 'warehouse-reply', id: call.id, ok: false, error: { code: error.code, message: error.message, status: error.status, retryable: error.retryable } });
    }
  };
}

/** Parent side: one promise per call, settled by the worker's reply or a timeout (the worker may be restarting). */
export class WarehouseRpcClient {
  private next = 1;
  private pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void; timer: Timer }>();

  constructor(private options: { send(call: WarehouseCall): void; timeoutMs: number }) {}

  call<T>(method: WarehouseMethod, ...args: unknown[]): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(unavailable('warehouse_unavailable', `The processor worker that owns the DuckDB warehouse did not answer within ${this.options.timeoutMs} ms (it may be restarting); try again.`));
      }, this.options.timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.options.send({ type: 'warehouse-call', id, method, args });
    });
  }

  receive(reply: WarehouseReply) {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    clearTimeout(p.timer);
    if (reply.ok) p.resolve(reply.value);
    else p.reject(new AppError(reply.error.code, reply.error.message, { status: reply.error.status, retryable: reply.error.retryable }));
  }
}
