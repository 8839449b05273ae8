import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import fc from 'fast-check';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { ROOT, services, startFixtureServer, testApp, uniqueName, type TestApp } from '../helpers/index.ts';

setDefaultTimeout(300_000);

type Route = { method: string; path: string; query: string[]; pathParams: string[] };

// Values people (and scanners) actually send: traversal, SQL, wildcards, huge and odd numbers, dates, unicode.
const nasty = fc.constantFrom(
  '', ' ', '0', '-1', '1e309', '9007199254740993', 'NaN', 'Infinity', 'null', 'undefined', 'true', '[]', '{}',
  '../../etc/passwd', '..%2F..%2Foutside%2Fsecret.txt', '../outside/secret.txt', '/etc/shadow', 'C:\\windows\\win.ini',
  "' OR 1=1 --", '"; DROP TABLE posts; --', 'SELECT * FROM read_csv(\'/etc/passwd\')', "read_parquet('/etc')", '%', '_', '%_%', '*', '\\',
  '2026-02-30', '2026-13-01', 'yesterday', '1970-01-01T00:00:00Z', '99999-01-01', '20150218230000',
  '\u0000', '\uFFFF', '😀', 'é'.repeat(300), 'a'.repeat(5000), '<script>alert(1)</script>', '${jndi:ldap://x}', 'protest',
);
const value = fc.oneof(nasty, fc.string({ maxLength: 40 }), fc.integer().map(String), fc.double().map(String), fc.string({ unit: 'binary', maxLength: 20 }));

function routesOf(doc: any): Route[] {
  const out: Route[] = [];
  for (const [path, ops] of Object.entries<any>(doc.paths))
    for (const [method, op] of Object.entries<any>(ops)) {
      // Only reads with parameters: mutating routes have their own bad-input tests, and the live feeds never end.
      const params = op.parameters ?? [];
      if (method !== 'get' || path.endsWith('/live') || !params.length) continue;
      out.push({ method, path, query: params.filter((p: any) => p.in === 'query').map((p: any) => p.name), pathParams: params.filter((p: any) => p.in === 'path').map((p: any) => p.name) });
    }
  return out;
}

function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).sort().map((f) => `${f}:${statSync(join(dir, f)).mtimeMs}`);
}

function fuzzSuite(name: string, env: () => Record<string, string>) {
  describe(name, () => {
    let t: TestApp;
    let source: ReturnType<typeof startFixtureServer>;
    let routes: Route[] = [];
    let outside: string;
    let before: string[];
    let gitBefore: string;

    beforeAll(async () => {
      source = startFixtureServer();
      t = await testApp({
        ETL_SOURCE_URL: `${source.url}/jsonplaceholder/posts.json`,
        RATE_LIMIT_SEARCH_PER_MINUTE: '1000000',
        RATE_LIMIT_MUTATIONS_PER_MINUTE: '1000000',
        ...env(),
      });
      outside = join(t.dir, '..', `${t.dir.split('/').pop()}-outside`);
      mkdirSync(outside, { recursive: true });
      writeFileSync(join(outside, 'secret.txt'), 'do not touch');
      before = snapshot(outside);
      gitBefore = Bun.spawnSync(['git', 'status', '--porcelain'], { cwd: ROOT }).stdout.toString();
      const all = routesOf((await t.json('/swagger/json')).body);
      // Routes of features whose services are not configured answer 503 by design; they are fuzzed in the
      // suite that has the services.
      for (const r of all) {
        const probes = ['1', 'x1', '6f1c1a7e-7d1c-4c5e-9c1a-2b3c4d5e6f70'].map((v) => t.request(r.path.replace(/\{[^}]+\}/g, v)));
        if ((await Promise.all(probes)).every((p) => p.status !== 503)) routes.push(r);
      }
    });
    afterAll(async () => {
      await t.close();
      source.stop();
    });

    test('random values in every query and path parameter of the read routes never give a 5xx or a stack trace', async () => {
      expect(routes.length).toBeGreaterThan(5);
      const failures: string[] = [];
      await fc.assert(
        fc.asyncProperty(fc.nat(routes.length - 1), fc.array(value, { minLength: 1, maxLength: 6 }), fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), async (i, values, include) => {
          const r = routes[i]!;
          let path = r.path;
          r.pathParams.forEach((p, k) => (path = path.replace(`{${p}}`, encodeURIComponent(values[k % values.length]!))));
          const qs = new URLSearchParams();
          r.query.forEach((q, k) => include[k % 6] && qs.append(q, values[k % values.length]!));
          const url = `${path}?${qs}`;
          const res = await t.request(url);
          const body = await res.text();
          if (res.status >= 500 || /\n\s+at |\.ts:\d+/.test(body)) failures.push(`${res.status} GET ${url} → ${body.slice(0, 200)}`);
          return failures.length === 0;
        }),
        { numRuns: 10_000, seed: Number(Bun.env.FUZZ_SEED ?? 42) },
      ).catch((e: Error) => {
        // A property that returned false is already in `failures`; anything else (a request that threw) is a failure too.
        if (!failures.length) failures.push(`threw: ${e.message.slice(0, 500)}`);
      });
      expect(failures).toEqual([]);
      expect(snapshot(outside)).toEqual(before);
      expect(Bun.spawnSync(['git', 'status', '--porcelain'], { cwd: ROOT }).stdout.toString()).toBe(gitBefore);
    });
  });
}

fuzzSuite('fuzzing the public API with embedded defaults', () => ({}));
if (services.postgres && services.redis && services.kafka) {
  const schema = uniqueName('fuzz');
  fuzzSuite('fuzzing the public API with every service configured', () => ({
    DATABASE_URL: services.postgres!,
    DATABASE_SCHEMA: schema,
    REDIS_URL: services.redis!,
    REDIS_KEY_PREFIX: `${schema}:`,
    KAFKA_BOOTSTRAP_SERVERS: services.kafka!.join(','),
  }));
  afterAll(async () => {
    const sql = postgres(services.postgres!, { max: 1, onnotice: () => {} });
    await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await sql.end();
  });
}
