import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { dropReplication } from '../../src/features/engagement/cdc.ts';
import { dlqTopicFor } from '../../src/platform/stream/dlq.ts';
import { startFixtureServer } from '../../tests/helpers/fixtures.ts';
import { deleteKeys } from '../../tests/helpers/redis.ts';
import { startRestReceiver } from '../../tests/helpers/rest-receiver.ts';
import { sinkCounts } from '../../tests/faults/verify.ts';
import { buildIngestInput } from '../gdelt/index.ts';
import { fmt, freePort, waitUp, wrk, type BenchModule, type BenchResult } from '../lib.ts';

const ROOT = join(import.meta.dir, '../..');
const SLOT_MS = 15 * 60_000;

/**
 * Load and soak: mixed read traffic at a fixed rate (search, stats, top-content; one wrk process per route so
 * each has its own percentiles) against the full service while the engagement pipeline streams 1,000 ev/s from
 * Postgres through Kafka to Redis, the warehouse and a REST endpoint, and a GDELT ingest job starts every
 * minute. Reports p50/p99 and errors per route, RSS over time, and at the end the fault suite's exactly-once
 * check: every event in the source table has exactly one effect in each sink.
 */

// wrk keeps each connection waiting `delay()` ms between requests: connections × 1000 / delay ≈ requests/s.
const routes = [
  { name: 'search', path: '/api/v1/events/search?query=protest&limit=50', connections: 4, delayMs: 40 },
  { name: 'stats', path: '/api/v1/events/stats?group_by=root_code', connections: 2, delayMs: 100 },
  { name: 'top-content', path: '/top-content?limit=10', connections: 4, delayMs: 40 },
];

