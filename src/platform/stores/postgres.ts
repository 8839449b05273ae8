import postgres from 'postgres';
import { readMigrations } from './migrations.ts';

export type Sql = postgres.Sql<{}>;
export type PostgresStore = {
  sql: Sql;
  schema: string;
  migrate(): Promise<void>;
  check(): Promise<Record<string, unknown>>;
  close(): Promise<void>;
};

/**
 * A pooled Postgres client whose search_path is the configured schema, so tests (and several deployments
 * sharing one database) each get their own tables by using a different schema.
 */
export function openPostgres(options: { url: string; schema: string; migrationsDir: string; max?: number; statementTimeoutMs?: number }): PostgresStore {
  const { schema } = options;
  const sql = postgres(options.url, {
    max: options.max ?? 10,
    connect_timeout: 5,
    idle_timeout: 30,
    onnotice: () => {},
    connection: {
      search_path: schema,
      application_name: 'sillage',
      ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
    },
  });
  let migrated: Promise<void> | undefined;
  const migrate = () =>
    (migrated ??= (async () => {
      await sql`CREATE SCHEMA IF NOT EXISTS ${sql(schema)}`;
      // One migrator at a time across processes; the lock key is derived from the schema name.
      await sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(hashtext(${'sillage-migrate:' + schema}))`;
        await tx`CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;
        const done = new Set((await tx<{ version: number }[]>`SELECT version FROM schema_migrations`).map((r) => r.version));
        for (const m of readMigrations(options.migrationsDir)) {
          if (done.has(m.version)) continue;
          await tx.unsafe(m.sql);
          await tx`INSERT INTO schema_migrations (version, name) VALUES (${m.version}, ${m.name})`;
        }
      });
    })().catch((e) => {
      migrated = undefined;
      throw e;
    }));
  return {
    sql,
    schema,
    migrate,
    check: async () => {
      await sql`SELECT 1`;
      return {};
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

/**
 * Whether a Postgres error can pass by itself: connection trouble and a restarting server (classes 08, 57P,
 * 53 resources), serialization failures and deadlocks (40), lock or statement timeouts (55P03, 57014).
 * Data, constraint and syntax errors (22, 23, 42) will fail again the same way.
 */
export function isTransientPostgresError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== 'string') return true;
  if (/^(08|40|53|57)/.test(code) || code === '55P03' || code === '55006') return true;
  if (/^[0-9A-Z]{5}$/.test(code)) return false;
  // Node socket errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT…) and postgres.js's CONNECTION_* codes.
  return true;
}
