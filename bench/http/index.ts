import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitUp, wrk, type BenchModule } from '../lib.ts';

const ROOT = join(import.meta.dir, '../..');

const bench: BenchModule = {
  name: 'http',
  description: 'GET /health through the full app vs a bare Bun.serve returning the same JSON (wrk, 1 thread, 50 connections, loopback)',
  async run({ quick, log }) {
    if (!Bun.which('wrk')) throw new Error('wrk is not installed (apt-get install -y wrk)');
    const dir = mkdtempSync(join(tmpdir(), 'sillage-bench-http-'));
    const [port, barePort] = [await freePort(), await freePort()];
    const durationS = quick ? 3 : 5;
    const env = { ...Bun.env, HOST: '127.0.0.1', DATA_DIR: dir, LOG_FORMAT: 'json', LOG_LEVEL: 'info', DATABASE_URL: '', REDIS_URL: '', KAFKA_BOOTSTRAP_SERVERS: '' };
    const app = Bun.spawn(['bun', 'src/main.ts'], { cwd: ROOT, env: { ...env, PORT: String(port) }, stdout: 'ignore', stderr: 'inherit' });
    let bare: ReturnType<typeof Bun.spawn> | undefined;
    try {
      const appUrl = `http://127.0.0.1:${port}/health`;
      await waitUp(appUrl);
      writeFileSync(join(dir, 'body.json'), await (await fetch(appUrl)).text());
      bare = Bun.spawn(['bun', join(import.meta.dir, 'bare-server.ts')], { env: { ...env, PORT: String(barePort), BODY_FILE: join(dir, 'body.json') }, stdout: 'ignore' });
      const bareUrl = `http://127.0.0.1:${barePort}/health`;
      await waitUp(bareUrl);
      // Warm both (JIT), then alternate rounds so background noise on this 2-core machine hits both alike;
      // the figure is the median round.
      await wrk(appUrl, { durationS: 1 });
      await wrk(bareUrl, { durationS: 1 });
      const rounds = quick ? 2 : 3;
      const bs: NonNullable<Awaited<ReturnType<typeof wrk>>>[] = [];
      const as: typeof bs = [];
      for (let i = 0; i < rounds; i++) {
        log(`round ${i + 1}/${rounds}: bare Bun.serve then full app, ${durationS}s each`);
        bs.push((await wrk(bareUrl, { durationS }))!);
        as.push((await wrk(appUrl, { durationS }))!);
      }
      const median = (xs: typeof bs) => [...xs].sort((x, y) => x.rps - y.rps)[Math.floor(xs.length / 2)]!;
      const [a, b] = [median(as), median(bs)];
      log(`app rounds: ${as.map((x) => Math.round(x.rps)).join(', ')}; bare rounds: ${bs.map((x) => Math.round(x.rps)).join(', ')}`);
      return [
        { name: 'GET /health full app', value: a.rps, unit: 'req/s', reference: { name: 'bare Bun.serve', value: b.rps }, target: '≥ 0.85×', notes: `p50 ${a.p50Ms} ms, p99 ${a.p99Ms} ms, non-2xx ${as.reduce((n, x) => n + x.non2xx, 0)}` },
        { name: 'GET /health bare Bun.serve', value: b.rps, unit: 'req/s', notes: `p50 ${b.p50Ms} ms, p99 ${b.p99Ms} ms; issue reference ≈ 145k req/s` },
      ];
    } finally {
      app.kill();
      bare?.kill();
      await app.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default bench;
