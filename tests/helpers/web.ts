import { chromium, type Browser, type Page } from 'playwright-core';
import { services } from './index.ts';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export const launchChromium = (): Promise<Browser> => chromium.launch({ executablePath: services.chromium, args: CHROMIUM_ARGS });

export type Watched = { page: Page; problems: string[] };

/**
 * A page that records every console error, uncaught exception and failed request (status >= 400 or a network
 * failure). `allow(url, status)` lets a test accept the few answers a page shows on purpose (a feature switched
 * off answering 503, an API route that does not exist yet answering 404).
 */
export async function watchedPage(browser: Browser, options: { width?: number; height?: number; allow?: (url: string, status: number) => boolean } = {}): Promise<Watched> {
  const page = await browser.newPage({ viewport: { width: options.width ?? 1280, height: options.height ?? 900 } });
  const problems: string[] = [];
  const allowed = new Set<string>();
  page.on('response', (res) => {
    if (res.status() < 400) return;
    if (options.allow?.(res.url(), res.status())) allowed.add(res.url());
    else problems.push(`${res.status()} ${res.url()}`);
  });
  page.on('requestfailed', (req) => {
    // Leaving a page aborts its open live feed: that is the page cleaning up, not a failure.
    if (req.failure()?.errorText === 'net::ERR_ABORTED') return;
    problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`);
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Chromium logs every 4xx/5xx answer as a console error; those are judged above by URL.
    if (m.text().startsWith('Failed to load resource') && [...allowed].some((u) => m.location().url === u)) return;
    if (m.text().startsWith('Failed to load resource') && problems.some((p) => p.endsWith(m.location().url))) return;
    problems.push(`console error: ${m.text()} at ${m.location().url}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return { page, problems };
}
