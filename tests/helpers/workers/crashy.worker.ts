import { defineWorker } from '../../../src/platform/workers/worker.ts';

// Crashes on its first start, then runs until told to stop: enough to prove the supervisor restarts it.
defineWorker<{ crashTimes: number }, { type: 'ping' }, { type: 'pong'; attempt: number }>({
  async run(options, io) {
    if (io.attempt < options.crashTimes) throw new Error(`planned crash ${io.attempt + 1}`);
    io.setState({ healthyAttempt: io.attempt });
    await new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve(), { once: true }));
  },
  command(cmd) {
    if (cmd.type === 'ping') postMessage({ type: 'event', event: { type: 'pong', attempt: -1 } });
  },
});
