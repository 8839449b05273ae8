import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import postgres from 'postgres';
import { services, skipReason, uniqueName, waitFor, type TestApp } from '../helpers/index.ts';
import { CONTENT, insertContent, insertEvents, pipelineEnv, startPipeline, user, type RunningPipeline } from './engagement-fixture.ts';

/**
 * The README's least-privilege recipe, followed to the letter: a role that is not a superuser, with REPLICATION
 * and CONNECT + CREATE on the database, runs the whole engagement pipeline (its tables, the warehouse schema,
 * the publication and the durable slot) from a clean start.
 */
describe.skipIf(!!skipReason('postgres', 'kafka', 'redis'))('the service runs as a least-privilege Postgres role', () => {
  const role = uniqueName('lp').replace(/[^a-z0-9_]/g, '_');
  const admin = postgres(services.postgres ?? 'postgres://unset@127.0.0.1:1/unset', { onnotice: () => {}, max: 1 });
  const url = new URL(services.postgres ?? 'postgres://unset@127.0.0.1:1/unset');
  const database = url.pathname.slice(1) || 'postgres';
  url.username = role;
  url.password = 'lp-secret';
  const { env, names } = pipelineEnv({ DATABASE_URL: url.toString(), CDC_HEARTBEAT_SECONDS: '1' });
  let pipeline: RunningPipeline;
  let t: TestApp;
  let sql: RunningPipeline['sql'];

  beforeAll(async () => {
    // The recipe from the README's "Least privilege in Postgres".
    await admin.unsafe(`CREATE ROLE "${role}" LOGIN PASSWORD 'lp-secret' REPLICATION`);
    await admin.unsafe(`GRANT CONNECT, CREATE ON DATABASE "${database}" TO "${role}"`);
    // The client connects as the role too (env's DATABASE_URL).
    pipeline = await startPipeline({ env, names });
    ({ t, sql } = pipeline);
  }, 90_000);

  afterAll(async () => {
    try {
      await pipeline?.close();
    } finally {
      await admin.unsafe(`DROP OWNED BY "${role}" CASCADE`).catch(() => {});
      await admin.unsafe(`DROP ROLE IF EXISTS "${role}"`).catch(() => {});
      await admin.end();
    }
  }, 60_000);

  test('the role is no superuser, yet owns its schemas, publication and a durable slot, and events flow to /top-content', async () => {
    const [me] = await sql`SELECT rolsuper FROM pg_roles WHERE rolname = current_user`;
    expect(me!.rolsuper).toBe(false);
    const [pub] = await admin`SELECT pg_get_userbyid(pubowner) AS owner FROM pg_publication WHERE pubname = ${names.publication}`;
    expect(pub!.owner).toBe(role);
    const [slot] = await admin`SELECT temporary FROM pg_replication_slots WHERE slot_name = ${names.slot}`;
    expect(slot!.temporary).toBe(false);

    await insertContent(sql, [CONTENT.podcast]);
    await insertEvents(sql, [
      { content_id: CONTENT.podcast.id, user_id: user(1), event_type: 'play', duration_ms: null },
      { content_id: CONTENT.podcast.id, user_id: user(2), event_type: 'finish', duration_ms: 300_000 },
    ]);
    const top = await waitFor(async () => {
      const { body } = await t.json('/top-content');
      return body.items?.[0]?.events === 2 ? body : undefined;
    }, { timeoutMs: 30_000, what: 'both events in /top-content' });
    expect(top.items[0]).toMatchObject({ content_id: CONTENT.podcast.id, events: 2, unique_users: 2 });
    // The warehouse schema is created on the first write, by the same role.
    const facts = await waitFor(async () => {
      const [row] = await sql.unsafe(`SELECT count(*)::int AS n FROM "${names.schema}_wh".engagement_facts`).catch(() => [{ n: 0 }]);
      return row!.n === 2 ? row : undefined;
    }, { timeoutMs: 30_000, what: 'both facts in the warehouse' });
    expect(facts.n).toBe(2);
    const schemas = await admin`SELECT nspname, pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname IN (${names.schema}, ${`${names.schema}_wh`}) ORDER BY nspname`;
    expect(schemas.map((s) => s.owner)).toEqual([role, role]);
  }, 60_000);
});
