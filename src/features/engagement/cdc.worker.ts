import { defineTelemetryWorker } from '../../platform/workers/telemetry-worker.ts';
import type { PipelineOptions } from './options.ts';
import { runCdc } from './pipeline.ts';

defineTelemetryWorker<PipelineOptions>('engagement-cdc', runCdc);
