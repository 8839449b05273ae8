import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { FIXTURES, startFixtureServer, testApp, waitFor, type TestApp } from '../helpers/index.ts';

type SourcePost = { userId: number; id: number; title: string; body: string };
const PATH = '/jsonplaceholder/posts.json';
const fixture: SourcePost[] = await Bun.file(`${FIXTURES}${PATH}`).json();
const RUN_KEYS = ['id', 'status', 'started_at', 'finished_at', 'extracted', 'loaded', 'rejected', 'error', 'duration_ms'].sort();
const json = (body: unknown, init: ResponseInit = {}) => Response.json(body, init);
const postRun = (t: TestApp, query = '') => t.json(`/etl/run${query}`, { method: 'POST' });

describe('ETL against the JSONPlaceholder fixture', () => {
  const fx = startFixtureServer();
  let t: TestApp;
  beforeAll(async () => (t = await testApp({ ETL_SOURCE_URL: fx.url + PATH })));
  afterAll(async () => {
    await t.close();
    fx.stop();
  });

  test('before any run there are no posts, no runs, and the stats say so', async () => {
    expect((await t.json('/posts')).body).toEqual({ items: [], total: 0 });
    expect((await t.json('/etl/runs')).body).toEqual({ items: [], total: 0 });
    expect((await t.json('/stats')).body).toEqual({
      post_count: 0,
      distinct_users: 0,
      avg_title_length: null,
      avg_body_length: null,
      last_run: null,
      runs_by_status: { running: 0, succeeded: 0, failed: 0, partial: 0 },
    });
  });

  test('GET /etl/preview transforms the first n records without loading them', async () => {
    const { status, body } = await t.json('/etl/preview?n=3');
    expect(status).toBe(200);
    expect(body.items.map((p: { id: number }) => p.id)).toEqual([1, 2, 3]);
    expect(body.items[0]).toEqual({ id: 1, user_id: 1, title: fixture[0]!.title, body: fixture[0]!.body.replaceAll('\n', ' '), loaded_at: expect.any(String) });
    expect(body.total).toBe(3);
    expect(body.rejected).toEqual([]);
    expect((await t.json('/posts')).body.total).toBe(0);
    expect((await t.json('/etl/preview')).body.items).toHaveLength(3);
  });

  test('POST /etl/run loads the 100 posts and answers with the finished run record', async () => {
    const { status, body } = await postRun(t);
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(RUN_KEYS);
    expect(body).toMatchObject({ status: 'succeeded', extracted: 100, loaded: 100, rejected: 0, error: null });
    expect(new Date(body.finished_at).getTime()).toBeGreaterThanOrEqual(new Date(body.started_at).getTime());
    expect(body.duration_ms).toBeGreaterThanOrEqual(0);
    expect((await t.json('/posts')).body.total).toBe(100);
  });

  test('running the ETL again updates the same posts instead of duplicating them', async () => {
    const { body } = await postRun(t);
    expect(body).toMatchObject({ status: 'succeeded', loaded: 100 });
    const stats = (await t.json('/stats')).body;
    expect(stats.post_count).toBe(100);
    expect(stats.runs_by_status).toEqual({ running: 0, succeeded: 2, failed: 0, partial: 0 });
    expect(stats.last_run.id).toBe(body.id);
  });

  test('GET /posts/:id returns the post object, cleaned', async () => {
    const { status, body } = await t.json('/posts/2');
    expect(status).toBe(200);
    expect(body).toEqual({ id: 2, user_id: 1, title: 'qui est esse', body: fixture[1]!.body.split('\n').join(' '), loaded_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) });
  });

  test('GET /posts pages with limit and offset and reports the total', async () => {
    const first = (await t.json('/posts?limit=10&offset=0')).body;
    const second = (await t.json('/posts?limit=10&offset=10')).body;
    expect(first.total).toBe(100);
    expect(first.items.map((p: { id: number }) => p.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(second.items[0].id).toBe(11);
    expect((await t.json('/posts')).body.items).toHaveLength(10);
    expect((await t.json('/posts?limit=10&offset=100')).body).toEqual({ items: [], total: 100 });
  });

  test('GET /posts filters by user_id, and empty filters (as a form sends them) mean none', async () => {
    const byUser = (await t.json('/posts?user_id=3&limit=100')).body;
    expect(byUser.total).toBe(10);
    expect(byUser.items.every((p: { user_id: number }) => p.user_id === 3)).toBe(true);
    expect((await t.json('/posts?limit=10&offset=0&user_id=&q=')).body.total).toBe(100);
  });

  test('GET /posts?q= finds the text in titles or bodies, ignoring case and taking % literally', async () => {
    const { body } = await t.json('/posts?q=QUI%20EST&limit=100');
    const expected = fixture.filter((p) => /qui est/i.test(p.title) || /qui est/i.test(p.body.replaceAll('\n', ' ')));
    expect(body.total).toBe(expected.length);
    expect(body.items.map((p: { id: number }) => p.id)).toEqual(expected.map((p) => p.id));
    expect((await t.json('/posts?q=%25')).body.total).toBe(0);
    expect((await t.json('/posts?q=voluptate&user_id=1')).body.items.every((p: { user_id: number }) => p.user_id === 1)).toBe(true);
  });

  test('GET /stats reports counts, distinct users, average lengths, the last run and runs by status', async () => {
    const { body } = await t.json('/stats');
    const avg = (xs: number[]) => Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100;
    expect(body).toMatchObject({
      post_count: 100,
      distinct_users: 10,
      avg_title_length: avg(fixture.map((p) => p.title.length)),
      avg_body_length: avg(fixture.map((p) => p.body.replaceAll('\n', ' ').length)),
    });
    expect(Object.keys(body.last_run).sort()).toEqual(RUN_KEYS);
  });

  test('GET /etl/runs lists runs newest first as { items, total }, and limit caps the list', async () => {
    const all = (await t.json('/etl/runs')).body;
    expect(all.total).toBe(2);
    expect(all.items.map((r: { id: number }) => r.id)).toEqual([2, 1]);
    expect(Object.keys(all.items[0]).sort()).toEqual(RUN_KEYS);
    expect((await t.json('/etl/runs?limit=1')).body.items.map((r: { id: number }) => r.id)).toEqual([2]);
  });

  test('GET /etl/runs/:id returns the run with its source and rejected records', async () => {
    const { status, body } = await t.json('/etl/runs/1');
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: 1, status: 'succeeded', source_url: fx.url + PATH, rejected_records: [] });
  });

  test.each([
    ['/etl/preview?n=0', 'n must be an integer from 1 to 100'],
    ['/etl/preview?n=1000', 'n must be an integer from 1 to 100'],
    ['/etl/preview?n=two', 'n must be an integer from 1 to 100'],
    ['/posts?limit=-1', 'limit must be an integer from 1 to 1000'],
    ['/posts?limit=abc', 'limit must be an integer from 1 to 1000'],
    ['/posts?limit=5000', 'limit must be an integer from 1 to 1000'],
    ['/posts?offset=-5', 'offset must be an integer from 0 to'],
    ['/posts?user_id=x', 'user_id must be a positive integer'],
    ['/posts?user_id=0', 'user_id must be a positive integer'],
    ['/etl/runs?limit=-1', 'limit must be an integer from 1 to 1000'],
    ['/etl/runs?limit=abc', 'limit must be an integer from 1 to 1000'],
    ['/posts/abc', 'id must be a positive integer'],
    ['/etl/runs/abc', 'id must be a positive integer'],
  ])('GET %s is refused with 400 and a message naming the parameter and its rule', async (path, message) => {
    const { status, body } = await t.json(path);
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message).toContain(message);
  });

  test('POST /etl/run?wait=maybe is refused with 400', async () => {
    const { status, body } = await postRun(t, '?wait=maybe');
    expect(status).toBe(400);
    expect(body.error.message).toContain('wait must be true or false');
  });

  test('an unknown run id answers 404 in the error shape', async () => {
    const { status, body } = await t.json('/etl/runs/999');
    expect(status).toBe(404);
    expect(body.error).toEqual({ code: 'not_found', message: expect.stringContaining('999') });
  });

  test('an unknown post id answers 404', async () => {
    expect((await t.json('/posts/1000')).status).toBe(404);
  });

  test('POST /etl/run?wait=false answers 202 with the running run, which then finishes', async () => {
    const { status, body } = await postRun(t, '?wait=false');
    expect(status).toBe(202);
    expect(body).toMatchObject({ status: 'running', finished_at: null, duration_ms: null });
    const done = await waitFor(async () => {
      const run = (await t.json(`/etl/runs/${body.id}`)).body;
      return run.status !== 'running' && run;
    }, { what: 'the run to finish' });
    expect(done).toMatchObject({ status: 'succeeded', loaded: 100 });
  });

  test('/metrics counts runs by status and records by stage, with a duration histogram', async () => {
    const text = await (await t.request('/metrics')).text();
    expect(text).toMatch(/sillage_etl_runs_total\{status="succeeded"\} 3/);
    expect(text).toMatch(/sillage_etl_records_total\{stage="extracted"\} 300/);
    expect(text).toMatch(/sillage_etl_records_total\{stage="loaded"\} 300/);
    expect(text).toMatch(/sillage_etl_records_total\{stage="rejected"\} 0/);
    expect(text).toMatch(/sillage_etl_run_duration_seconds_count\{status="succeeded"\} 3/);
  });

  test('/health shows the ETL component with its last run', async () => {
    const { body } = await t.json('/health');
    expect(body.components.etl).toBe('ok');
    expect(body.details.etl.last_run).toMatchObject({ status: 'succeeded' });
  });

  test('the OpenAPI document lists the ETL routes under the etl tag, POST /etl/run as protected', async () => {
    const { body } = await t.json('/swagger/json');
    for (const [path, method] of [['/etl/run', 'post'], ['/etl/preview', 'get'], ['/etl/runs', 'get'], ['/etl/runs/{id}', 'get'], ['/posts', 'get'], ['/posts/{id}', 'get'], ['/stats', 'get']] as const) {
      expect(body.paths[path]?.[method]?.tags).toEqual(['etl']);
      expect(body.paths[path][method].summary).toBeString();
    }
    expect(body.paths['/etl/run'].post.security).toEqual([{ bearer: [] }]);
  });
});

