import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { backoffDelay } from '../retry.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

export type WorkerSpec<Options, Command, Event> = {
  name: string;
  url: URL | string;
  options: Options;
  onEvent?: (event: Event) => void;
  restart?: { baseDelayMs?: number; maxDelayMs?: number; /** a run this long resets the backoff */ stableAfterMs?: number };
};

export type WorkerStatus = {
  state: 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped';
  restarts: number;
  lastError?: string;
  startedAt?: string;
  [detail: string]: unknown;
};

export type WorkerHandle<Command> = {
  readonly name: string;
  status(): WorkerStatus;
  send(command: Command): void;
  stop(deadlineMs?: number): Promise<void>;
};

/**
 * Runs each long job in its own Bun Worker so a slow parse or a crash cannot stall HTTP. A worker that dies
 * without being asked is restarted after an exponential backoff; stopping sends `stop` first and only calls
 * terminate() when the deadline passes.
 */
export class WorkerSupervisor {
  private handles = new Map<string, WorkerHandle<unknown>>();
  constructor(private deps: { log: Logger; clock?: Clock }) {}

  spawn<Options, Command = never, Event = never>(spec: WorkerSpec<Options, Command, Event>): WorkerHandle<Command> {
    if (this.handles.has(spec.name)) throw new Error(`A worker named ${spec.name} is already running; stop it first.`);
    const log = this.deps.log.child({ component: 'worker', worker: spec.name });
    const clock = this.deps.clock ?? systemClock;
    const { baseDelayMs = 500, maxDelayMs = 30_000, stableAfterMs = 60_000 } = spec.restart ?? {};
    const status: WorkerStatus = { state: 'starting', restarts: 0 };
    let worker: Worker | undefined;
    let stopping = false;
    let failures = 0;
    let startedAt = 0;
    let restartTimer: Timer | undefined;
    let onStopped: (() => void) | undefined;

    const start = () => {
      status.state = 'starting';
      startedAt = clock.now();
      status.startedAt = new Date(startedAt).toISOString();
      const w = new Worker(spec.url);
      worker = w;
      w.onmessage = (e: MessageEvent<FromWorker<Event>>) => {
        const m = e.data;
        if (m.type === 'ready') status.state = 'running';
        else if (m.type === 'state') Object.assign(status, m.state);
        else if (m.type === 'event') spec.onEvent?.(m.event);
        else if (m.type === 'fatal') status.lastError = m.error;
        else if (m.type === 'stopped') w.terminate();
      };
      w.onerror = (e) => {
        status.lastError = e.message;
        log.error('worker error', { error: e.message });
      };
      w.addEventListener('close', () => {
        if (worker !== w) return;
        worker = undefined;
        if (stopping) {
          status.state = 'stopped';
          onStopped?.();
          return;
        }
        if (clock.now() - startedAt >= stableAfterMs) failures = 0;
        const delayMs = Math.max(baseDelayMs, backoffDelay(failures++, baseDelayMs, maxDelayMs));
        status.state = 'restarting';
        status.restarts++;
        log.warn('worker exited unexpectedly; restarting', { delayMs, restarts: status.restarts, lastError: status.lastError });
        restartTimer = setTimeout(start, delayMs);
      });
      w.postMessage({ type: 'start', options: spec.options, attempt: status.restarts } satisfies ToWorker<Options, Command>);
    };

    const handle: WorkerHandle<Command> = {
      name: spec.name,
      status: () => ({ ...status }),
      send: (command) => worker?.postMessage({ type: 'command', command } satisfies ToWorker<Options, Command>),
      stop: async (deadlineMs = 10_000) => {
        if (stopping) return;
        stopping = true;
        clearTimeout(restartTimer);
        this.handles.delete(spec.name);
        const w = worker;
        if (!w) {
          status.state = 'stopped';
          return;
        }
        status.state = 'stopping';
        const stopped = new Promise<void>((resolve) => (onStopped = resolve));
        w.postMessage({ type: 'stop' } satisfies ToWorker<Options, Command>);
        let timer: Timer | undefined;
        const timedOut = await Promise.race([
          stopped.then(() => false),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), deadlineMs))),
        ]);
        clearTimeout(timer);
        if (timedOut) {
          log.warn('worker did not stop in time; terminating', { deadlineMs });
          w.terminate();
          await stopped;
        }
      },
    };
    this.handles.set(spec.name, handle as WorkerHandle<unknown>);
    start();
    return handle;
  }

  get(name: string) {
    return this.handles.get(name);
  }

  statuses(): Record<string, WorkerStatus> {
    return Object.fromEntries([...this.handles].map(([n, h]) => [n, h.status()]));
  }

  async stopAll(deadlineMs = 10_000) {
    await Promise.all([...this.handles.values()].map((h) => h.stop(deadlineMs)));
  }
}
