import type { Admin } from 'kafkajs';
import { ensureTopics } from '../../platform/stream/kafka.ts';
import type { EngagementNames } from './names.ts';

/** The pipeline's topics: events keyed by content id, content compacted by id, and the dead-letter topic. */
export const ensurePipelineTopics = (admin: Admin, names: EngagementNames, partitions: number) =>
  ensureTopics(admin, [
    { topic: names.eventsTopic, partitions },
    { topic: names.contentTopic, partitions, compacted: true },
    { topic: names.dlqTopic, partitions: 1 },
  ]);
