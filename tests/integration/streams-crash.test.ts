import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { join } from 'node:path';
import { ensureTopic } from '../../src/features/streams/producer.ts';
import { skipReason, waitFor } from '../helpers/index.ts';
import { expectSameResults, naiveResults } from '../helpers/streams-naive.ts';
import { exampleSpec, expectedRecords, produceInChunks, storedPosition, storedResults, streamServices, type StreamServices } from '../helpers/streams.ts';

setDefaultTimeout(180_000);
const MIN = 60_000;

describe.skipIf(!!skipReason('postgres', 'kafka', 'redis'))('a stream job killed with SIGKILL', () => {
  let s: StreamServices;
  beforeAll(() => {
    s = streamServices();
  });
  afterAll(() => s.cleanup());

  test('resumes from its stored offsets and state and ends with results identical to a naive recomputation', async () => {
    const topic = s.topic('requests');
    await ensureTopic(s.kafka, topic, 3);
    const spec = exampleSpec('monitoring_services_1m', topic);
    const gen = { scenario: 'requests' as const, seed: 7, ratePerSec: 200, durationMs: 6 * MIN, startMs: Math.floor((Date.now() - 60 * MIN) / MIN) * MIN, lateFraction: 0.05, disorderMs: 2000, lateMs: 20_000 };
    // The child prints its status (in-memory counters) every second and commits every 2 s.
    let inMemory = 0;
    const start = () => {
      const child = Bun.spawn(['bun', join(import.meta.dir, '../helpers/streams-job-process.ts')], {
        env: { ...Bun.env, STREAM_JOB_OPTIONS: JSON.stringify(s.jobOptions(spec, 2000)) },
        stdout: 'pipe',
        stderr: 'ignore',
      });
      void (async () => {
        let buffer = '';
        for await (const chunk of child.stdout) {
          buffer += new TextDecoder().decode(chunk);
          const lines = buffer.split('\n');
          buffer = lines.pop()!;
          for (const line of lines) inMemory = JSON.parse(line).counters.recordsIn;
        }
      })();
      return child;
    };
    const committed = async () => Number((await s.sql`SELECT records_in FROM stream_checkpoints WHERE job = ${spec.name}`)[0]?.records_in ?? 0);

    let job = start();
    const killedAt: number[] = [];
    const chunk = 6000;
    const summary = await produceInChunks(s, topic, gen, chunk, async (sent) => {
      if (killedAt.length < 2 && (sent === 2 * chunk || sent === 5 * chunk)) {
        // Kill while the job holds records it has aggregated but not committed yet.
        await waitFor(async () => inMemory > (await committed()), { timeoutMs: 30_000, what: 'uncommitted work in the job' });
        job.kill('SIGKILL');
        await job.exited;
        killedAt.push(inMemory - (await committed()));
        inMemory = 0;
        job = start();
        return;
      }
      await waitFor(async () => (await storedPosition(s, spec.name)) === sent, { timeoutMs: 60_000, what: `the job to read ${sent} records` });
    });
    await waitFor(async () => (await storedPosition(s, spec.name)) === summary.records, { timeoutMs: 60_000, what: 'the job to read every record' });
    job.kill('SIGTERM');
    expect(await job.exited).toBe(0);

    // Both kills threw away records that had been aggregated in memory but not committed.
    expect(killedAt).toHaveLength(2);
    for (const lost of killedAt) expect(lost).toBeGreaterThan(0);
    const [cp] = await s.sql<Record<string, string>[]>`SELECT * FROM stream_checkpoints WHERE job = ${spec.name}`;
    // Nothing lost and nothing counted twice: the stored counters say every record was read exactly once.
    expect({ epoch: Number(cp!.epoch), records_in: Number(cp!.records_in), late: Number(cp!.late), dlq: Number(cp!.dlq) }).toEqual({ epoch: 3, records_in: summary.records, late: 0, dlq: 0 });

    const records = expectedRecords(spec, gen);
    const watermark = Number(cp!.watermark_ms);
    const expected = new Map([...naiveResults(spec, records, { nowMs: Date.now(), lateness: 'ignore' })].filter(([, w]) => w.end <= watermark));
    expect(expected.size).toBeGreaterThan(30);
    expectSameResults(spec, await storedResults(s, spec.name), expected);
  });
});
