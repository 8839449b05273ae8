import type { Message, Producer } from 'kafkajs';
import { MESSAGE_ID_HEADER, type SourceRecord } from './types.ts';

/**
 * A record that could not be delivered, with why. It keeps the original bytes and headers so a replay sends
 * exactly what the source sent.
 */
export type DeadLetter = {
  record: SourceRecord;
  /** Envelope id when the record got that far (decode failures have none). */
  id?: string;
  /** Short machine-readable cause: malformed_json, invalid_event, unknown_content, sink_rejected… */
  reason: string;
  /** Human-readable detail. */
  error: string;
  /** The sink that gave up, when a sink did. */
  sink?: string;
  attempts: number;
  firstFailureMs: number;
  lastFailureMs: number;
};

export interface DeadLetterPublisher {
  /** Resolves once every letter is durably stored; only then may the batch's offsets be committed. */
  publish(letters: DeadLetter[]): Promise<void>;
}

export const dlqTopicFor = (topic: string) => `${topic}.dlq`;

const H = {
  reason: 'dlq-reason',
  error: 'dlq-error',
  sink: 'dlq-sink',
  attempts: 'dlq-attempts',
  first: 'dlq-first-failure',
  last: 'dlq-last-failure',
  topic: 'dlq-source-topic',
  partition: 'dlq-source-partition',
  offset: 'dlq-source-offset',
} as const;

export function deadLetterMessage(letter: DeadLetter): Message {
  const { record } = letter;
  const headers: Record<string, string> = {
    ...record.headers,
    [H.reason]: letter.reason,
    [H.error]: letter.error.slice(0, 2000),
    [H.attempts]: String(letter.attempts),
    [H.first]: new Date(letter.firstFailureMs).toISOString(),
    [H.last]: new Date(letter.lastFailureMs).toISOString(),
    [H.topic]: record.topic,
    [H.partition]: String(record.partition),
    [H.offset]: record.offset,
  };
  if (letter.sink) headers[H.sink] = letter.sink;
  if (letter.id) headers[MESSAGE_ID_HEADER] = letter.id;
  return { key: record.key, value: record.value, headers };
}

/** Reads a dead letter back from a DLQ message (for listing and replay). */
export function readDeadLetter(message: { key: Buffer | null; value: Buffer | null; headers: Record<string, string> }) {
  const h = message.headers;
  return {
    id: h[MESSAGE_ID_HEADER],
    reason: h[H.reason] ?? 'unknown',
    error: h[H.error] ?? '',
    sink: h[H.sink],
    attempts: Number(h[H.attempts] ?? 0),
    firstFailure: h[H.first],
    lastFailure: h[H.last],
    source: { topic: h[H.topic], partition: Number(h[H.partition]), offset: h[H.offset] },
    key: message.key,
    value: message.value,
  };
}

/** Dead letters go to `<source topic>.dlq`, one idempotent produce per batch. */
export function kafkaDeadLetters(producer: Producer): DeadLetterPublisher {
  return {
    async publish(letters) {
      if (!letters.length) return;
      const byTopic = new Map<string, Message[]>();
      for (const l of letters) {
        const topic = dlqTopicFor(l.record.topic);
        byTopic.set(topic, [...(byTopic.get(topic) ?? []), deadLetterMessage(l)]);
      }
      await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    },
  };
}
