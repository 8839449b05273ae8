import { describe, expect, test } from 'bun:test';
import { prepareReplication } from '../../src/features/engagement/cdc.ts';
import { engagementNames } from '../../src/features/engagement/names.ts';
import { loadConfig } from '../../src/platform/config.ts';
import { AppError } from '../../src/platform/errors.ts';
import type { Sql } from '../../src/platform/stores/postgres.ts';

/** A stand-in for postgres.js's tagged template that answers by the text of the query. */
function fakeSql(answer: (text: string) => unknown[] | Error) {
  const run = (text: string) => {
    const out = answer(text);
    return out instanceof Error ? Promise.reject(out) : Promise.resolve(out);
  };
  const sql = Object.assign((strings: TemplateStringsArray) => run(strings.join('?')), { unsafe: (text: string) => run(text) });
  return sql as unknown as Sql;
}

const names = { schema: 'shop', slot: 'sillage_shop', publication: 'sillage_shop' };
const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('preparing logical replication', () => {
  test('wal_level other than logical stops with the setting, why, and how to fix it', async () => {
    const sql = fakeSql((q) => (q.includes('wal_level') ? [{ wal_level: 'replica' }] : []));
    const error = await prepareReplication(sql, names).catch((e) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error.code).toBe('wal_level_not_logical');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('wal_level=replica');
    expect(error.message).toContain('ALTER SYSTEM SET wal_level = logical');
  });

  test('no free replication slot stops with a terminal error that says how to free one', async () => {
    const sql = fakeSql((q) => {
      if (q.includes('wal_level')) return [{ wal_level: 'logical' }];
      if (q.includes('pg_create_logical_replication_slot')) return pgError('53400', 'all replication slots are in use');
      return q.includes('FROM pg_publication') ? [{}] : [];
    });
    const error = await prepareReplication(sql, names).catch((e) => e);
    expect(error.code).toBe('replication_slots_exhausted');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('pg_drop_replication_slot');
  });

  test('a user without the replication privilege is told which attribute it needs', async () => {
    const sql = fakeSql((q) => {
      if (q.includes('wal_level')) return [{ wal_level: 'logical' }];
      if (q.includes('CREATE PUBLICATION')) return pgError('42501', 'permission denied for database');
      return [];
    });
    const error = await prepareReplication(sql, names).catch((e) => e);
    expect(error.code).toBe('replication_not_permitted');
    expect(error.message).toContain('REPLICATION');
  });

  test('a slot of the same name with another plugin is refused rather than misread', async () => {
    const sql = fakeSql((q) => {
      if (q.includes('wal_level')) return [{ wal_level: 'logical' }];
      if (q.includes('FROM pg_replication_slots')) return [{ plugin: 'wal2json', temporary: false }];
      return [{}];
    });
    const error = await prepareReplication(sql, names).catch((e) => e);
    expect(error.code).toBe('slot_plugin_mismatch');
    expect(error.message).toContain('CDC_SLOT_NAME');
  });

  test('names derive from the schema, fit in a Postgres identifier, and can be overridden', () => {
    const base = { DATABASE_URL: 'postgres://x@127.0.0.1/x' };
    expect(engagementNames(loadConfig({ ...base, DATABASE_SCHEMA: 'shop' }))).toMatchObject({ slot: 'sillage_shop', publication: 'sillage_shop', dlqTopic: 'engagement-events.dlq', contentTopic: 'content' });
    const long = engagementNames(loadConfig({ ...base, DATABASE_SCHEMA: 'a'.repeat(63) }));
    expect(long.slot.length).toBeLessThanOrEqual(63);
    expect(long.slot).toStartWith('sillage_aaa');
    expect(engagementNames(loadConfig({ ...base, CDC_SLOT_NAME: 'my_slot' })).slot).toBe('my_slot');
  });
});
