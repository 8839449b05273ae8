import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { S3Client } from 'bun';
import { Kafka, logLevel } from 'kafkajs';
import postgres from 'postgres';
import { services, skipReason, uniqueName, waitFor } from '../helpers/index.ts';

// These prove the real services CI starts are usable the way the service uses them.
// A consumer group join alone can take seconds; waitFor deadlines bound each wait, this bounds the test.
setDefaultTimeout(60_000);

describe.skipIf(!!skipReason('kafka'))('Kafka', () => {
  test('a message produced to a new topic is consumed back', async () => {
    const topic = uniqueName('svc');
    const kafka = new Kafka({ clientId: 'services-test', brokers: services.kafka!, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka.producer({ idempotent: true });
    const consumer = kafka.consumer({ groupId: topic });
    try {
      await producer.connect();
      await producer.send({ topic, messages: [{ key: 'k', value: 'hello' }] });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const got: string[] = [];
      await consumer.run({ eachMessage: async ({ message }) => void got.push(String(message.value)) });
      await waitFor(() => got.length === 1, { what: 'the message' });
      expect(got).toEqual(['hello']);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect();
    }
  });
});

describe.skipIf(!!skipReason('postgres'))('Postgres logical replication', () => {
  test('a pgoutput slot sees an insert made after it was created', async () => {
    const sql = postgres(services.postgres!, { max: 1, onnotice: () => {} });
    const schema = uniqueName('svc');
    const slot = schema;
    try {
      expect((await sql`SHOW wal_level`)[0]!.wal_level).toBe('logical');
      await sql.unsafe(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.t (id int primary key, v text); CREATE PUBLICATION ${schema} FOR TABLE ${schema}.t`);
      await sql`SELECT pg_create_logical_replication_slot(${slot}, 'pgoutput')`;
      await sql.unsafe(`INSERT INTO ${schema}.t VALUES (1, 'hello')`);
      const changes = await sql`SELECT data FROM pg_logical_slot_get_binary_changes(${slot}, NULL, NULL, 'proto_version', '1', 'publication_names', ${schema})`;
      // pgoutput messages: Begin, Relation, Insert, Commit; the Insert ('I') carries our value.
      const kinds = changes.map((c) => String.fromCharCode((c.data as Buffer)[0]!));
      expect(kinds).toContain('I');
      expect(Buffer.concat(changes.map((c) => c.data as Buffer)).toString('latin1')).toContain('hello');
    } finally {
      await sql`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ${slot}`.catch(() => {});
      await sql.unsafe(`DROP PUBLICATION IF EXISTS ${schema}; DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await sql.end();
    }
  });
});

describe.skipIf(!!skipReason('s3'))('S3-compatible store', () => {
  test('an object written through Bun S3 client is read back, then deleted', async () => {
    const s3 = services.s3!;
    const client = new S3Client({ endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, region: s3.region, bucket: s3.bucket });
    const key = `${uniqueName('svc')}/hello.txt`;
    await client.write(key, 'hello lake');
    expect(await client.file(key).text()).toBe('hello lake');
    await client.delete(key);
    expect(await client.file(key).exists()).toBe(false);
  });
});

describe.skipIf(!!skipReason('postgres'))('Postgres queries behind the API', () => {
  test('a statement longer than PG_STATEMENT_TIMEOUT_MS is cancelled by the server', async () => {
    const { openPostgres } = await import('../../src/platform/stores/postgres.ts');
    const pg = openPostgres({ url: services.postgres!, schema: 'public', migrationsDir: '/nonexistent', max: 1, statementTimeoutMs: 200 });
    try {
      await expect(pg.sql`SELECT pg_sleep(2)`).rejects.toThrow(/statement timeout/);
    } finally {
      await pg.close();
    }
  });
});
