import { defineTelemetryWorker } from '../../platform/workers/telemetry-worker.ts';
import type { PipelineOptions } from './options.ts';
import { runStreamProcessor } from './pipeline.ts';

defineTelemetryWorker<PipelineOptions>('engagement-processor', runStreamProcessor);
