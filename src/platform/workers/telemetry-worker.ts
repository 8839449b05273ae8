import { createLogger, type Logger } from '../log.ts';
import type { LogOptions } from '../log.ts';
import { TelemetryBuffer, type TelemetryMessage } from './telemetry.ts';
import { defineWorker, type WorkerIO } from './worker.ts';

export type TelemetryDeps = { log: Logger; telemetry: TelemetryBuffer; setState: WorkerIO<TelemetryMessage>['setState'] };

/**
 * A worker whose job reports metrics through a TelemetryBuffer: the buffer is drained to the parent once a
 * second and once more when the job ends, so no count is lost on a clean stop.
 */
export function defineTelemetryWorker<Options extends { log: LogOptions }>(
  name: string,
  job: (options: Options, deps: TelemetryDeps, signal: AbortSignal) => Promise<void>,
) {
  defineWorker<Options, never, TelemetryMessage>({
    async run(options, io) {
      const telemetry = new TelemetryBuffer();
      const flush = () => {
        const m = telemetry.drain();
        if (m) io.emit(m);
      };
      const timer = setInterval(flush, 1000);
      try {
        await job(options, { log: createLogger(options.log, { worker: name }), telemetry, setState: io.setState }, io.signal);
      } finally {
        clearInterval(timer);
        flush();
      }
    },
  });
}
