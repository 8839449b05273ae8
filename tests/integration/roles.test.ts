import { afterAll, describe, expect, test } from 'bun:test';
import { freePort } from '../../bench/lib.ts';
import { startGdeltMirror } from '../helpers/gdelt.ts';
import { ROOT, startFixtureServer, tempDir, waitFor } from '../helpers/index.ts';

// The server as deployed: `bun src/main.ts` in its own process, with the ROLE of a Kubernetes pod. No Postgres,
// Kafka or Redis: these roles must work with the embedded stores alone.
const mirror = startGdeltMirror();
// The ETL source answers only when the test lets it, so a request can be held in flight across a SIGTERM.
let releaseSource = () => {};
const source = startFixtureServer({
  routes: {
    '/posts': () =>
      new Promise<Response>((answer) => {
        releaseSource = () => answer(Response.json([{ userId: 1, id: 1, title: 'held', body: 'answered after SIGTERM' }]));
      }),
  },
});
afterAll(() => {
  mirror.stop();
  source.stop();
});

async function startMain(role: string, dataDir: string) {
  const port = await freePort();
  const proc = Bun.spawn(['bun', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...Bun.env,
      ROLE: role,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      STREAMS_DIR: `${dataDir}/streams`,
      GDELT_BASE_URL: mirror.url,
      ETL_SOURCE_URL: `${source.url}/posts`,
      ETL_PAGE_SIZE: '0',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      LAKE_URL: '',
      DATABASE_URL: '',
      REDIS_URL: '',
      KAFKA_BOOTSTRAP_SERVERS: '',
    },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  // Log lines are collected as they come, so the test can wait for one (the start of the shutdown).
  const lines: string[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    let rest = '';
    for await (const chunk of proc.stdout) {
      const text = rest + decoder.decode(chunk, { stream: true });
      const parts = text.split('\n');
      rest = parts.pop()!;
      lines.push(...parts);
    }
  })();
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${base}/health`)).ok, { timeoutMs: 30_000, what: `the ROLE=${role} server to answer /health` });
  const logged = (msg: string) => lines.some((l) => l.includes(`"msg":${JSON.stringify(msg)}`));
  return { proc, base, logged };
}

describe('the server process in its deployed roles', () => {
  test('ROLE=api,ingest serves the API, picks up a triggered ingestion itself, and on SIGTERM finishes the request in flight and exits 0', async () => {
    using dir = tempDir('sillage-role-api-ingest-');
    const server = await startMain('api,ingest', dir.path);
    try {
      const trigger = await fetch(`${server.base}/api/v1/ingest/trigger?n_batches=1`, { method: 'POST' });
      expect(trigger.status).toBe(202);
      const { job_id } = await trigger.json();
      // Picked up by this process's ingestion worker: before the fix the API pod ran none, and jobs stayed queued.
      const job = await waitFor(
        async () => {
          const j = await (await fetch(`${server.base}/api/v1/ingest/jobs/${job_id}`)).json();
          return j.state !== 'queued' ? j : undefined;
        },
        { what: 'the triggered ingestion to leave the queue' },
      );
      expect(['running', 'succeeded']).toContain(job.state);

      const inFlight = fetch(`${server.base}/etl/preview?n=1`);
      await waitFor(() => source.hits.get('/posts'), { what: 'the preview to reach the ETL source' });
      server.proc.kill('SIGTERM');
      await waitFor(() => server.logged('shutting down'), { what: 'the server to begin its shutdown' });
      releaseSource();
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect((await res.json()).items.map((p: { title: string }) => p.title)).toEqual(['held']);
      expect(await server.proc.exited).toBe(0);
      expect(server.logged('stopped')).toBe(true);
    } finally {
      server.proc.kill('SIGKILL');
      await server.proc.exited;
    }
  });

  test('ROLE=ingest starts its ingestion worker at once, answers /health, and exits 0 on SIGTERM', async () => {
    using dir = tempDir('sillage-role-ingest-');
    const server = await startMain('ingest', dir.path);
    try {
      const health = await waitFor(
        async () => {
          const body = await (await fetch(`${server.base}/health`)).json();
          return body.workers?.['gdelt-ingest'] ? body : undefined;
        },
        { what: 'the ingestion worker to show in /health' },
      );
      expect(health.status).toBe('ok');
      server.proc.kill('SIGTERM');
      expect(await server.proc.exited).toBe(0);
    } finally {
      server.proc.kill('SIGKILL');
      await server.proc.exited;
    }
  });
});
