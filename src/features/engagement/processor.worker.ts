import { defineTelemetryWorker } from '../../platform/workers/telemetry-worker.ts';
import type { PipelineOptions } from './options.ts';
import { runStreamProcessor } from './pipeline.ts';
import type { WarehouseCall, WarehouseReply } from './warehouse/rpc.ts';

defineTelemetryWorker<PipelineOptions, WarehouseCall, WarehouseReply>('engagement-processor', runStreamProcessor);
