import { createHash } from 'node:crypto';
import type { Config } from '../../platform/config.ts';
import { dlqTopicFor } from '../../platform/stream/dlq.ts';

export type EngagementNames = {
  schema: string;
  slot: string;
  publication: string;
  eventsTopic: string;
  contentTopic: string;
  dlqTopic: string;
  group: string;
};

/** Postgres identifiers are at most 63 bytes; a longer derived name keeps its start and gets a hash suffix. */
function identifier(name: string): string {
  if (name.length <= 63) return name;
  return `${name.slice(0, 54)}_${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

/**
 * Slots and publications are database-wide, so they are named after the schema: deployments (and tests) that
 * share a database but not a schema never touch each other's.
 */
export function engagementNames(config: Config): EngagementNames {
  const base = identifier(`sillage_${config.DATABASE_SCHEMA}`);
  return {
    schema: config.DATABASE_SCHEMA,
    slot: config.CDC_SLOT_NAME ?? base,
    publication: config.CDC_PUBLICATION_NAME ?? base,
    eventsTopic: config.KAFKA_TOPIC_ENGAGEMENT_EVENTS,
    contentTopic: config.KAFKA_TOPIC_CONTENT,
    dlqTopic: dlqTopicFor(config.KAFKA_TOPIC_ENGAGEMENT_EVENTS),
    group: config.KAFKA_CONSUMER_GROUP,
  };
}
