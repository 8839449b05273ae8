import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadConfig } from '../../src/platform/config.ts';
import { createContext, type AppContext } from '../../src/platform/context.ts';
import { memoryLogger } from '../../src/platform/log.ts';
import { startServer } from '../../src/server.ts';
import { ROOT, services, skipReason, startFixtureServer, tempDir } from '../helpers/index.ts';

/**
 * 404s this page cannot help: the shell probes every feature page (app.js), and a branch without a feature has no
 * module for it; the shell has no favicon. Anything else logged as an error fails the test.
 */
function expected404(text: string, url: string): boolean {
  if (!text.includes('status of 404')) return false;
  const { pathname } = new URL(url);
  if (pathname === '/favicon.ico') return true;
  const page = /^\/assets\/pages\/(\w+)\.js$/.exec(pathname)?.[1];
  return !!page && page !== 'etl' && !existsSync(join(ROOT, 'src/web/pages', `${page}.js`));
}

// The real server (startServer on a free port) and a real Chromium: click "Run ETL" and see the posts arrive.
describe.skipIf(!!skipReason('chromium'))('ETL page in Chromium', () => {
  const fx = startFixtureServer();
  const dir = tempDir('sillage-e2e-etl-');
  let ctx: AppContext;
  let server: ReturnType<typeof startServer>;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    const config = loadConfig({ DATA_DIR: dir.path, HOST: '127.0.0.1', LOG_LEVEL: 'warn', LOG_FORMAT: 'json', ETL_SOURCE_URL: `${fx.url}/jsonplaceholder/posts.json` });
    ctx = await createContext(config, { log: memoryLogger('warn') });
    server = startServer(ctx, { port: 0, hostname: '127.0.0.1' });
    browser = await chromium.launch({
      executablePath: services.chromium,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() !== 'error' || expected404(m.text(), m.location().url)) return;
      problems.push(`console error: ${m.text()} at ${m.location().url}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop(true);
    await ctx?.close();
    fx.stop();
    dir[Symbol.dispose]();
  });

  test('opening /, going to the ETL page and clicking "Run ETL" loads and shows the 100 posts', async () => {
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page.getByRole('link', { name: 'ETL', exact: true }).click();
    await page.getByRole('heading', { name: 'Runs', level: 2 }).waitFor();
    // The posts table fills in after its own request: wait for it rather than read it at once.
    await page.locator('#etl-page-info[data-total="0"]').waitFor();
    expect(await page.locator('#etl-page-info').textContent()).toBe('0 of 0');

    await page.getByRole('button', { name: 'Run ETL' }).click();
    await page.locator('#etl-status[data-status="succeeded"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('#etl-status').textContent()).toContain('loaded 100');
    await page.locator('#etl-page-info[data-total="100"]').waitFor();
    expect(await page.locator('#etl-page-info').textContent()).toBe('1–10 of 100');
    expect(await page.locator('#etl-posts tbody tr').count()).toBe(10);
    expect(await page.locator('.card', { hasText: 'Posts' }).locator('.figure').textContent()).toBe('100');
    expect(await page.locator('#etl-runs tbody tr').count()).toBe(1);

    const shot = join(dir.path, 'etl-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(existsSync(shot)).toBe(true);
    expect(problems).toEqual([]);
  }, 60_000);

  test('the posts can be searched and paged with the keyboard alone', async () => {
    await page.getByLabel('Search', { exact: true }).focus();
    await page.keyboard.type('qui est');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('#etl-page-info')?.getAttribute('data-total') !== '100');
    const matching = Number(await page.locator('#etl-page-info').getAttribute('data-total'));
    expect(matching).toBeGreaterThan(0);
    expect(matching).toBeLessThan(100);

    await page.getByRole('button', { name: 'Clear' }).press('Enter');
    await page.locator('#etl-page-info[data-total="100"]').waitFor();
    await page.getByRole('button', { name: 'Next' }).press('Enter');
    await page.waitForFunction(() => document.querySelector('#etl-page-info')?.textContent === '11–20 of 100');
    expect(await page.locator('#etl-posts tbody tr').first().locator('td').first().textContent()).toBe('11');
    expect(problems).toEqual([]);
  }, 60_000);

  test('opening a run from the runs table shows its details', async () => {
    await page.getByRole('button', { name: 'Show run 1' }).click();
    await page.locator('#etl-run-detail h3').waitFor();
    expect(await page.locator('#etl-run-detail').textContent()).toContain('No rejected records.');
    expect(problems).toEqual([]);
  }, 60_000);
});
