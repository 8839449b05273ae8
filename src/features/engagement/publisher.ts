import type { Kafka, TopicMessages } from 'kafkajs';
import { idempotentProducer } from '../../platform/stream/kafka.ts';

/** How the CDC relay hands records to Kafka; resolves once Kafka has acknowledged all of them. */
export type Publisher = { publish(batch: TopicMessages[]): Promise<void>; close(): Promise<void> };

/**
 * Idempotent (default): the broker drops a retried duplicate of a send. Transactional (ENABLE_EXACTLY_ONCE):
 * each flush is one Kafka transaction, so read-committed consumers never see records of a flush that failed
 * half-way, and a restarted relay with the same transactional id fences off the old one.
 */
export async function openPublisher(kafka: Kafka, options: { transactionalId?: string }): Promise<Publisher> {
  if (!options.transactionalId) {
    const producer = idempotentProducer(kafka);
    await producer.connect();
    return {
      publish: async (batch) => void (await producer.sendBatch({ acks: -1, topicMessages: batch })),
      close: () => producer.disconnect(),
    };
  }
  const producer = idempotentProducer(kafka, { transactionalId: options.transactionalId });
  await producer.connect();
  return {
    async publish(batch) {
      const tx = await producer.transaction();
      try {
        await tx.sendBatch({ acks: -1, topicMessages: batch });
        await tx.commit();
      } catch (error) {
        await tx.abort().catch(() => {});
        throw error;
      }
    },
    close: () => producer.disconnect(),
  };
}
