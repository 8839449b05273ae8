import type { MetricDef } from '../../platform/workers/telemetry.ts';

const seconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Every engagement metric; workers send values for these names, the app registers them. */
export const engagementMetrics = [
  { kind: 'counter', name: 'sillage_engagement_cdc_records_total', help: 'Records the CDC relay produced to Kafka (Kafka acknowledged), by topic', labelNames: ['topic'] },
  { kind: 'histogram', name: 'sillage_engagement_cdc_produce_seconds', help: 'Time for Kafka to acknowledge one CDC flush', buckets: seconds },
  { kind: 'counter', name: 'sillage_engagement_processor_records_total', help: 'Records the processor consumed from the engagement topic' },
  { kind: 'counter', name: 'sillage_engagement_sink_events_total', help: 'Events settled per sink, by outcome (applied, duplicate, dead_letter)', labelNames: ['sink', 'outcome'] },
  { kind: 'counter', name: 'sillage_engagement_dlq_total', help: 'Records sent to the dead-letter topic, by reason', labelNames: ['reason'] },
  { kind: 'counter', name: 'sillage_engagement_redis_rebuilds_total', help: 'Times the live window was rebuilt from the warehouse because Redis had lost its data' },
  { kind: 'gauge', name: 'sillage_engagement_rest_breaker_open', help: '1 while the REST sink circuit breaker is open (batches go to the DLQ at once)' },
  { kind: 'counter', name: 'sillage_engagement_late_events_total', help: 'Events older than every live window (no effect on the live aggregates)' },
  { kind: 'histogram', name: 'sillage_engagement_batch_seconds', help: 'Processor batch time: decode, enrich, all sinks, dead letters, commit', buckets: seconds },
  { kind: 'histogram', name: 'sillage_engagement_sink_seconds', help: 'Time a sink took to settle a batch (retries included)', labelNames: ['sink'], buckets: seconds },
  { kind: 'histogram', name: 'sillage_engagement_end_to_end_seconds', help: 'Postgres commit (or event time when unknown) to acknowledgement by every sink and the batch committed', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60] },
  { kind: 'histogram', name: 'sillage_engagement_redis_end_to_end_seconds', help: 'Postgres commit (or event time when unknown) to Redis acknowledging the event, when it shows in the live API', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60] },
] as const satisfies readonly MetricDef[];