describe('ETL when the source misbehaves', () => {
  const fx = startFixtureServer();
  const url = fx.url + PATH;
  let t: TestApp;
  let release: () => void = () => {};
  const hits = () => fx.hits.get(PATH) ?? 0;
  const serve = (posts: unknown) => fx.override(PATH, () => json(posts));

  beforeAll(async () => {
    // Many runs in a row from one client: lift the mutation rate limit, which has its own test.
    t = await testApp({ ETL_SOURCE_URL: url, ETL_TIMEOUT_MS: '300', ETL_RETRIES: '2', ETL_RETRY_BASE_DELAY_MS: '5', ETL_MAX_RESPONSE_BYTES: '100000', RATE_LIMIT_MUTATIONS_PER_MINUTE: '100000' });
    const first = await postRun(t);
    expect(first.body.status).toBe('succeeded');
  });
  afterEach(() => {
    fx.override(PATH, undefined);
    release();
  });
  afterAll(async () => {
    await t.close();
    fx.stop();
  });

  /** The posts of the first good run are untouched. */
  async function expectPreviousDataIntact() {
    const posts = (await t.json('/posts?limit=100')).body;
    expect(posts.total).toBe(100);
    expect(posts.items.map((p: { title: string }) => p.title)).toEqual(fixture.map((p) => p.title));
  }

  async function expectFailed(message: string | RegExp) {
    const { status, body } = await postRun(t);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'failed', loaded: 0 });
    expect(body.error).toMatch(message);
    await expectPreviousDataIntact();
    const listed = (await t.json('/etl/runs?limit=1')).body.items[0];
    expect(listed).toMatchObject({ id: body.id, status: 'failed', error: body.error });
    return body;
  }

  test('a source that never answers fails the run with a timeout, after the retries', async () => {
    const gate = new Promise<void>((r) => (release = r));
    fx.override(PATH, async () => {
      await gate;
      return json(fixture);
    });
    const before = hits();
    const run = await expectFailed(/did not answer .* within ETL_TIMEOUT_MS=300 ms.*Gave up after 3 attempts/);
    expect(run.error).toContain('raise ETL_TIMEOUT_MS');
    expect(hits() - before).toBe(3);
  });

  test('a 500 followed by a 200 is retried and the run succeeds', async () => {
    let calls = 0;
    fx.override(PATH, () => (++calls === 1 ? new Response('boom', { status: 500 }) : json(fixture)));
    const { body } = await postRun(t);
    expect(body).toMatchObject({ status: 'succeeded', loaded: 100 });
    expect(calls).toBe(2);
    const text = await (await t.request('/metrics')).text();
    expect(text).toMatch(/sillage_etl_source_retries_total [1-9]/);
  });

  test('a 503 on every attempt fails the run once the retries are used up', async () => {
    fx.override(PATH, () => new Response('down for maintenance', { status: 503 }));
    const before = hits();
    await expectFailed(/answered 503 .*Gave up after 3 attempts/);
    expect(hits() - before).toBe(3);
  });

  test('a 404 is not retried, and the run fails with an error that names ETL_SOURCE_URL', async () => {
    fx.override(PATH, () => new Response('not found', { status: 404 }));
    const before = hits();
    const run = await expectFailed(/answered 404 .*retrying cannot help/);
    expect(run.error).toContain('Set ETL_SOURCE_URL');
    expect(hits() - before).toBe(1);
  });

  test('a body that is not JSON fails the run without retrying', async () => {
    fx.override(PATH, () => new Response('<html>Oops</html>', { headers: { 'content-type': 'text/html' } }));
    const before = hits();
    await expectFailed(/not valid JSON.*"<html>Oops<\/html>"/);
    expect(hits() - before).toBe(1);
  });

  test('a JSON object instead of an array fails the run and says which keys it had', async () => {
    serve({ data: fixture, page: 1 });
    await expectFailed(/a JSON object \(keys: data, page\).*not an array of posts/);
  });

  test('a response larger than ETL_MAX_RESPONSE_BYTES (declared length) fails the run', async () => {
    serve(Array.from({ length: 1000 }, (_, i) => ({ ...fixture[0], id: i + 1 })));
    await expectFailed(/more than ETL_MAX_RESPONSE_BYTES=100000.*Raise ETL_MAX_RESPONSE_BYTES/);
  });

  test('a streamed response without a length is cut off at ETL_MAX_RESPONSE_BYTES too', async () => {
    const chunk = new TextEncoder().encode(' '.repeat(10_000));
    fx.override(PATH, () => {
      let sent = 0;
      const stream = new ReadableStream({
        pull(controller) {
          // An endless body: only the cap can stop the reader.
          controller.enqueue(sent++ === 0 ? new TextEncoder().encode('[') : chunk);
        },
      });
      return new Response(stream, { headers: { 'content-type': 'application/json' } });
    });
    await expectFailed(/more than 100000 bytes/);
  });

  test('records with a missing title are rejected with the reason, the rest is loaded, and the run is partial', async () => {
    const posts = fixture.map((p) => (p.id === 5 || p.id === 9 ? { userId: p.userId, id: p.id, body: p.body } : p));
    serve(posts);
    const { body: run } = await postRun(t);
    expect(run).toMatchObject({ status: 'partial', extracted: 100, loaded: 98, rejected: 2 });
    expect(run.error).toContain('2 of 100 records rejected (first: title is missing)');
    const detail = (await t.json(`/etl/runs/${run.id}`)).body;
    expect(detail.rejected_records).toEqual([
      { position: 4, reason: 'title is missing', raw: JSON.stringify(posts[4]) },
      { position: 8, reason: 'title is missing', raw: JSON.stringify(posts[8]) },
    ]);
    expect((await t.json('/posts/5')).body.title).toBe(fixture[4]!.title);
    expect((await t.json('/stats')).body.runs_by_status.partial).toBeGreaterThanOrEqual(1);
  });

  test('string ids are converted to integers, and ids that are not numbers are rejected', async () => {
    serve(fixture.map((p) => (p.id === 7 ? { ...p, id: '7', userId: '1' } : p.id === 8 ? { ...p, id: 'eight' } : p)));
    const { body: run } = await postRun(t);
    expect(run).toMatchObject({ status: 'partial', loaded: 99, rejected: 1 });
    const detail = (await t.json(`/etl/runs/${run.id}`)).body;
    expect(detail.rejected_records[0]).toMatchObject({ position: 7, reason: 'id must be a positive integer, or a string of digits; got "eight"' });
    expect((await t.json('/posts/7')).body).toMatchObject({ id: 7, user_id: 1 });
  });

  test('a record whose body field is oversized is rejected, not loaded cut short', async () => {
    serve(fixture.map((p) => (p.id === 3 ? { ...p, body: 'x'.repeat(50_001) } : p)));
    const { body: run } = await postRun(t);
    expect(run).toMatchObject({ status: 'partial', rejected: 1 });
    expect(run.error).toContain('body must be a string of at most 50000 characters; got a string of 50001 characters');
    expect((await t.json('/posts/3')).body.body).toBe(fixture[2]!.body.replaceAll('\n', ' '));
  });

  test('a source whose every record is invalid fails the run instead of loading nothing quietly', async () => {
    serve(fixture.slice(0, 3).map(({ title: _, ...rest }) => rest));
    const run = await expectFailed(/all 3 records were rejected \(first: title is missing\)/);
    expect((await t.json(`/etl/runs/${run.id}`)).body.rejected_records).toHaveLength(3);
  });

  test('a failure part-way through the load rolls it back: the old posts stay and the run is failed', async () => {
    const db = t.ctx.stores.sqlite.db;
    db.run("CREATE TRIGGER fail_mid_load BEFORE UPDATE ON posts WHEN NEW.id = 50 BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END");
    try {
      serve(fixture.map((p) => ({ ...p, title: `changed ${p.id}` })));
      await expectFailed(/simulated disk failure/);
    } finally {
      db.run('DROP TRIGGER fail_mid_load');
    }
  });

  test('a second run while one is running is refused with 409 and the running run id', async () => {
    const gate = new Promise<void>((r) => (release = r));
    fx.override(PATH, async () => {
      await gate;
      return json(fixture);
    });
    const first = postRun(t);
    const running = await waitFor(async () => (await t.json('/etl/runs?limit=1')).body.items.find((r: { status: string }) => r.status === 'running'), { what: 'a running run' });
    const second = await postRun(t);
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({ code: 'etl_running', run_id: running.id, message: expect.stringContaining(`ETL run ${running.id}`) });
    expect((await t.json('/stats')).body.runs_by_status.running).toBe(1);
    release();
    expect((await first).body).toMatchObject({ id: running.id, status: 'succeeded' });
  });

  test('shutting down in the middle of a run records it as interrupted', async () => {
    const app = await testApp({ ETL_SOURCE_URL: url, ETL_TIMEOUT_MS: '5000' });
    const gate = new Promise<void>((r) => (release = r));
    fx.override(PATH, async () => {
      await gate;
      return json(fixture);
    });
    const before = hits();
    const { body: run } = await postRun(app, '?wait=false');
    await waitFor(() => hits() > before, { what: 'the source request' });
    await app.ctx.close();
    const { Database } = await import('bun:sqlite');
    const reopened = new Database(`${app.dir}/sillage.db`, { readonly: true });
    try {
      expect(reopened.query('SELECT status, error FROM etl_runs WHERE id = ?').get(run.id)).toEqual({ status: 'failed', error: 'interrupted: the process is shutting down' });
    } finally {
      reopened.close();
      await app.close();
    }
  });
});

