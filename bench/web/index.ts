import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type CDPSession } from 'playwright-core';
import { ROOT } from '../../src/platform/context.ts';
import { FIXTURES, startFixtureServer } from '../../tests/helpers/fixtures.ts';
import { freePort, waitUp, type BenchModule, type BenchResult } from '../lib.ts';

const CHROMIUM = Bun.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

type Resource = { url: string; type: string; transferred: number; decoded: number; status: number };
type Load = { resources: Resource[]; firstChartMs: number; domContentLoadedMs: number; loadMs: number };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const max = (xs: number[]) => Math.max(...xs);
const kb = (n: number) => n / 1024;

/**
 * A GDELT mirror with the 4 fixture batches (GDELT's own manifest lines and zips), so the server has a lake to
 * chart: the same data the tests use.
 */
function gdeltMirror() {
  const master = readFileSync(join(FIXTURES, 'gdelt/manifests/masterfilelist.v2.first1000.txt'), 'utf8');
  const text = (body: string) => () => new Response(body, { headers: { 'content-type': 'text/plain' } });
  return startFixtureServer({
    root: join(FIXTURES, 'gdelt/events/v2-2015-02-18/zip'),
    routes: { '/lastupdate.txt': text(master.split('\n').slice(9, 12).join('\n') + '\n'), '/masterfilelist.txt': text(master) },
  });
}

/**
 * Loads a URL in a fresh browser context (empty cache) and records every response through Chromium's own network
 * events: `encodedDataLength` is what crossed the wire (headers + gzip body), `dataLength` the decoded body.
 */
async function load(browser: Browser, url: string, reuse?: { context: BrowserContext; cdp: CDPSession }): Promise<Load & { context: BrowserContext; cdp: CDPSession }> {
  const context = reuse?.context ?? (await browser.newContext({ viewport: { width: 1280, height: 800 } }));
  const page = context.pages()[0] ?? (await context.newPage());
  const cdp = reuse?.cdp ?? (await context.newCDPSession(page));
  const byId = new Map<string, Resource>();
  const onResponse = (e: any) => byId.set(e.requestId, { url: e.response.url, type: e.type, transferred: 0, decoded: 0, status: e.response.status });
  const onData = (e: any) => {
    const r = byId.get(e.requestId);
    if (r) r.decoded += e.dataLength;
  };
  const onFinished = (e: any) => {
    const r = byId.get(e.requestId);
    if (r) r.transferred = e.encodedDataLength;
  };
  cdp.on('Network.responseReceived', onResponse);
  cdp.on('Network.dataReceived', onData);
  cdp.on('Network.loadingFinished', onFinished);
  await cdp.send('Network.enable');
  if (reuse) await page.reload();
  else await page.goto(url);
  await page.waitForFunction(() => performance.getEntriesByName('sillage:first-chart').length > 0, undefined, { timeout: 20_000 });
  await page.waitForLoadState('networkidle');
  const timing = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
    return { firstChartMs: performance.getEntriesByName('sillage:first-chart')[0]!.startTime, domContentLoadedMs: nav.domContentLoadedEventEnd, loadMs: nav.loadEventEnd };
  });
  cdp.off('Network.responseReceived', onResponse);
  cdp.off('Network.dataReceived', onData);
  cdp.off('Network.loadingFinished', onFinished);
  return { resources: [...byId.values()], ...timing, context, cdp };
}

const isPageAsset = (r: Resource) => r.type === 'Document' || r.type === 'Script' || r.type === 'Stylesheet';

