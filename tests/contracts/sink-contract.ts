import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { AppError } from '../../src/platform/errors.ts';
import { checkResult, type Sink, type SinkResult } from '../../src/platform/stream/sink.ts';
import type { Envelope } from '../../src/platform/stream/types.ts';

/**
 * What the shared Sink contract needs from one kind of sink. Every sink (Redis, warehouse, BigQuery, REST…)
 * provides a harness and runs `sinkContract` on it, so all outputs are held to the same three promises:
 * idempotence, acknowledgement only after a durable write, and classified errors.
 */
export type SinkHarness<T> = {
  /** A sink on its own fresh store (unique schema, prefix, file…). */
  sink: Sink<T>;
  /** A valid envelope; the same `n` always gives the same id, different `n` different ids. */
  envelope(n: number): Envelope<T>;
  /** How many effects each id has in the store, read through a new connection, not the sink's. */
  effects(ids: string[]): Promise<Map<string, number>>;
  /** An envelope this sink can never apply: it must fail terminally, alone, without effect. */
  poison(): Promise<Envelope<T>>;
  /** A sink of the same kind whose store cannot be reached: it must fail transiently. */
  unreachable(): Promise<Sink<T>>;
  /** Removes everything the harness created. */
  cleanup(): Promise<void>;
};

type Outcome = { result?: SinkResult; error?: AppError };

async function attempt<T>(sink: Sink<T>, batch: Envelope<T>[]): Promise<Outcome> {
  try {
    return { result: await sink.write(batch) };
  } catch (error) {
    return { error: error as AppError };
  }
}

const sorted = (ids: string[]) => [...ids].sort();

export function sinkContract<T>(kind: string, makeHarness: () => Promise<SinkHarness<T>>, options: { skip?: string } = {}) {
  describe.skipIf(!!options.skip)(`Sink contract: ${kind}`, () => {
    let h: SinkHarness<T>;
    beforeAll(async () => {
      h = await makeHarness();
    });
    afterAll(async () => {
      await h?.sink.close();
      await h?.cleanup();
    });

    test('an empty batch is acknowledged with nothing applied', async () => {
      expect(await h.sink.write([])).toEqual({ applied: [], duplicates: [], failed: [] });
    });

    test('a batch is applied once per id and the result names every id exactly once', async () => {
      const batch = [1, 2, 3].map((n) => h.envelope(n));
      const result = await h.sink.write(batch);
      checkResult(h.sink.name, batch, result);
      expect(sorted(result.applied)).toEqual(sorted(batch.map((e) => e.id)));
      const effects = await h.effects(batch.map((e) => e.id));
      for (const e of batch) expect(effects.get(e.id)).toBe(1);
    });

    test('writing the same id again has no second effect and is reported as a duplicate', async () => {
      const e = h.envelope(10);
      expect((await h.sink.write([e])).applied).toEqual([e.id]);
      const again = await h.sink.write([h.envelope(10)]);
      expect(again).toEqual({ applied: [], duplicates: [e.id], failed: [] });
      expect((await h.effects([e.id])).get(e.id)).toBe(1);
    });

    test('a redelivered batch mixing old and new ids applies only the new ones', async () => {
      const first = [20, 21].map((n) => h.envelope(n));
      await h.sink.write(first);
      const second = [20, 21, 22, 23].map((n) => h.envelope(n));
      const result = await h.sink.write(second);
      expect(sorted(result.duplicates)).toEqual(sorted(first.map((e) => e.id)));
      expect(sorted(result.applied)).toEqual(sorted([h.envelope(22).id, h.envelope(23).id]));
      const effects = await h.effects(second.map((e) => e.id));
      expect([...effects.values()]).toEqual([1, 1, 1, 1]);
    });

    test('two writers racing with the same ids (a rebalance) still leave one effect per id', async () => {
      const batch = [30, 31, 32, 33, 34].map((n) => h.envelope(n));
      const [a, b] = await Promise.all([h.sink.write(batch), h.sink.write(batch.map((_, i) => h.envelope(30 + i)))]);
      expect(a.applied.length + b.applied.length).toBe(batch.length);
      expect(a.duplicates.length + b.duplicates.length).toBe(batch.length);
      const effects = await h.effects(batch.map((e) => e.id));
      expect([...effects.values()]).toEqual([1, 1, 1, 1, 1]);
    });

    test('an acknowledged write is durable: a new connection sees its effect as soon as write resolves', async () => {
      const batch = [40, 41].map((n) => h.envelope(n));
      const result = await h.sink.write(batch);
      expect(result.applied).toHaveLength(2);
      // No waiting, no retry loop: acknowledgement means it is already stored.
      const effects = await h.effects(batch.map((e) => e.id));
      expect(effects.get(batch[0]!.id)).toBe(1);
      expect(effects.get(batch[1]!.id)).toBe(1);
    });

    test('an unreachable store fails transiently and leaves no effect, so a retry applies each id once', async () => {
      const broken = await h.unreachable();
      const batch = [50, 51].map((n) => h.envelope(n));
      try {
        const { result, error } = await attempt(broken, batch);
        if (error) {
          expect(error).toBeInstanceOf(AppError);
          expect(error.retryable).toBe(true);
        } else {
          expect(result!.applied).toEqual([]);
          expect(result!.failed.map((f) => f.error.retryable)).toEqual([true, true]);
        }
      } finally {
        await broken.close();
      }
      expect([...(await h.effects(batch.map((e) => e.id))).values()]).toEqual([0, 0]);
      const retried = await h.sink.write(batch);
      expect(sorted(retried.applied)).toEqual(sorted(batch.map((e) => e.id)));
      expect([...(await h.effects(batch.map((e) => e.id))).values()]).toEqual([1, 1]);
    });

    test('an envelope the sink can never apply fails terminally on its own; the rest of the batch is applied', async () => {
      const poison = await h.poison();
      const good = [60, 61].map((n) => h.envelope(n));
      const result = await h.sink.write([good[0]!, poison, good[1]!]);
      expect(sorted(result.applied)).toEqual(sorted(good.map((e) => e.id)));
      expect(result.failed).toHaveLength(1);
      expect(result.failed[0]!.id).toBe(poison.id);
      expect(result.failed[0]!.error).toBeInstanceOf(AppError);
      expect(result.failed[0]!.error.retryable).toBe(false);
      expect((await h.effects([poison.id])).get(poison.id)).toBe(0);
    });
  });
}

