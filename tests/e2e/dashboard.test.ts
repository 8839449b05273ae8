import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { loadConfig } from '../../src/platform/config.ts';
import { createContext, type AppContext } from '../../src/platform/context.ts';
import { memoryLogger } from '../../src/platform/log.ts';
import { startServer } from '../../src/server.ts';
import { EVENT_ROWS, startGdeltMirror } from '../helpers/gdelt.ts';
import { ROOT, skipReason, startFixtureServer, tempDir } from '../helpers/index.ts';
import { launchChromium, watchedPage } from '../helpers/web.ts';

setDefaultTimeout(60_000);

const PAGES = ['overview', 'etl', 'gdelt', 'engagement', 'streams'] as const;
const SIZES = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 375, height: 740 },
] as const;
/** `UPDATE_SCREENSHOTS=1 bun test tests/e2e/dashboard.test.ts` refreshes the set under docs/screenshots. */
const DOCS_SHOTS = Bun.env.UPDATE_SCREENSHOTS ? join(ROOT, 'docs/screenshots') : undefined;

// The whole dashboard against the real server (startServer on a free port) in a real Chromium, with the embedded
// stores only: Postgres, Kafka and Redis are not configured, so the streams page must say so without an error.
describe.skipIf(!!skipReason('chromium'))('the dashboard in Chromium', () => {
  const fx = startFixtureServer();
  const mirror = startGdeltMirror();
  const dir = tempDir('sillage-e2e-dashboard-');
  const shots = join(dir.path, 'screenshots');
  let ctx: AppContext;
  let server: ReturnType<typeof startServer>;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    const config = loadConfig({
      DATA_DIR: join(dir.path, 'data'), STREAMS_DIR: join(dir.path, 'no-streams'), HOST: '127.0.0.1', LOG_LEVEL: 'warn', LOG_FORMAT: 'json',
      ETL_SOURCE_URL: `${fx.url}/jsonplaceholder/posts.json`, GDELT_BASE_URL: mirror.url,
    });
    ctx = await createContext(config, { log: memoryLogger('warn') });
    server = startServer(ctx, { port: 0, hostname: '127.0.0.1' });
    base = `http://127.0.0.1:${server.port}`;
    browser = await launchChromium();
    expect((await fetch(`${base}/etl/run`, { method: 'POST' })).status).toBe(200);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop(true);
    await ctx?.close();
    fx.stop();
    mirror.stop();
    dir[Symbol.dispose]();
  });

  const shoot = async (page: Page, name: string) => {
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
    // The engagement and streams pages are shot for the docs by their own tests, with the services running.
    if (DOCS_SHOTS && !/^(engagement|streams)-/.test(name)) await page.screenshot({ path: join(DOCS_SHOTS, `${name}.png`) });
  };

  test('the overview shows every component with its status and why a disabled one is off, and links to Swagger and metrics', async () => {
    const { page, problems } = await watchedPage(browser);
    await page.goto(base);
    await page.locator('[data-component="postgres"]').waitFor();
    expect(await page.locator('[data-component="sqlite"] .status').textContent()).toBe('ok');
    expect(await page.locator('[data-component="postgres"]').textContent()).toContain('set DATABASE_URL to enable');
    expect(await page.locator('[data-component="streams"] .status').textContent()).toBe('disabled');
    await page.locator('[data-figure="posts"]').waitFor();
    expect(await page.locator('[data-figure="jobs"]').textContent()).toContain('DATABASE_URL');
    expect(await page.getByRole('link', { name: 'Swagger UI' }).getAttribute('href')).toBe('/swagger');
    expect(await page.getByRole('link', { name: 'Prometheus metrics' }).getAttribute('href')).toBe('/metrics');
    expect(problems).toEqual([]);
    await page.close();
  });

  test('the streams page says stream analytics is off and which variables turn it on, without calling its API', async () => {
    const { page, problems } = await watchedPage(browser);
    const calls: string[] = [];
    page.on('request', (r) => r.url().includes('/api/v1/streams') && calls.push(r.url()));
    await page.goto(`${base}/#/streams`);
    await page.getByText('Stream analytics is not enabled.').waitFor();
    expect(await page.locator('.notice').textContent()).toContain('KAFKA_BOOTSTRAP_SERVERS');
    expect(calls).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  test('the keyboard alone reaches the skip link, the menu and a page, and focus lands on the new page', async () => {
    const { page, problems } = await watchedPage(browser);
    await page.goto(base);
    await page.locator('[data-component="sqlite"]').waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('sillage');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('ETL');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'ETL', level: 1 }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('page');
    expect(await page.locator('#nav a[aria-current="page"]').textContent()).toBe('ETL');
    // Every control on the page has an accessible name.
    const unnamed = await page.evaluate(() =>
      [...document.querySelectorAll('input, select, button')].filter((el) => {
        const e = el as HTMLInputElement;
        return !(e.labels?.length || e.getAttribute('aria-label') || e.textContent?.trim());
      }).map((e) => e.outerHTML));
    expect(unnamed).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  test('an unknown page says so and points at the menu', async () => {
    const { page, problems } = await watchedPage(browser);
    await page.goto(`${base}/#/nowhere`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('There is no page named "nowhere"');
    expect(problems).toEqual([]);
    await page.close();
  });

  test('GDELT: batches ingested from the form, then a search for protest shows results, a non-empty timeline and root code chart, and a country table', async () => {
    const { page, problems } = await watchedPage(browser);
    await page.goto(`${base}/#/gdelt`);
    await page.getByText('The lake is empty').waitFor();
    await page.getByRole('spinbutton', { name: 'Latest batches' }).fill('4');
    await page.getByRole('button', { name: 'Ingest latest' }).click();
    await page.getByText(/Job \d+ queued/).waitFor();
    await page.locator('#gdelt-jobs .job-succeeded').waitFor({ timeout: 30_000 });
    await page.getByText('8 batch files in the lake').waitFor();

    await page.getByRole('searchbox', { name: 'Words' }).fill('protest');
    await page.getByRole('searchbox', { name: 'Words' }).press('Enter');
    await page.waitForFunction(() => location.hash.includes('query=protest'));
    const summary = page.locator('[data-total]');
    await summary.waitFor();
    await page.waitForFunction(() => document.querySelector('#gdelt-timeline')?.getAttribute('data-drawn') === 'true' && document.querySelector('#gdelt-roots')?.getAttribute('data-drawn') === 'true');
    const total = Number(await summary.getAttribute('data-total'));
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThan(Object.values(EVENT_ROWS).reduce((a, b) => a + b));
    expect(await page.locator('#gdelt-results tbody tr').count()).toBe(Math.min(total, 50));
    expect(await page.locator('#gdelt-results table').textContent()).toContain('Demonstrate or rally');
    expect(await page.locator('#gdelt-results a[href^="http"]').count()).toBeGreaterThan(0);
    expect(await page.locator('#gdelt-timeline canvas').count()).toBe(1);
    // The chart's data table adds up to the search total: the charts count exactly the matching events.
    const counts = await page.locator('#gdelt-timeline .chart-data tbody td:nth-child(2)').allTextContents();
    expect(counts.reduce((a, c) => a + Number(c.replaceAll(',', '')), 0)).toBe(total);
    expect(await page.locator('#gdelt-roots .chart-data').textContent()).toContain('14 PROTEST');
    expect(await page.locator('#gdelt-countries tbody tr').count()).toBeGreaterThan(0);
    await shoot(page, 'gdelt-protest-1280');

    // A country in the table narrows the search, the charts follow, and the URL keeps the filters.
    await page.locator('#gdelt-countries tbody button').first().click();
    await page.waitForFunction(() => /country=[A-Z]{2}/.test(location.hash));
    await page.waitForFunction((before) => document.querySelector('[data-total]')?.getAttribute('data-total') !== String(before), total);
    expect(Number(await summary.getAttribute('data-total'))).toBeLessThan(total);
    expect(problems).toEqual([]);

    // Reloading the URL gives the same search back.
    const url = page.url();
    await page.reload();
    await page.waitForFunction(() => document.querySelector('#gdelt-timeline')?.getAttribute('data-drawn') === 'true');
    expect(page.url()).toBe(url);
    expect(await page.getByRole('searchbox', { name: 'Words' }).inputValue()).toBe('protest');
    expect(problems).toEqual([]);
    await page.close();
  });

  test('GDELT: a backfill range is queued from the form and a range over 31 days shows the API error in words', async () => {
    const allow = (url: string, status: number) => status === 400 && url.includes('/api/v1/ingest/backfill');
    const { page, problems } = await watchedPage(browser, { allow });
    await page.goto(`${base}/#/gdelt`);
    await page.getByLabel('From (UTC)').fill('2015-01-01');
    await page.getByLabel('To (UTC)').fill('2015-03-01');
    await page.getByRole('button', { name: 'Backfill range' }).click();
    const error = page.locator('[data-code="range_too_large"]');
    await error.waitFor();
    expect(await error.textContent()).toContain('A backfill covers at most 31 days');
    expect(await error.textContent()).toContain('Error 400');

    await page.getByLabel('To (UTC)').fill('2015-01-02');
    await page.getByRole('button', { name: 'Backfill range' }).click();
    await page.getByText(/Job \d+ queued \(2015-01-01 to 2015-01-02\)/).waitFor();
    await page.getByText('2015-01-01 → 2015-01-02').waitFor();
    expect(problems).toEqual([]);
    await page.close();
  });

  test('GDELT: a search the API refuses shows its message, not a blank page', async () => {
    const allow = (url: string, status: number) => status === 400 && url.includes('/api/v1/events/');
    const { page, problems } = await watchedPage(browser, { allow });
    await page.goto(`${base}/#/gdelt?query=${encodeURIComponent('%%')}`);
    const error = page.locator('#gdelt-results [data-code="invalid_query"]');
    await error.waitFor();
    expect(await error.textContent()).toContain('has no letters or digits');
    expect(problems).toEqual([]);
    await page.close();
  });
  // After the GDELT tests, so the pages (and the screenshots) show a lake with data.
  for (const size of SIZES) {
    test(`every page loads at ${size.width} px with no console error, no failed request and no sideways scrolling`, async () => {
      const { page, problems } = await watchedPage(browser, size);
      for (const name of PAGES) {
        await page.goto(`${base}/#/${name}`);
        await page.getByRole('heading', { level: 1 }).waitFor();
        await page.waitForFunction(() => !document.querySelector('#page [aria-busy="true"]'));
        expect(await page.title()).toStartWith('sillage · ');
        const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
        expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
        await shoot(page, `${name}-${size.width}`);
      }
      for (const name of PAGES) expect(existsSync(join(shots, `${name}-${size.width}.png`))).toBe(true);
      expect(problems).toEqual([]);
      await page.close();
    });
  }
});
