import { createLogger, type Logger } from '../log.ts';
import type { LogOptions } from '../log.ts';
import { TelemetryBuffer, type TelemetryMessage } from './telemetry.ts';
import { defineWorker, type WorkerIO } from './worker.ts';

export type TelemetryDeps<Command = never, Event = never> = {
  log: Logger;
  telemetry: TelemetryBuffer;
  setState: WorkerIO<TelemetryMessage>['setState'];
  /** Sends an event of the job's own to the parent (next to the telemetry). */
  emit(event: Event): void;
  /** Registers the handler of the commands the parent sends (the job's objects are in reach there). */
  onCommand(handler: (command: Command) => void | Promise<void>): void;
};

/**
 * A worker whose job reports metrics through a TelemetryBuffer: the buffer is drained to the parent once a
 * second and once more when the job ends, so no count is lost on a clean stop.
 */
export function defineTelemetryWorker<Options extends { log: LogOptions }, Command = never, Event = never>(
  name: string,
  job: (options: Options, deps: TelemetryDeps<Command, Event>, signal: AbortSignal) => Promise<void>,
) {
  let handler: ((command: Command) => void | Promise<void>) | undefined;
  defineWorker<Options, Command, TelemetryMessage | Event>({
    async run(options, io) {
      const telemetry = new TelemetryBuffer();
      const flush = () => {
        const m = telemetry.drain();
        if (m) io.emit(m);
      };
      const timer = setInterval(flush, 1000);
      try {
        const deps: TelemetryDeps<Command, Event> = {
          log: createLogger(options.log, { worker: name }),
          telemetry,
          setState: io.setState,
          emit: (event) => io.emit(event),
          onCommand: (h) => void (handler = h),
        };
        await job(options, deps, io.signal);
      } finally {
        clearInterval(timer);
        flush();
      }
    },
    command: (command) => handler?.(command),
  });
}
