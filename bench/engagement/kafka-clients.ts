import { Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { Kafka, logLevel } from 'kafkajs';
import { idempotentProducer } from '../../src/platform/stream/kafka.ts';

/** The same produce/consume work through kafkajs and @platformatic/kafka, for the client comparison. */
export type Msg = { key: string; value: string; headers: Record<string, string> };

const seconds = (t0: number) => (performance.now() - t0) / 1000;

export async function kafkajsProduce(brokers: string[], topic: string, messages: Msg[], batch: number): Promise<number> {
  const kafka = new Kafka({ clientId: 'bench-kafkajs', brokers, logLevel: logLevel.NOTHING });
  const producer = idempotentProducer(kafka);
  await producer.connect();
  const t0 = performance.now();
  for (let i = 0; i < messages.length; i += batch) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + batch) });
  const s = seconds(t0);
  await producer.disconnect();
  return messages.length / s;
}

export async function platformaticProduce(brokers: string[], topic: string, messages: Msg[], batch: number): Promise<number> {
  const producer = new Producer({ clientId: 'bench-platformatic', bootstrapBrokers: brokers, serializers: stringSerializers, idempotent: true, acks: -1 });
  const t0 = performance.now();
  for (let i = 0; i < messages.length; i += batch)
    await producer.send({ messages: messages.slice(i, i + batch).map((m) => ({ topic, key: m.key, value: m.value, headers: m.headers })) });
  const s = seconds(t0);
  await producer.close();
  return messages.length / s;
}

export async function kafkajsConsume(brokers: string[], topic: string, count: number): Promise<number> {
  const kafka = new Kafka({ clientId: 'bench-kafkajs', brokers, logLevel: logLevel.NOTHING });
  const groupId = `${topic}.kafkajs.${crypto.randomUUID()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let t0 = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 3,
    eachBatch: async ({ batch }) => {
      if (!t0) t0 = performance.now();
      for (const m of batch.messages) if (m.value) seen++;
      if (seen >= count) done();
    },
  });
  await finished;
  const s = seconds(t0);
  await consumer.disconnect();
  await deleteGroup(kafka, groupId);
  return count / s;
}

export async function platformaticConsume(brokers: string[], topic: string, count: number): Promise<number> {
  const groupId = `${topic}.platformatic.${crypto.randomUUID()}`;
  const consumer = new Consumer({ groupId, clientId: 'bench-platformatic', bootstrapBrokers: brokers, deserializers: stringDeserializers, maxWaitTime: 100 });
  const stream = await consumer.consume({ autocommit: false, topics: [topic], mode: 'earliest' });
  let seen = 0;
  let t0 = 0;
  for await (const m of stream) {
    if (!t0) t0 = performance.now();
    if (m.value) seen++;
    if (seen >= count) break;
  }
  const s = seconds(t0);
  await stream.close();
  await consumer.close(true);
  await deleteGroup(new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING }), groupId);
  return count / s;
}

async function deleteGroup(kafka: Kafka, groupId: string) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteGroups([groupId]).catch(() => {});
  await admin.disconnect();
}