const bench: BenchModule = {
  name: 'web',
  description: 'Dashboard first load in Chromium on loopback: HTML + JS + CSS bytes transferred (gzip), time to first chart',
  async run({ quick, log }) {
    const runs = quick ? 3 : 10;
    const mirror = gdeltMirror();
    const etl = startFixtureServer();
    const dir = mkdtempSync(join(tmpdir(), 'sillage-bench-web-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    // The server in its own process, as in production; the browser and this script do not share its event loop.
    const server = Bun.spawn(['bun', 'src/main.ts'], {
      cwd: ROOT,
      env: { ...Bun.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dir, STREAMS_DIR: join(dir, 'streams'), LOG_LEVEL: 'warn', GDELT_BASE_URL: mirror.url, ETL_SOURCE_URL: `${etl.url}/jsonplaceholder/posts.json`, DATABASE_URL: '', KAFKA_BOOTSTRAP_SERVERS: '', REDIS_URL: '', API_KEY: '' },
      stdout: 'ignore',
      stderr: 'inherit',
    });
    let browser: Browser | undefined;
    try {
      await waitUp(`${base}/health`);
      log('ingesting the 4 fixture batches and running the ETL');
      const job = (await (await fetch(`${base}/api/v1/ingest/trigger?n_batches=4`, { method: 'POST' })).json()) as { job_id: number };
      await fetch(`${base}/etl/run`, { method: 'POST' });
      for (let state = ''; state !== 'succeeded'; await Bun.sleep(100)) {
        state = ((await (await fetch(`${base}/api/v1/ingest/jobs/${job.job_id}`)).json()) as { state: string }).state;
        if (state === 'failed') throw new Error('the fixture ingestion failed');
      }
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });

      log(`${runs} cold loads of / and of /#/gdelt (fresh context each: empty cache)`);
      const overview: Load[] = [];
      const gdelt: Load[] = [];
      let warm: Load | undefined;
      for (let i = 0; i < runs; i++) {
        const first = await load(browser, `${base}/`);
        overview.push(first);
        // A repeat visit in the same context: every asset revalidates with its ETag (304, no body).
        if (i === 0) warm = await load(browser, `${base}/`, first);
        await first.context.close();
        const g = await load(browser, `${base}/#/gdelt`);
        gdelt.push(g);
        await g.context.close();
      }

      const assets = overview[0]!.resources.filter(isPageAsset);
      const transferred = assets.reduce((a, r) => a + r.transferred, 0);
      const decoded = assets.reduce((a, r) => a + r.decoded, 0);
      const api = overview[0]!.resources.filter((r) => !isPageAsset(r)).reduce((a, r) => a + r.transferred, 0);
      const warmAssets = warm!.resources.filter(isPageAsset);
      const gdeltAssets = gdelt[0]!.resources.filter(isPageAsset).reduce((a, r) => a + r.transferred, 0);
      for (const r of assets) log(`  ${r.type.padEnd(10)} ${r.url.replace(base, '').padEnd(28)} ${(r.transferred / 1024).toFixed(1).padStart(6)} KB on the wire, ${(r.decoded / 1024).toFixed(1).padStart(6)} KB decoded`);

      const results: BenchResult[] = [
        {
          name: 'first load of /: HTML + JS + CSS transferred',
          value: kb(transferred),
          unit: 'KB',
          reference: { name: 'the same files uncompressed', value: kb(decoded) },
          target: '< 300 KB',
          notes: `${assets.length} files, gzip; the API's JSON adds ${kb(api).toFixed(1)} KB`,
        },
        {
          name: 'first load of /#/gdelt: HTML + JS + CSS transferred',
          value: kb(gdeltAssets),
          unit: 'KB',
          target: '< 300 KB',
        },
        {
          name: 'repeat visit of /: HTML + JS + CSS transferred',
          value: kb(warmAssets.reduce((a, r) => a + r.transferred, 0)),
          unit: 'KB',
          reference: { name: 'first load', value: kb(transferred) },
          notes: `${warmAssets.filter((r) => r.status === 304).length} of ${warmAssets.length} files answered 304 (ETag)`,
        },
        {
          name: 'time to first chart, / (median of cold loads)',
          value: median(overview.map((l) => l.firstChartMs)),
          unit: 'ms',
          reference: { name: 'DOMContentLoaded', value: median(overview.map((l) => l.domContentLoadedMs)) },
          target: '< 1000 ms',
          notes: `max ${max(overview.map((l) => l.firstChartMs)).toFixed(0)} ms over ${runs} loads`,
        },
        {
          name: 'time to first chart, /#/gdelt (median of cold loads)',
          value: median(gdelt.map((l) => l.firstChartMs)),
          unit: 'ms',
          reference: { name: 'DOMContentLoaded', value: median(gdelt.map((l) => l.domContentLoadedMs)) },
          target: '< 1000 ms',
          notes: `DuckDB timeline + stats over the lake; max ${max(gdelt.map((l) => l.firstChartMs)).toFixed(0)} ms`,
        },
      ];
      return results;
    } finally {
      await browser?.close();
      server.kill();
      await server.exited;
      mirror.stop();
      etl.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default bench;
