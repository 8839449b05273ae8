import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';

export type DuckStore = {
  instance: DuckDBInstance;
  /** Runs one statement on a pooled connection and returns plain JSON-friendly rows. */
  all<T = Record<string, unknown>>(sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>): Promise<T[]>;
  run(sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>): Promise<void>;
  /** Lends a connection for a sequence of statements (a transaction, a temp table). */
  withConnection<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T>;
  check(): Promise<Record<string, unknown>>;
  close(): Promise<void>;
};

/**
 * Opens DuckDB (a file or ':memory:') with the given settings, e.g. `enable_external_access`, `allowed_directories`
 * and `lock_configuration` so user queries can only see what the service allows. Connections are pooled because
 * creating one per query costs more than most of our queries.
 */
export async function openDuckDB(options: { path: string; settings?: Record<string, string> }): Promise<DuckStore> {
  const instance = await DuckDBInstance.create(options.path, options.settings ?? {});
  const idle: DuckDBConnection[] = [];
  let closed = false;
  const withConnection = async <T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> => {
    if (closed) throw new Error('DuckDB is closed');
    const c = idle.pop() ?? (await instance.connect());
    try {
      return await fn(c);
    } finally {
      if (closed || idle.length >= 8) c.closeSync();
      else idle.push(c);
    }
  };
  const all = <T>(sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>) =>
    withConnection(async (c) => (await c.runAndReadAll(sql, params)).getRowObjectsJson() as T[]);
  return {
    instance,
    all,
    run: (sql, params) => withConnection(async (c) => void (await c.run(sql, params))),
    withConnection,
    check: async () => {
      await all('SELECT 1');
      return {};
    },
    close: async () => {
      closed = true;
      for (const c of idle.splice(0)) c.closeSync();
      instance.closeSync();
    },
  };
}
