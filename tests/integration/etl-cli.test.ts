import { Database } from 'bun:sqlite';
import { afterAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { ROOT, startFixtureServer, tempDir } from '../helpers/index.ts';

// `bun run etl` as a user runs it: a real process, its exit code, its stdout and stderr. Needs no services.
const PATH = '/jsonplaceholder/posts.json';

async function cli(env: Record<string, string>, ...args: string[]) {
  const proc = Bun.spawn(['bun', join(ROOT, 'src/cli/etl.ts'), ...args], {
    cwd: ROOT,
    env: { PATH: Bun.env.PATH ?? '', HOME: Bun.env.HOME ?? '', LOG_FORMAT: 'json', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

describe('bun run etl', () => {
  const fx = startFixtureServer();
  const dir = tempDir('sillage-etl-cli-');
  afterAll(() => {
    fx.stop();
    dir[Symbol.dispose]();
  });

  test('runs once, shows progress, prints a summary and exits 0', async () => {
    const { stdout, stderr, code } = await cli({ DATA_DIR: dir.path, ETL_SOURCE_URL: fx.url + PATH });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ETL run 1 succeeded in \d+\.\d\d s: extracted 100, loaded 100, rejected 0\. Source: http/);
    expect(stderr).toContain('loading 100 posts');
    const db = new Database(join(dir.path, 'sillage.db'), { readonly: true });
    expect(db.query('SELECT count(*) AS n FROM posts').get()).toEqual({ n: 100 });
    db.close();
  });

  test('--json prints the run record', async () => {
    const { stdout, code } = await cli({ DATA_DIR: dir.path, ETL_SOURCE_URL: fx.url + PATH }, '--json');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ id: 2, status: 'succeeded', loaded: 100 });
  });

  test('an unreachable source exits 1 with the reason and the variable to fix', async () => {
    const down = startFixtureServer();
    down.stop();
    const { stdout, code } = await cli({ DATA_DIR: dir.path, ETL_SOURCE_URL: `${down.url}/posts`, ETL_RETRIES: '0' });
    expect(code).toBe(1);
    expect(stdout).toContain('ETL run 3 failed');
    expect(stdout).toContain('could not be reached');
    expect(stdout).toContain('ETL_SOURCE_URL');
  });

  test('a bad configuration exits 2 naming the variable, its rule and an example', async () => {
    const { stderr, code } = await cli({ DATA_DIR: dir.path, ETL_SOURCE_URL: 'not a url', ETL_TIMEOUT_MS: 'soon' });
    expect(code).toBe(2);
    expect(stderr).toContain('ETL_SOURCE_URL must be an http(s) URL (got "not a url"). Example: ETL_SOURCE_URL=https://jsonplaceholder.typicode.com/posts');
    expect(stderr).toContain('ETL_TIMEOUT_MS must be an integer number of milliseconds');
    expect(stderr).toContain('run `bun run etl` again');
  });

  test('a run already in progress (in another process) makes it exit 3 without starting one', async () => {
    const db = new Database(join(dir.path, 'sillage.db'));
    const id = db.query<{ id: number }, [number]>("INSERT INTO etl_runs (started_at, status, source_url, lease_until) VALUES ('2026-11-23T00:00:00.000Z', 'running', 'x', ?) RETURNING id").get(Date.now() + 60_000)!.id;
    try {
      const { stderr, code } = await cli({ DATA_DIR: dir.path, ETL_SOURCE_URL: fx.url + PATH });
      expect(code).toBe(3);
      expect(stderr).toContain(`ETL run ${id} has been running since`);
    } finally {
      db.run("UPDATE etl_runs SET status = 'failed' WHERE id = ?", [id]);
      db.close();
    }
  });

  test('a run left running by a process that died is marked abandoned once its lease lapses, and the next run goes ahead', async () => {
    const db = new Database(join(dir.path, 'sillage.db'));
    const id = db.query<{ id: number }, [number]>("INSERT INTO etl_runs (started_at, status, source_url, lease_until) VALUES ('2026-11-23T00:00:00.000Z', 'running', 'x', ?) RETURNING id").get(Date.now() - 1)!.id;
    try {
      const { code } = await cli({ DATA_DIR: dir.path, ETL_SOURCE_URL: fx.url + PATH });
      expect(code).toBe(0);
      expect(db.query('SELECT status, error FROM etl_runs WHERE id = ?').get(id)).toEqual({ status: 'failed', error: expect.stringContaining('abandoned') });
    } finally {
      db.close();
    }
  });
});
