import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { chromium, type Browser } from 'playwright-core';
import { createHandler } from '../../src/http.ts';
import { ensureTopic } from '../../src/features/streams/producer.ts';
import { join } from 'node:path';
import { ROOT, services, skipReason, testApp, waitFor, type TestApp } from '../helpers/index.ts';
import { streamServices, type StreamServices } from '../helpers/streams.ts';

setDefaultTimeout(90_000);
const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);

describe.skipIf(!!skipReason('postgres', 'kafka', 'redis', 'chromium'))('the Streams page', () => {
  let s: StreamServices;
  let app: TestApp;
  let server: ReturnType<typeof Bun.serve>;
  let browser: Browser;
  let topic: string;
  const send = async (values: object[]) => {
    const p = s.kafka.producer();
    await p.connect();
    await p.send({ topic, messages: values.map((v) => ({ key: 'k', value: JSON.stringify(v) })) });
    await p.disconnect();
  };
  const r = (sec: number, service: string, latency_ms: number) => ({ ts: new Date(T0 + sec * 1000).toISOString(), service, latency_ms });

  beforeAll(async () => {
    s = streamServices();
    topic = s.topic('page');
    await ensureTopic(s.kafka, topic, 1);
    app = await testApp({ ...s.env(), STREAMS_COMMIT_INTERVAL_MS: '100' });
    server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: createHandler(app.ctx, app.app) });
    const spec = {
      name: 'page_demo',
      source: { topic, schema: { ts: 'timestamp', service: 'string', latency_ms: 'number' } },
      time: { field: 'ts' },
      key: ['service'],
      window: { type: 'tumbling', size: '10s' },
      aggregates: [{ name: 'requests', fn: 'count' }, { name: 'p95_ms', fn: 'p95', field: 'latency_ms' }],
      alerts: [{ name: 'slow', when: 'p95_ms > 100' }],
    };
    expect((await app.json('/api/v1/streams/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) })).status).toBe(201);
    await waitFor(async () => (await app.json('/api/v1/streams/jobs/page_demo')).body.state === 'running', { timeoutMs: 30_000, what: 'the job' });
    await send([r(1, 'api', 20), r(2, 'web', 300), r(11, 'api', 10)]);
    await waitFor(async () => (await app.json('/api/v1/streams/jobs/page_demo/results')).body.results.length === 2, { what: 'first windows' });
    browser = await chromium.launch({ executablePath: services.chromium, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  });
  afterAll(async () => {
    await browser?.close();
    server?.stop(true);
    await app?.close();
    await s?.cleanup();
  });

  test('lists the job, shows the latest window per key and appends windows from the live feed', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    // Pages of features not merged on this branch are probed by the shell and answer 404; anything else counts.
    page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && problems.push(m.text()));
    page.on('response', (res) => res.status() >= 400 && !/\/assets\/pages\/(etl|gdelt|engagement)\.js$/.test(res.url()) && problems.push(`${res.status()} ${res.url()}`));
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`http://127.0.0.1:${server.port}/#/streams`);
    await page.getByRole('button', { name: 'page_demo' }).waitFor();
    expect(await page.locator('section').first().textContent()).toContain('running');
    await page.getByText('slow').first().waitFor();
    const latest = await page.locator('#streams-latest tbody tr').allTextContents();
    expect(latest).toHaveLength(2);
    expect(latest[1]).toContain('web');
    await page.getByText('(connected)').waitFor();
    await send([r(25, 'db', 5)]);
    await page.locator('.streams-feed li').first().waitFor();
    expect(await page.locator('.streams-feed li').first().textContent()).toContain('api');
    await page.locator('#streams-chart[data-drawn="true"]').waitFor();
    expect(await page.locator('#streams-chart .chart-data').textContent()).toContain('api');
    await page.screenshot({ path: `${app.dir}/streams-1280.png`, fullPage: true });
    await page.setViewportSize({ width: 375, height: 740 });
    await page.screenshot({ path: `${app.dir}/streams-375.png`, fullPage: true });
    if (Bun.env.UPDATE_SCREENSHOTS) {
      await page.screenshot({ path: join(ROOT, 'docs/screenshots/streams-375.png') });
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.screenshot({ path: join(ROOT, 'docs/screenshots/streams-1280.png') });
    }
    expect(problems.join("\n")).toBe("");
  });
});