describe('ETL with the source down', () => {
  test('connection refused fails the run with a message naming the fix, and the loaded posts stay', async () => {
    const fx = startFixtureServer();
    const t = await testApp({ ETL_SOURCE_URL: fx.url + PATH, ETL_RETRIES: '1', ETL_RETRY_BASE_DELAY_MS: '5' });
    try {
      expect((await postRun(t)).body.status).toBe('succeeded');
      fx.stop();
      const { body: run } = await postRun(t);
      expect(run).toMatchObject({ status: 'failed', loaded: 0 });
      expect(run.error).toMatch(/could not be reached .*set ETL_SOURCE_URL to a source that is reachable.*Gave up after 2 attempts/);
      expect((await t.json('/posts')).body.total).toBe(100);
      expect((await t.json('/etl/runs')).body.items.map((r: { status: string }) => r.status)).toEqual(['failed', 'succeeded']);
      expect((await t.json('/etl/preview?n=3')).status).toBe(503);
    } finally {
      await t.close();
    }
  });
});

describe('ETL pagination', () => {
  const posts = Array.from({ length: 95 }, (_, i) => ({ userId: (i % 7) + 1, id: i + 1, title: `post ${i + 1}`, body: `body of post ${i + 1}` }));
  const fx = startFixtureServer();
  const apps: TestApp[] = [];
  afterAll(async () => {
    for (const a of apps) await a.close();
    fx.stop();
  });
  const app = async (env: Record<string, string>) => {
    const a = await testApp(env);
    apps.push(a);
    return a;
  };
  /** json-server's behaviour: `_page`/`_limit` honoured, `X-Total-Count`, and a Link header with `next` when there is one. */
  function paginated(options: { link?: boolean; totalCount?: boolean } = {}) {
    return (req: Request) => {
      const u = new URL(req.url);
      const limit = Number(u.searchParams.get('_limit') ?? 0);
      if (!limit) return json(posts);
      const page = Number(u.searchParams.get('_page') ?? 1);
      const headers: Record<string, string> = {};
      if (options.totalCount) headers['x-total-count'] = String(posts.length);
      const pages = Math.ceil(posts.length / limit);
      if (options.link && page < pages) headers.link = `<${u.pathname}?_page=${page + 1}&_limit=${limit}>; rel="next", <${u.pathname}?_page=${pages}&_limit=${limit}>; rel="last"`;
      return json(posts.slice((page - 1) * limit, page * limit), { headers });
    };
  }

  test('a source with Link headers is read page by page, following rel="next"', async () => {
    fx.override('/link/posts', paginated({ link: true }));
    const t = await app({ ETL_SOURCE_URL: `${fx.url}/link/posts`, ETL_PAGE_SIZE: '20' });
    const { body } = await postRun(t);
    expect(body).toMatchObject({ status: 'succeeded', extracted: 95, loaded: 95 });
    expect(fx.hits.get('/link/posts')).toBe(5);
    expect((await t.json('/posts?limit=1&offset=94')).body.items[0].title).toBe('post 95');
  });

  test('a source with only X-Total-Count is read page by page with _page and _limit', async () => {
    fx.override('/counted/posts', paginated({ totalCount: true }));
    const t = await app({ ETL_SOURCE_URL: `${fx.url}/counted/posts`, ETL_PAGE_SIZE: '30' });
    expect((await postRun(t)).body).toMatchObject({ status: 'succeeded', loaded: 95 });
    expect(fx.hits.get('/counted/posts')).toBe(4);
  });

  test('a source that ignores _page/_limit (a static file) is read in one response', async () => {
    const t = await app({ ETL_SOURCE_URL: fx.url + PATH, ETL_PAGE_SIZE: '10' });
    const before = fx.hits.get(PATH) ?? 0;
    expect((await postRun(t)).body).toMatchObject({ status: 'succeeded', loaded: 100 });
    expect((fx.hits.get(PATH) ?? 0) - before).toBe(1);
  });

  test('ETL_PAGE_SIZE=0 asks for everything in one request', async () => {
    fx.override('/whole/posts', paginated({ link: true }));
    const t = await app({ ETL_SOURCE_URL: `${fx.url}/whole/posts`, ETL_PAGE_SIZE: '0' });
    expect((await postRun(t)).body).toMatchObject({ status: 'succeeded', loaded: 95 });
    expect(fx.hits.get('/whole/posts')).toBe(1);
  });

  test('a record repeated on two pages is rejected once as a duplicate, not loaded twice', async () => {
    fx.override('/overlap/posts', (req) => {
      const page = Number(new URL(req.url).searchParams.get('_page'));
      const headers = page === 1 ? { link: '</overlap/posts?_page=2&_limit=3>; rel="next"' } : undefined;
      return json(page === 1 ? posts.slice(0, 3) : posts.slice(2, 5), { headers });
    });
    const t = await app({ ETL_SOURCE_URL: `${fx.url}/overlap/posts`, ETL_PAGE_SIZE: '3' });
    const { body } = await postRun(t);
    expect(body).toMatchObject({ status: 'partial', extracted: 6, loaded: 5, rejected: 1 });
    expect((await t.json(`/etl/runs/${body.id}`)).body.rejected_records[0]).toMatchObject({ position: 3, reason: expect.stringContaining('id 3 appears again') });
  });

  test('Link headers that loop back to a page already read fail the run instead of reading for ever', async () => {
    fx.override('/loop/posts', () => json(posts.slice(0, 2), { headers: { link: '</loop/posts?_page=1&_limit=2>; rel="next"' } }));
    const t = await app({ ETL_SOURCE_URL: `${fx.url}/loop/posts`, ETL_PAGE_SIZE: '2' });
    const { body } = await postRun(t);
    expect(body).toMatchObject({ status: 'failed', loaded: 0 });
    expect(body.error).toContain('loop back');
  });

  test('a next page on another host is not followed', async () => {
    fx.override('/away/posts', () => json(posts.slice(0, 2), { headers: { link: '<http://127.0.0.2:1/posts?_page=2>; rel="next"' } }));
    const t = await app({ ETL_SOURCE_URL: `${fx.url}/away/posts`, ETL_PAGE_SIZE: '2' });
    const { body } = await postRun(t);
    expect(body).toMatchObject({ status: 'failed' });
    expect(body.error).toContain('on another host');
  });

  test('preview reads only as far as it needs to', async () => {
    fx.override('/preview/posts', paginated({ link: true }));
    const t = await app({ ETL_SOURCE_URL: `${fx.url}/preview/posts`, ETL_PAGE_SIZE: '20' });
    const { body } = await t.json('/etl/preview?n=5');
    expect(body.items.map((p: { id: number }) => p.id)).toEqual([1, 2, 3, 4, 5]);
    expect(body.total).toBe(5);
  });
});

