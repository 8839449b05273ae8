import { expect, test } from 'bun:test';
import { memoryLogger } from '../../src/platform/log.ts';
import { WorkerSupervisor } from '../../src/platform/workers/supervisor.ts';
import { waitFor } from '../helpers/index.ts';

const url = new URL('../helpers/workers/crashy.worker.ts', import.meta.url);

test('a worker that crashes is restarted with backoff and then runs', async () => {
  const log = memoryLogger();
  const sup = new WorkerSupervisor({ log });
  const events: unknown[] = [];
  const h = sup.spawn<{ crashTimes: number }, { type: 'ping' }, unknown>({ name: 'crashy', url, options: { crashTimes: 2 }, restart: { baseDelayMs: 10, maxDelayMs: 20 }, onEvent: (e) => events.push(e) });
  await waitFor(() => h.status().healthyAttempt === 2, { what: 'the third start to run' });
  expect(h.status()).toMatchObject({ state: 'running', restarts: 2, lastError: 'planned crash 2' });
  expect(sup.statuses().crashy!.restarts).toBe(2);
  expect(log.lines.filter((l) => l.msg === 'worker exited unexpectedly; restarting')).toHaveLength(2);
  h.send({ type: 'ping' });
  await waitFor(() => events.length === 1, { what: 'a reply to a command' });
  await h.stop(2000);
  expect(h.status().state).toBe('stopped');
});

test('stop asks the worker first and the supervisor forgets it', async () => {
  const sup = new WorkerSupervisor({ log: memoryLogger() });
  const h = sup.spawn({ name: 'calm', url, options: { crashTimes: 0 } });
  await waitFor(() => h.status().state === 'running');
  await sup.stopAll(2000);
  expect(h.status().state).toBe('stopped');
  expect(sup.statuses()).toEqual({});
});
