import { afterAll, describe, expect, test } from 'bun:test';
import postgres from 'postgres';
import { join } from 'node:path';
import { buildWorld, ensureCatalogue, insertEvents } from '../../src/features/engagement/generator.ts';
import { openPostgres } from '../../src/platform/stores/postgres.ts';
import { ROOT, services, skipReason, uniqueName, waitFor } from '../helpers/index.ts';

describe.skipIf(!!skipReason('postgres'))('data generator against Postgres', () => {
  const schema = uniqueName('gen');
  const env = { ...Bun.env, DATABASE_URL: services.postgres!, DATABASE_SCHEMA: schema, LOG_FORMAT: 'json' };
  const sql = postgres(services.postgres ?? 'postgres://x@127.0.0.1:1/x', { onnotice: () => {}, max: 1 });
  afterAll(async () => {
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await sql.end();
  });

  const run = async (...args: string[]) => {
    const proc = Bun.spawn(['bun', 'src/cli/generate.ts', ...args], { cwd: ROOT, env, stdout: 'pipe', stderr: 'pipe' });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { stdout, stderr, code };
  };

  test('batch mode inserts exactly N events from the last minute and prints the counts', async () => {
    const { code, stdout } = await run('batch', '--batch-size', '2500', '--seed', '11');
    expect(code).toBe(0);
    expect(stdout).toContain('batch: inserted 2500 events');
    const [row] = await sql.unsafe(`SELECT count(*)::int AS n, min(event_ts) AS lo, max(event_ts) AS hi FROM "${schema}".engagement_events`);
    expect(row!.n).toBe(2500);
    expect(Date.now() - new Date(row!.lo).getTime()).toBeLessThan(5 * 60_000);
  }, 60_000);

  test('historical mode loads the past days with COPY', async () => {
    const { code, stdout } = await run('historical', '--historical-days', '3', '--events-per-day', '1000', '--seed', '11');
    expect(code).toBe(0);
    expect(stdout).toContain('inserted 3000 events over 3 days');
    const [row] = await sql.unsafe(`SELECT count(*)::int AS n FROM "${schema}".engagement_events WHERE event_ts < date_trunc('day', now())`);
    expect(row!.n).toBe(3000);
  }, 60_000);

  test('continuous mode writes events at the asked rate until it is told to stop (SIGINT), then prints the count it inserted', async () => {
    const count = async () => (await sql.unsafe(`SELECT count(*)::int AS n FROM "${schema}".engagement_events`))[0]!.n as number;
    const before = await count();
    const proc = Bun.spawn(['bun', 'src/cli/generate.ts', 'continuous', '--rate', '200', '--seed', '5'], { cwd: ROOT, env, stdout: 'pipe', stderr: 'pipe' });
    const stdout = new Response(proc.stdout).text();
    const stderr = new Response(proc.stderr).text();
    try {
      await waitFor(async () => (await count()) - before >= 50, { timeoutMs: 30_000, what: 'continuous mode to insert its first 50 events' });
    } finally {
      proc.kill('SIGINT');
    }
    expect(await proc.exited).toBe(0);
    const out = await stdout;
    expect(out).toContain('continuous: 200 events/s until Ctrl-C');
    const inserted = Number(/continuous: inserted (\d+) events/.exec(out)?.[1]);
    expect(inserted).toBeGreaterThanOrEqual(50);
    expect((await count()) - before).toBe(inserted);
    expect(await stderr).toBe('');
    const [row] = await sql.unsafe(`SELECT max(event_ts) AS newest FROM "${schema}".engagement_events`);
    expect(Math.abs(Date.now() - new Date(row!.newest).getTime())).toBeLessThan(5 * 60_000);
  }, 60_000);

  test('an event type outside the set is rejected by Postgres and the generator says so clearly, without a stack trace', async () => {
    const { code, stderr } = await run('batch', '--batch-size', '20', '--event-types', 'play,like');
    expect(code).toBe(1);
    expect(stderr).toContain('event_type must be one of play, pause, finish, click');
    expect(stderr).toContain('engagement_events_event_type_check');
    expect(stderr).not.toContain('    at ');
  }, 60_000);

  test('a negative duration is rejected by Postgres with a message naming the rule', async () => {
    const pg = openPostgres({ url: services.postgres!, schema, migrationsDir: join(ROOT, 'db/postgres'), max: 1 });
    try {
      const world = buildWorld({ seed: 11 });
      await ensureCatalogue(pg.sql, world);
      const event = { content_id: world.catalogue[0]!.id, user_id: world.users[0]!, event_type: 'pause', event_ts: new Date(), duration_ms: -1, device: 'web', raw_payload: {} };
      await expect(insertEvents(pg.sql, [event])).rejects.toThrow(/engagement_events_duration_ms_check/);
    } finally {
      await pg.close();
    }
  });

  test('a bad option value stops with the rule and an example', async () => {
    const { code, stderr } = await run('continuous', '--rate', 'fast');
    expect(code).toBe(2);
    expect(stderr).toContain('--rate must be a positive number (got "fast")');
  });
});
