import { afterAll, expect, test } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { downloadVerified } from '../../../src/features/gdelt/download.ts';
import type { Clock } from '../../../src/platform/clock.ts';
import { GDELT_ZIPS } from '../../helpers/gdelt.ts';
import { startFixtureServer, tempDir } from '../../helpers/index.ts';

const dir = tempDir('sillage-gdelt-download-');
afterAll(() => dir[Symbol.dispose]());

const NAME = '/20150218230000.export.CSV.zip';
const zip = readFileSync(join(GDELT_ZIPS, NAME));
const expected = { size: zip.byteLength, md5: new Bun.CryptoHasher('md5').update(zip).digest('hex') };

/** A clock whose backoff sleeps return at once and are recorded, so retries run without waiting. */
const recordingClock = () => {
  const delays: number[] = [];
  const clock: Clock = { now: () => Date.now(), sleep: async (ms) => void delays.push(ms) };
  return { clock, delays };
};

/** A mirror whose batch zip answers with `failures` in turn before it serves the file. */
const flakyMirror = (failures: (() => Response)[]) => {
  const server = startFixtureServer({ root: GDELT_ZIPS });
  let n = 0;
  server.override(NAME, () => (n < failures.length ? failures[n++]!() : new Response(Bun.file(join(GDELT_ZIPS, NAME)))));
  return server;
};

test('a download answered 503, 502 and 429 is retried with backoff and then succeeds, verified', async () => {
  const mirror = flakyMirror([() => new Response('busy', { status: 503 }), () => new Response('bad gateway', { status: 502 }), () => new Response('slow down', { status: 429 })]);
  const { clock, delays } = recordingClock();
  try {
    const path = join(dir.path, 'retried.zip');
    const got = await downloadVerified(`${mirror.url}${NAME}`, path, expected, { timeoutMs: 10_000, clock });
    expect(got).toEqual({ path, bytes: expected.size, md5: expected.md5 });
    expect(mirror.hits.get(NAME)).toBe(4);
    expect(delays).toHaveLength(3);
    expect(readFileSync(path).equals(zip)).toBe(true);
  } finally {
    mirror.stop();
  }
});

test("a 429's Retry-After sets the wait before the next attempt", async () => {
  const mirror = flakyMirror([() => new Response('slow down', { status: 429, headers: { 'retry-after': '7' } })]);
  const { clock, delays } = recordingClock();
  try {
    await downloadVerified(`${mirror.url}${NAME}`, join(dir.path, 'after.zip'), expected, { timeoutMs: 10_000, clock });
    expect(delays).toEqual([7000]);
    expect(mirror.hits.get(NAME)).toBe(2);
  } finally {
    mirror.stop();
  }
});

test('a 404 is not retried, and a 5xx that never ends gives up after the retries with nothing left on disk', async () => {
  const notFound = flakyMirror(Array.from({ length: 10 }, () => () => new Response('gone', { status: 404 })));
  const down = flakyMirror(Array.from({ length: 10 }, () => () => new Response('down', { status: 500 })));
  const { clock, delays } = recordingClock();
  try {
    const missing = join(dir.path, 'missing.zip');
    await expect(downloadVerified(`${notFound.url}${NAME}`, missing, expected, { timeoutMs: 10_000, clock })).rejects.toMatchObject({ code: 'upstream_not_found' });
    expect(notFound.hits.get(NAME)).toBe(1);
    expect(delays).toEqual([]);
    const failed = join(dir.path, 'failed.zip');
    await expect(downloadVerified(`${down.url}${NAME}`, failed, expected, { timeoutMs: 10_000, clock, retries: 2 })).rejects.toMatchObject({ code: 'download_failed' });
    expect(down.hits.get(NAME)).toBe(3);
    expect(existsSync(failed)).toBe(false);
  } finally {
    notFound.stop();
    down.stop();
  }
});
