/** Messages between the supervisor (parent) and a worker. Commands and events are typed per worker. */
export type ToWorker<Options, Command> =
  | { type: 'start'; options: Options; attempt: number }
  | { type: 'stop' }
  | { type: 'command'; command: Command };

export type FromWorker<Event> =
  | { type: 'ready' }
  | { type: 'state'; state: Record<string, unknown> }
  | { type: 'event'; event: Event }
  | { type: 'fatal'; error: string }
  | { type: 'stopped' };