async function rssMb(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text().catch(() => '');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

const bench: BenchModule = {
  name: 'load',
  description: 'mixed search/stats/top-content traffic at a fixed rate while the pipeline streams 1,000 ev/s and ingests run; latency, errors, RSS, exactly-once check',
  async run({ quick, log }) {
    const env = Bun.env;
    if (!env.DATABASE_URL || !env.KAFKA_BOOTSTRAP_SERVERS || !env.REDIS_URL)
      throw new Error('bench load needs the real services: run scripts/services.sh up and source .cache/services.env');
    if (!Bun.which('wrk')) throw new Error('wrk is not installed (apt-get install -y wrk)');
    const durationS = Number(env.LOAD_DURATION_S ?? (quick ? 60 : 600));
    const rate = 1000;
    const id = `load_${Date.now().toString(36)}`;
    const dir = mkdtempSync(join(tmpdir(), 'sillage-bench-load-'));
    const brokers = env.KAFKA_BOOTSTRAP_SERVERS.split(',');
    const topics = { events: `${id}-events`, content: `${id}-content` };
    const sql = postgres(env.DATABASE_URL, { max: 2, onnotice: () => {} });
    const redis = new Redis(env.REDIS_URL);
    const receiver = await startRestReceiver();

    // GDELT batches to ingest during the run: one group of batches per minute.
    const minutes = Math.max(1, Math.ceil(durationS / 60));
    const perMinute = 2;
    const startMs = Date.UTC(2026, 0, 1);
    const input = buildIngestInput(join(dir, 'gdelt'), minutes * perMinute, quick ? 10_000 : 25_000, startMs);
    const mirror = startFixtureServer({ root: input.zipDir });

    const port = await freePort();
    const app = Bun.spawn(['bun', 'src/main.ts'], {
      cwd: ROOT,
      env: {
        ...env,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: join(dir, 'data'),
        LOG_LEVEL: 'warn',
        LOG_FORMAT: 'json',
        DATABASE_SCHEMA: id,
        WAREHOUSE_SCHEMA: `${id}_wh`,
        REDIS_KEY_PREFIX: `${id}:`,
        KAFKA_TOPIC_ENGAGEMENT_EVENTS: topics.events,
        KAFKA_TOPIC_CONTENT: topics.content,
        KAFKA_CONSUMER_GROUP: id,
        ENGAGEMENT_PIPELINE: 'auto',
        EXTERNAL_SINK_URL: receiver.url,
        GDELT_BASE_URL: mirror.url,
        STREAMS_DIR: join(dir, 'no-streams'),
        RATE_LIMIT_SEARCH_PER_MINUTE: '1000000',
        RATE_LIMIT_MUTATIONS_PER_MINUTE: '1000000',
      },
      stdout: Bun.file(join(dir, 'app.log')),
      stderr: Bun.file(join(dir, 'app.log')),
    });
    const base = `http://127.0.0.1:${port}`;
    let generator: ReturnType<typeof Bun.spawn> | undefined;
    try {
      await waitUp(`${base}/health`, 60_000);
      for (let i = 0; i < 120; i++) {
        const h = (await (await fetch(`${base}/health`)).json()) as { components: Record<string, string> };
        if (h.components.engagement === 'ok') break;
        await Bun.sleep(500);
      }
      log(`service up on ${base}; generating ${rate} ev/s and ${routes.length} wrk streams for ${durationS} s`);

      generator = Bun.spawn(['bun', 'src/cli/generate.ts', 'continuous', '--rate', String(rate), '--duration', String(durationS), '--seed', '7'], {
        cwd: ROOT,
        env: { ...env, DATABASE_SCHEMA: id, LOG_LEVEL: 'warn' },
        stdout: Bun.file(join(dir, 'generate.log')),
        stderr: Bun.file(join(dir, 'generate.log')),
      });

      const script = join(dir, 'delay.lua');
      writeFileSync(script, 'local d = tonumber(os.getenv("WRK_DELAY_MS"))\nfunction delay() return d end\n');
      const loads = routes.map((r) => {
        const proc = Bun.spawn(['wrk', '-t1', `-c${r.connections}`, `-d${durationS}s`, '--timeout', '10s', '--latency', '-s', script, `${base}${r.path}`], {
          env: { ...env, WRK_DELAY_MS: String(r.delayMs) },
          stdout: 'pipe',
          stderr: 'pipe',
        });
        return { route: r, proc, out: new Response(proc.stdout).text() };
      });

      const rss: number[] = [];
      const jobs: number[] = [];
      const started = Date.now();
      let group = 0;
      while (Date.now() - started < durationS * 1000) {
        const elapsed = Date.now() - started;
        if (elapsed >= group * 60_000 && group < minutes) {
          const from = new Date(startMs + group * perMinute * SLOT_MS).toISOString().replace(/[-:T]/g, "").slice(0, 14);
          const to = new Date(startMs + ((group + 1) * perMinute - 1) * SLOT_MS).toISOString().replace(/[-:T]/g, "").slice(0, 14);
          const queued = await fetch(`${base}/api/v1/ingest/backfill?from=${from}&to=${to}`, { method: 'POST' });
          if (queued.status !== 202) throw new Error(`backfill ${from}..${to} was refused: ${queued.status} ${await queued.text()}`);
          jobs.push(((await queued.json()) as { job_id: number }).job_id);
          group++;
        }
        rss.push(await rssMb(app.pid));
        await Bun.sleep(5000);
      }

      const results: BenchResult[] = [];
      for (const l of loads) {
        await l.proc.exited;
        const text = await l.out;
        const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
        const toMs = (v: string, u: string) => Number(v) * (u === 'us' ? 0.001 : u === 's' ? 1000 : 1);
        const pct = (p: string) => {
          const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(text);
          return m ? toMs(m[1]!, m[2]!) : NaN;
        };
        const total = Number(/(\d+) requests in/.exec(text)?.[1] ?? 0);
        const bad = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
        const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
        const errors = bad + (socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
        results.push({ name: `${l.route.name} p50`, value: pct('50'), unit: 'ms', higherIsBetter: false, notes: `${fmt(rps)} req/s` });
        results.push({ name: `${l.route.name} p99`, value: pct('99'), unit: 'ms', higherIsBetter: false, target: 'error rate 0' });
        results.push({ name: `${l.route.name} errors`, value: total ? errors / total : NaN, unit: 'ratio', target: '0', notes: `${errors} of ${total}` });
      }
      const first = rss.slice(0, Math.max(1, Math.floor(rss.length / 5)));
      const last = rss.slice(-Math.max(1, Math.floor(rss.length / 5)));
      const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      results.push({ name: 'service RSS, max', value: Math.max(...rss), unit: 'MB', target: '< 400 MB, flat', notes: `first fifth avg ${fmt(avg(first))} MB, last fifth avg ${fmt(avg(last))} MB; samples every 5 s: ${rss.map((x) => Math.round(x)).join(' ')}` });

      // The ingests really ran beside the traffic: every job finished and wrote rows.
      const jobStates = () => Promise.all(jobs.map(async (id) => (await (await fetch(`${base}/api/v1/ingest/jobs/${id}`)).json()) as { state: string; rows: number }));
      let states = await jobStates();
      for (let i = 0; i < 60 && states.some((j) => j.state === 'queued' || j.state === 'running'); i++) {
        await Bun.sleep(2000);
        states = await jobStates();
      }
      const ok = states.filter((j) => j.state === 'succeeded');
      results.push({ name: 'ingest jobs during the load', value: ok.length, unit: 'jobs', target: `${jobs.length} succeeded`, notes: `states: ${states.map((j) => j.state).join(' ')}; ${ok.reduce((a, j) => a + j.rows, 0)} rows` });

      await generator.exited;
      log('traffic done; waiting for the pipeline to drain, then checking every sink against the source table');
      const expectation = { sql, schema: id, warehouseSchema: `${id}_wh`, redis, prefix: `${id}:`, receiver, restPoison: () => false };
      let check = await sinkCounts(expectation);
      for (let i = 0; i < 60 && check.counts.some((c) => c.lost > 0); i++) {
        await Bun.sleep(2000);
        check = await sinkCounts(expectation);
      }
      for (const c of check.counts)
        results.push({ name: `events ${c.sink}: lost / duplicated`, value: c.lost + c.duplicated + c.unexpected, unit: 'events', target: '0', notes: `${c.present} of ${c.expected} present, ${c.lost} lost, ${c.duplicated} duplicated, ${c.unexpected} unexpected` });
      results.push({ name: 'events generated', value: check.source.total, unit: 'events', notes: `Redis total ${check.redisTotal}, warehouse total ${check.warehouseTotal}` });
      return results;
    } finally {
      generator?.kill();
      app.kill('SIGTERM');
      await app.exited;
      mirror.stop();
      await receiver.close();
      const names = { schema: id, slot: `sillage_${id}`, publication: `sillage_${id}` };
      await dropReplication(sql, names).catch(() => {});
      await sql.unsafe(`DROP SCHEMA IF EXISTS "${id}" CASCADE; DROP SCHEMA IF EXISTS "${id}_wh" CASCADE`).catch(() => {});
      const admin = new Kafka({ clientId: 'bench-load', brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect().catch(() => {});
      await admin.deleteTopics({ topics: [topics.events, topics.content, dlqTopicFor(topics.events)] }).catch(() => {});
      await admin.disconnect().catch(() => {});
      await deleteKeys(redis, `${id}:`);
      redis.disconnect();
      await sql.end();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default bench;