describe('ETL rate limits', () => {
  test('POST /etl/run counts against the mutation limit and answers 429 with Retry-After beyond it', async () => {
    const fx = startFixtureServer();
    const t = await testApp({ ETL_SOURCE_URL: fx.url + PATH, RATE_LIMIT_MUTATIONS_PER_MINUTE: '1' });
    try {
      expect((await postRun(t)).status).toBe(200);
      const res = await t.request('/etl/run', { method: 'POST' });
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((await res.json()).error.code).toBe('rate_limited');
      expect((await t.json('/etl/runs')).body.total).toBe(1);
    } finally {
      await t.close();
      fx.stop();
    }
  });
});

describe('ETL with API_KEY set', () => {
  const fx = startFixtureServer();
  let t: TestApp;
  const key = 'a-very-long-test-api-key';
  beforeAll(async () => (t = await testApp({ ETL_SOURCE_URL: fx.url + PATH, API_KEY: key })));
  afterAll(async () => {
    await t.close();
    fx.stop();
  });

  test('POST /etl/run without the key is refused with 401, with a wrong key 403, and starts nothing', async () => {
    expect((await postRun(t)).status).toBe(401);
    expect((await t.json('/etl/run', { method: 'POST', headers: { authorization: 'Bearer wrong-key-wrong-key' } })).status).toBe(403);
    expect((await t.json('/etl/runs')).body.total).toBe(0);
  });

  test('POST /etl/run with the key runs, and reads stay open', async () => {
    const { status, body } = await t.json('/etl/run', { method: 'POST', headers: { authorization: `Bearer ${key}` } });
    expect(status).toBe(200);
    expect(body.status).toBe('succeeded');
    expect((await t.json('/posts')).status).toBe(200);
  });
});
