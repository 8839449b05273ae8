/// <reference lib="webworker" />
import type { FromWorker, ToWorker } from './protocol.ts';

export type WorkerIO<Event> = {
  /** Aborted when the supervisor asks the worker to stop; long loops must watch it. */
  signal: AbortSignal;
  /** 0 on the first start, then the number of restarts so far. */
  attempt: number;
  emit(event: Event): void;
  setState(state: Record<string, unknown>): void;
};

export type WorkerDefinition<Options, Command, Event> = {
  /** Runs the job; resolve when `io.signal` aborts (or earlier when the job is done). A throw is a crash. */
  run(options: Options, io: WorkerIO<Event>): Promise<void>;
  command?(command: Command): void | Promise<void>;
};

/** Call once at the top level of a `*.worker.ts` file. */
export function defineWorker<Options, Command = never, Event = never>(def: WorkerDefinition<Options, Command, Event>) {
  const post = (m: FromWorker<Event>) => postMessage(m);
  const controller = new AbortController();
  let running: Promise<void> | undefined;

  self.onmessage = async (e: MessageEvent<ToWorker<Options, Command>>) => {
    const msg = e.data;
    if (msg.type === 'start' && !running) {
      const io: WorkerIO<Event> = {
        signal: controller.signal,
        attempt: msg.attempt,
        emit: (event) => post({ type: 'event', event }),
        setState: (state) => post({ type: 'state', state }),
      };
      post({ type: 'ready' });
      running = def.run(msg.options, io).then(
        () => post({ type: 'stopped' }),
        (error) => {
          post({ type: 'fatal', error: error instanceof Error ? error.message : String(error) });
          // A crashed job must not linger half-alive; the supervisor decides whether to restart it.
          process.exit(1);
        },
      );
    } else if (msg.type === 'stop') {
      controller.abort(new Error('worker stopping'));
      if (!running) post({ type: 'stopped' });
    } else if (msg.type === 'command') {
      await def.command?.(msg.command);
    }
  };
}
