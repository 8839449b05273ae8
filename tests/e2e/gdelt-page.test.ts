import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { chromium, type Browser } from 'playwright-core';
import { runJob, startGdeltMirror } from '../helpers/gdelt.ts';
import { services, skipReason, testApp, type TestApp } from '../helpers/index.ts';

describe.skipIf(!!skipReason('chromium'))('GDELT page in a browser', () => {
  let t: TestApp;
  let browser: Browser;
  let server: ReturnType<typeof Bun.serve>;
  let mirror: ReturnType<typeof startGdeltMirror>;
  beforeAll(async () => {
    mirror = startGdeltMirror();
    t = await testApp({ GDELT_BASE_URL: mirror.url });
    await runJob(t, '/api/v1/ingest/trigger?n_batches=4');
    server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: (req) => { const u = new URL(req.url); return t.request(u.pathname + u.search, req); } });
    browser = await chromium.launch({ executablePath: services.chromium, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  });
  afterAll(async () => {
    await browser?.close();
    server?.stop(true);
    await t?.close();
    mirror?.stop();
  });

  test('the page searches events with CAMEO descriptions and source links, and lists jobs and batches', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // Resource 404s are the nav probing for pages of features not merged here (and the favicon); script errors count.
    page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && errors.push(m.text()));
    await page.goto(`http://127.0.0.1:${server.port}/#/gdelt`);
    await page.getByRole('searchbox', { name: 'Search words' }).fill('protest');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText(/\d+ events/).waitFor();
    expect(await page.locator('table').first().textContent()).toContain('Demonstrate or rally');
    expect(await page.locator('table a[href^="http"]').count()).toBeGreaterThan(0);
    await page.getByText('8 batch files in the lake').waitFor();
    expect(await page.getByText('succeeded').count()).toBeGreaterThan(0);
    await page.screenshot({ path: '/tmp/sillage-gdelt-page.png', fullPage: false });
    expect(errors).toEqual([]);
  });
});
