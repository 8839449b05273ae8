import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { testApp, type TestApp } from '../helpers/index.ts';

const KEY = 'a-long-and-random-test-api-key';

describe('with API_KEY set, every mutating route of the OpenAPI document requires it', () => {
  let t: TestApp;
  let mutating: { method: string; path: string; protectedInDocs: boolean }[] = [];
  beforeAll(async () => {
    // Two requests per mutating route: more than one client's burst of mutations, which is not what this test is about.
    t = await testApp({ API_KEY: KEY, RATE_LIMIT_MUTATIONS_PER_MINUTE: '100000' });
    const doc = (await t.json('/swagger/json')).body;
    for (const [path, ops] of Object.entries<any>(doc.paths))
      for (const [method, op] of Object.entries<any>(ops))
        if (method !== 'get' && method !== 'head' && method !== 'options')
          mutating.push({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, 'x1'), protectedInDocs: !!op.security?.length });
  });
  afterAll(() => t.close());

  test('there are mutating routes to check', () => expect(mutating.length).toBeGreaterThanOrEqual(4));

  test('without a token each answers 401, with a wrong token 403, and the docs mark it protected', async () => {
    for (const r of mutating) {
      const none = await t.request(r.path, { method: r.method });
      expect(`${r.method} ${r.path} → ${none.status}`).toBe(`${r.method} ${r.path} → 401`);
      const wrong = await t.request(r.path, { method: r.method, headers: { authorization: 'Bearer not-the-key-at-all' } });
      expect(`${r.method} ${r.path} → ${wrong.status}`).toBe(`${r.method} ${r.path} → 403`);
      expect(`${r.method} ${r.path} protected: ${r.protectedInDocs}`).toBe(`${r.method} ${r.path} protected: true`);
    }
  });
});
