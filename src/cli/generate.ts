import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cliConfig, fail } from './common.ts';
import { systemClock } from '../platform/clock.ts';
import { ROOT } from '../platform/context.ts';
import { AppError } from '../platform/errors.ts';
import { openPostgres } from '../platform/stores/postgres.ts';
import { buildWorld, copyEvents, ensureCatalogue, eventDrafts, insertEvents, progressReporter, spreadEvents, type GeneratedEvent } from '../features/engagement/generator.ts';

const usage = `Usage: bun run generate -- <mode> [options]

Writes realistic engagement events into Postgres (DATABASE_URL, DATABASE_SCHEMA); the CDC relay picks them up.

Modes:
  continuous --rate N           N events per second, timestamped now, until Ctrl-C or SIGTERM (or --duration S)
  batch --batch-size N          N events timestamped within the last minute, as fast as Postgres takes them
  historical --historical-days N   events spread over the past N days, loaded with COPY (--events-per-day M)

Options:
  --seed S            same seed, same catalogue, users and event sequence (default 42)
  --contents N        catalogue size (default 60)      --users N   user pool (default 2000)
  --event-types a,b   a uniform mix of these types instead of realistic sessions
  --duration S        stop continuous mode after S seconds
  --events-per-day M  historical volume (default 10000)

Progress: batch prints a line to stderr every second, continuous one to stdout every 5 s; final counts on stdout.`;


const { values, positionals } = (() => {
  try {
    return parseArgs({
      args: Bun.argv.slice(2),
      allowPositionals: true,
      options: {
        rate: { type: 'string' },
        'batch-size': { type: 'string' },
        'historical-days': { type: 'string' },
        'events-per-day': { type: 'string', default: '10000' },
        seed: { type: 'string', default: '42' },
        contents: { type: 'string', default: '60' },
        users: { type: 'string', default: '2000' },
        'event-types': { type: 'string' },
        duration: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return fail(`${(e as Error).message}\n\n${usage}`);
  }
})();

if (values.help) {
  console.log(usage);
  process.exit(0);
}

const positive = (name: string, raw: string | undefined, required = true): number => {
  if (raw === undefined) return required ? fail(`${usage}\n\n--${name} is required for this mode.`) : NaN;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) fail(`--${name} must be a positive number (got ${JSON.stringify(raw)}). Example: --${name} 100`);
  return n;
};

const mode = positionals[0];
if (!mode || !['continuous', 'batch', 'historical'].includes(mode)) fail(`${usage}\n\nUnknown or missing mode ${JSON.stringify(mode ?? '')}.`);

const config = cliConfig('generate');
if (!config.DATABASE_URL) fail('DATABASE_URL is not set; the generator writes into Postgres. Example: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres');

const seed = Math.floor(positive('seed', values.seed));
const eventTypes = values['event-types']?.split(',').map((s) => s.trim()).filter(Boolean);
const world = buildWorld({ seed, contents: Math.floor(positive('contents', values.contents)), users: Math.floor(positive('users', values.users)) });
const pg = openPostgres({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, migrationsDir: join(ROOT, 'db/postgres'), max: 4 });
const started = performance.now();
let inserted = 0;
const rate = () => Math.round(inserted / ((performance.now() - started) / 1000));

try {
  await pg.migrate();
  const added = await ensureCatalogue(pg.sql, world);
  console.log(`catalogue: ${world.catalogue.length} contents (${added} new) in schema ${config.DATABASE_SCHEMA}; ${world.users.length} users; seed ${seed}`);

  if (mode === 'batch') {
    const total = Math.floor(positive('batch-size', values['batch-size']));
    const now = Date.now();
    const events = spreadEvents(world, total, now - 60_000, now, { eventTypes });
    const progress = progressReporter({ label: 'batch', clock: systemClock, everyMs: 1000, write: (line) => console.error(line), total });
    for (let chunk: GeneratedEvent[] = []; inserted < total; chunk = []) {
      for (let i = 0; i < 1000 && inserted + chunk.length < total; i++) chunk.push(events.next().value as GeneratedEvent);
      await insertEvents(pg.sql, chunk);
      inserted += chunk.length;
      progress.tick(inserted);
    }
    console.log(`batch: inserted ${inserted} events in ${((performance.now() - started) / 1000).toFixed(2)} s (${rate()} ev/s)`);
  } else if (mode === 'historical') {
    const days = Math.floor(positive('historical-days', values['historical-days']));
    const perDay = Math.floor(positive('events-per-day', values['events-per-day']));
    const end = new Date();
    end.setUTCHours(0, 0, 0, 0);
    for (let d = days; d >= 1; d--) {
      const from = end.getTime() - d * 86_400_000;
      await copyEvents(pg.sql, spreadEvents(world, perDay, from, from + 86_400_000, { eventTypes }));
      inserted += perDay;
      console.log(`historical: ${new Date(from).toISOString().slice(0, 10)} ${perDay} events (${inserted}/${days * perDay}, ${rate()} ev/s)`);
    }
    console.log(`historical: inserted ${inserted} events over ${days} days in ${((performance.now() - started) / 1000).toFixed(2)} s`);
  } else {
    const perSecond = positive('rate', values.rate);
    const durationS = values.duration ? positive('duration', values.duration) : Infinity;
    const drafts = eventDrafts(world, { eventTypes });
    const stop = new AbortController();
    process.on('SIGINT', () => stop.abort());
    process.on('SIGTERM', () => stop.abort());
    const tickMs = 100;
    let owed = 0;
    const progress = progressReporter({ label: 'continuous', clock: systemClock, everyMs: 5000, write: (line) => console.log(line) });
    console.log(`continuous: ${perSecond} events/s${Number.isFinite(durationS) ? ` for ${durationS} s` : ' until Ctrl-C'}`);
    for (let tick = 0; !stop.signal.aborted && (performance.now() - started) / 1000 < durationS; tick++) {
      // Catch up on ticks that ran late, so the average rate holds under load.
      const due = Math.floor(((performance.now() - started) / 1000) * perSecond) - inserted;
      owed = Math.max(0, due);
      const now = new Date();
      const chunk = Array.from({ length: owed }, () => {
        const { offsetMs: _, ...d } = drafts.next().value!;
        return { ...d, event_ts: now };
      });
      await insertEvents(pg.sql, chunk);
      inserted += chunk.length;
      progress.tick(inserted);
      const next = started + (tick + 1) * tickMs;
      await Bun.sleep(Math.max(0, next - performance.now()));
    }
    console.log(`continuous: inserted ${inserted} events in ${((performance.now() - started) / 1000).toFixed(1)} s (${rate()} ev/s)`);
  }
} catch (error) {
  await pg.close();
  if (error instanceof AppError) fail(`generate ${mode}: ${error.message}`, 1);
  fail(`generate ${mode} failed after ${inserted} events: ${(error as Error).message}`, 1);
}
await pg.close();
