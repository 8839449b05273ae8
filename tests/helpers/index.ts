import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createApp, createHandler } from '../../src/http.ts';
import { loadConfig } from '../../src/platform/config.ts';
import { createContext, type AppContext, type ContextOptions } from '../../src/platform/context.ts';
import { memoryLogger } from '../../src/platform/log.ts';

export { services, skipReason } from './services.ts';
export { startFixtureServer, FIXTURES } from './fixtures.ts';

let counter = 0;
/** A name unique to this test run, valid as a SQL identifier, Kafka topic and Redis key part. */
export function uniqueName(prefix = 't'): string {
  return `${prefix}_${process.pid.toString(36)}_${Date.now().toString(36)}_${(counter++).toString(36)}`.toLowerCase();
}

export function tempDir(prefix = 'sillage-test-'): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/** Waits until `fn` returns a truthy value (or stops throwing), checking often, failing after the deadline. */
export async function waitFor<T>(fn: () => T | Promise<T>, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<NonNullable<T>> {
  const { timeoutMs = 10_000, intervalMs = 25 } = options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${options.what ?? 'condition'}${last ? `: ${String((last as Error).message ?? last)}` : ''}`);
    await Bun.sleep(intervalMs);
  }
}

export type TestApp = {
  ctx: AppContext;
  app: ReturnType<typeof createApp>;
  dir: string;
  log: ReturnType<typeof memoryLogger>;
  /** Calls the app in-process, like a client would over HTTP. */
  request(path: string, init?: RequestInit): Promise<Response>;
  json<T = any>(path: string, init?: RequestInit): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
};

/** A full app on a fresh temporary DATA_DIR, with embedded defaults unless `env` says otherwise. */
export async function testApp(env: Record<string, string | undefined> = {}, options: ContextOptions = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'sillage-app-'));
  // STREAMS_DIR points into the temp dir (empty), so the example stream jobs in streams/ never start in tests.
  // The engagement pipeline creates a durable replication slot (database-wide) and default-named topics, so a test
  // that configures Postgres, Kafka and Redis for another reason does not start it unless it asks (ENGAGEMENT_PIPELINE=auto).
  const config = loadConfig({ DATA_DIR: dir, STREAMS_DIR: join(dir, 'streams'), LOG_LEVEL: 'debug', LOG_FORMAT: 'json', ENGAGEMENT_PIPELINE: 'off', ...env });
  const log = memoryLogger();
  const ctx = await createContext(config, { log, healthCacheMs: 0, ...options });
  const app = createApp(ctx);
  const handler = createHandler(ctx, app);
  const request = async (path: string, init?: RequestInit) => handler(new Request(`http://localhost${path}`, init));
  return {
    ctx,
    app,
    dir,
    log,
    request,
    json: async (path, init) => {
      const res = await request(path, init);
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    close: async () => {
      await ctx.close();
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const ROOT = resolve(import.meta.dir, '../..');
