import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { join } from 'node:path';
import Redis from 'ioredis';
import type { Browser } from 'playwright-core';
import { buildWorld, ensureCatalogue, insertEvents, spreadEvents } from '../../src/features/engagement/generator.ts';
import { RedisEngagementSink } from '../../src/features/engagement/redis-sink.ts';
import { createHandler } from '../../src/http.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { pipelineEnv, startPipeline, type RunningPipeline } from '../integration/engagement-fixture.ts';
import { engagementEnvelope } from '../helpers/engagement.ts';
import { ROOT, services, skipReason, testApp, uniqueName, type TestApp } from '../helpers/index.ts';
import { deleteKeys } from '../helpers/redis.ts';
import { launchChromium, watchedPage } from '../helpers/web.ts';

setDefaultTimeout(90_000);

describe.skipIf(!!skipReason('redis', 'chromium'))('engagement page over live aggregates in Redis (ROLE=api)', () => {
  const prefix = `${uniqueName('page')}:`;
  let t: TestApp;
  let server: ReturnType<typeof Bun.serve>;
  let browser: Browser;
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(services.redis!);
    // Live aggregates written by the real sink; ROLE=api serves them without running the pipeline.
    const sink = new RedisEngagementSink({ redis, prefix, windowMinutes: 10, clock: systemClock });
    await sink.write([
      ...[1, 4, 7].map((n) => engagementEnvelope(n, { title: 'Most played', content_id: '00000000-0000-4000-8000-000000000002', event_type: 'play' })),
      engagementEnvelope(2, { title: 'Less played', content_id: '00000000-0000-4000-8000-000000000003', event_type: 'finish', engagement_pct: 100 }),
    ]);
    t = await testApp({ REDIS_URL: services.redis!, REDIS_KEY_PREFIX: prefix, ROLE: 'api' });
    server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: createHandler(t.ctx, t.app), idleTimeout: 0 });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    server?.stop(true);
    await t?.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  test('shows the top content ranked by events with a sparkline each, and drills down into one content', async () => {
    const { page, problems } = await watchedPage(browser);
    await page.goto(`http://127.0.0.1:${server.port}/#/engagement`);
    await page.getByRole('button', { name: 'Most played' }).waitFor({ timeout: 15_000 });
    const rows = await page.locator('#eng-top tbody tr').allInnerTexts();
    expect(rows[0]).toContain('Most played');
    expect(rows[0]).toContain('3');
    expect(rows[1]).toContain('Less played');
    await page.locator('#eng-top .sparkline[data-drawn="true"]').first().waitFor();
    expect(await page.locator('#eng-top .sparkline').count()).toBe(2);
    expect(await page.locator('#eng-top .sparkline').first().getAttribute('aria-label')).toEndWith(', 3');
    await page.getByRole('button', { name: 'Less played' }).click();
    await page.getByRole('heading', { name: 'Latest events' }).waitFor({ timeout: 10_000 });
    const detail = await page.locator('.eng-detail').innerText();
    expect(detail).toContain('finish 1');
    expect(detail).toContain('100 %');
    await page.locator('#eng-detail-chart[data-drawn="true"]').waitFor();
    expect(await page.getByRole('button', { name: 'Less played' }).getAttribute('aria-pressed')).toBe('true');
    // Only Redis is configured, so the pipeline does not run: the page says so instead of failing.
    expect(await page.locator('#eng-status').innerText()).toContain('The pipeline does not run here. set DATABASE_URL');
    await page.screenshot({ path: `${t.dir}/engagement.png`, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });
});

// The whole way: rows inserted in Postgres → CDC → Kafka → processor → Redis → SSE → the open page, no reload.
describe.skipIf(!!skipReason('postgres', 'kafka', 'redis', 'chromium'))('engagement page with the pipeline running', () => {
  let pipeline: RunningPipeline;
  let t: TestApp;
  let server: ReturnType<typeof Bun.serve>;
  let browser: Browser;
  let sql: RunningPipeline['sql'];
  const world = buildWorld({ seed: 11, contents: 12, users: 200 });

  beforeAll(async () => {
    pipeline = await startPipeline(pipelineEnv());
    ({ t, sql } = pipeline);
    await ensureCatalogue(sql, world);
    server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: createHandler(t.ctx, t.app), idleTimeout: 0 });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    server?.stop(true);
    await pipeline?.close();
  });

  test('generated events appear on the open page within a few seconds, without a reload', async () => {
    const { page, problems } = await watchedPage(browser);
    let loads = 0;
    page.on('load', () => loads++);
    await page.goto(`http://127.0.0.1:${server.port}/#/engagement`);
    await page.getByText('No engagement in the last 10 minutes.').waitFor({ timeout: 15_000 });
    await page.locator('#eng-live-state', { hasText: 'live' }).waitFor();

    await insertEvents(sql, [...spreadEvents(world, 200, Date.now() - 5_000, Date.now())]);
    const started = Date.now();
    await page.locator('#eng-top[data-applied="200"]').waitFor({ timeout: 15_000 });
    const seconds = (Date.now() - started) / 1000;
    const events = await page.locator('#eng-top tbody tr td:nth-child(4)').allTextContents();
    expect(events.length).toBeGreaterThan(0);
    expect(await page.locator('#eng-top .sparkline').count()).toBe(events.length);
    expect(loads).toBe(1);
    console.log(`200 inserted events shown on the page after ${seconds.toFixed(1)} s`);

    // The stage table follows the pipeline's counters.
    await page.waitForFunction(() => /200/.test(document.querySelector('#eng-stages')?.textContent ?? ''));
    await page.locator('#eng-throughput[data-drawn="true"]').waitFor({ timeout: 15_000 });
    // The warehouse charts read /warehouse/daily and /warehouse/hourly, filled by the same pipeline (reloaded with the page).
    await page.reload();
    await page.locator('#eng-warehouse [data-drawn="true"]').first().waitFor({ timeout: 15_000 });
    expect(await page.locator('#eng-warehouse [data-drawn="true"]').count()).toBe(2);
    await page.getByRole('button', { name: world.catalogue.find((c) => events.length && c)!.title }).or(page.locator('#eng-top button.link').first()).first().click();
    await page.locator('#eng-detail-chart[data-drawn="true"]').waitFor();
    await page.screenshot({ path: join(t.dir, 'engagement-1280.png'), fullPage: true });
    if (Bun.env.UPDATE_SCREENSHOTS) await page.screenshot({ path: join(ROOT, 'docs/screenshots/engagement-1280.png') });
    await page.setViewportSize({ width: 375, height: 740 });
    await page.screenshot({ path: join(t.dir, 'engagement-375.png'), fullPage: true });
    if (Bun.env.UPDATE_SCREENSHOTS) await page.screenshot({ path: join(ROOT, 'docs/screenshots/engagement-375.png') });
    expect(problems).toEqual([]);
    await page.close();
  });
});
