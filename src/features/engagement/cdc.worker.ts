import { createLogger } from '../../platform/log.ts';
import { defineWorker } from '../../platform/workers/worker.ts';
import { TelemetryBuffer, type TelemetryMessage } from '../../platform/workers/telemetry.ts';
import type { PipelineOptions } from './options.ts';
import { runCdc } from './pipeline.ts';

defineWorker<PipelineOptions, never, TelemetryMessage>({
  async run(options, io) {
    const telemetry = new TelemetryBuffer();
    const flush = setInterval(() => {
      const m = telemetry.drain();
      if (m) io.emit(m);
    }, 1000);
    try {
      await runCdc(options, { log: createLogger(options.log, { worker: 'engagement-cdc' }), telemetry, setState: io.setState }, io.signal);
    } finally {
      clearInterval(flush);
      const m = telemetry.drain();
      if (m) io.emit(m);
    }
  },
});
