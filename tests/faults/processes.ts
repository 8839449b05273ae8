import { join } from 'node:path';
import postgres from 'postgres';
import { ROOT } from '../../src/platform/context.ts';
import { buildWorld, eventDrafts, insertEvents, type GeneratedEvent } from '../../src/features/engagement/generator.ts';

/** A pipeline job (`bun run pipeline -- stream --jobs …`) as its own OS process, so it can be killed with -9. */
export class PipelineProcess {
  private proc: ReturnType<typeof Bun.spawn> | undefined;
  private starts = 0;
  constructor(
    readonly name: string,
    private o: { jobs: 'cdc' | 'processor' | 'cdc,processor'; env: Record<string, string>; logDir: string },
  ) {}

  get pid() {
    return this.proc?.pid;
  }

  get running() {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  start() {
    if (this.running) return;
    const log = Bun.file(join(this.o.logDir, `${this.name}-${++this.starts}.log`));
    this.proc = Bun.spawn(['bun', 'src/cli/pipeline.ts', 'stream', '--jobs', this.o.jobs], { cwd: ROOT, env: { ...Bun.env, ...this.o.env }, stdout: log, stderr: log });
  }

  /** No goodbye: no offsets committed, no group leave, no connection closed. */
  async kill9() {
    if (!this.proc) return;
    this.proc.kill(9);
    await this.proc.exited;
  }

  async stop() {
    if (!this.running) return;
    this.proc!.kill('SIGTERM');
    const killer = setTimeout(() => this.proc?.kill(9), 15_000);
    await this.proc!.exited;
    clearTimeout(killer);
  }
}

/**
 * Writes `total` realistic events into the source table in small transactions, a share of them poison:
 * `noContentEvery`-th event has no content (dead-lettered before the fan-out) and `restPoisonEvery`-th carries
 * device "poison" (the REST endpoint refuses it). A transaction that fails (Postgres restarting) is tried again;
 * the check compares sinks with what the table holds, so an ambiguous commit cannot skew it.
 */
export async function generate(o: {
  url: string;
  schema: string;
  total: number;
  chunk: number;
  intervalMs: number;
  seed: number;
  noContentEvery: number;
  restPoisonEvery: number;
  signal: AbortSignal;
  onProgress?: (written: number) => void;
}) {
  const sql = postgres(o.url, { max: 1, onnotice: () => {}, connect_timeout: 2, connection: { search_path: o.schema } });
  const world = buildWorld({ seed: o.seed, contents: 40, users: 1500 });
  const drafts = eventDrafts(world);
  let written = 0;
  let n = 0;
  try {
    for (;;) {
      try {
        await sql`INSERT INTO content ${sql(world.catalogue)} ON CONFLICT (id) DO NOTHING`;
        break;
      } catch {
        await Bun.sleep(500);
      }
    }
    while (written < o.total && !o.signal.aborted) {
      const events: GeneratedEvent[] = [];
      for (let i = 0; i < Math.min(o.chunk, o.total - written); i++) {
        const { offsetMs: _, ...d } = drafts.next().value!;
        n++;
        events.push({
          ...d,
          content_id: n % o.noContentEvery === 0 ? (null as unknown as string) : d.content_id,
          device: n % o.restPoisonEvery === 0 ? 'poison' : d.device,
          event_ts: new Date(),
        });
      }
      for (;;) {
        try {
          await insertEvents(sql, events);
          break;
        } catch {
          if (o.signal.aborted) return written;
          await Bun.sleep(300);
        }
      }
      written += events.length;
      o.onProgress?.(written);
      await Bun.sleep(o.intervalMs);
    }
    return written;
  } finally {
    await sql.end({ timeout: 2 }).catch(() => {});
  }
}
