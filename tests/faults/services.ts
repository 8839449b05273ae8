import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import postgres from 'postgres';
import Redis from 'ioredis';
import { ROOT } from '../../src/platform/context.ts';

/**
 * Private Postgres, Redis and Kafka instances for the fault suite, on free ports under a temporary directory:
 * the suite kills and restarts them, which it must never do to the shared services other people use. Every
 * helper is idempotent (start on a running instance, stop on a stopped one do nothing) and `destroy` removes
 * the directory. Only what the machine has is used: Postgres's initdb/pg_ctl, redis-server, and the Kafka
 * jars `scripts/services.sh up` fetched into .cache/kafka/lib (or SILLAGE_KAFKA_LIB).
 */

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs: number, onTimeout?: () => string) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs} ms${onTimeout ? `: ${onTimeout()}` : ''}`);
    await Bun.sleep(200);
  }
}

const isRoot = () => process.getuid?.() === 0;
/** A process killed by a signal has no exit code, only a signal code. */
const alive = (p: ReturnType<typeof Bun.spawn> | undefined) => !!p && p.exitCode === null && p.signalCode === null;

function postgresBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : undefined;
}

function kafkaLib(): string | undefined {
  for (const dir of [Bun.env.SILLAGE_KAFKA_LIB, join(ROOT, '.cache/kafka/lib')]) if (dir && existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.jar'))) return dir;
  return undefined;
}

/** Why the fault suite cannot run here, or undefined when it can. */
export function faultSuiteSkipReason(): string | undefined {
  const missing: string[] = [];
  if (!postgresBin()) missing.push('Postgres server binaries (/usr/lib/postgresql/<version>/bin/initdb)');
  if (!Bun.which('redis-server')) missing.push('redis-server');
  if (!Bun.which('java')) missing.push('java');
  if (!kafkaLib()) missing.push('the Kafka jars (run scripts/services.sh up, or set SILLAGE_KAFKA_LIB)');
  if (isRoot() && !Bun.which('runuser')) missing.push('runuser (initdb refuses to run as root)');
  if (!missing.length) return undefined;
  const reason = `the fault suite needs ${missing.join(', ')}`;
  // In CI every suite must run: what is missing fails it instead of skipping it.
  if (Bun.env.SILLAGE_CI) {
    console.error(`CI requires ${reason}`);
    return undefined;
  }
  return reason;
}

export class PrivatePostgres {
  readonly dir: string;
  readonly port: number;
  private bin = postgresBin()!;
  constructor(root: string, port: number) {
    this.dir = join(root, 'pg');
    this.port = port;
  }

  get url() {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** initdb runs as the postgres user when we are root. */
  private run(args: string[]) {
    const cmd = isRoot() ? ['runuser', '-u', 'postgres', '--', ...args] : args;
    const r = Bun.spawnSync(cmd, { stdout: 'pipe', stderr: 'pipe' });
    if (r.exitCode !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr.toString()}${r.stdout.toString()}`);
  }

  async start() {
    if (!existsSync(join(this.dir, 'PG_VERSION'))) {
      mkdirSync(this.dir, { recursive: true });
      if (isRoot()) chownSync(this.dir, Number(Bun.spawnSync(['id', '-u', 'postgres']).stdout.toString()), Number(Bun.spawnSync(['id', '-g', 'postgres']).stdout.toString()));
      this.run([join(this.bin, 'initdb'), '-D', this.dir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
      writeFileSync(
        join(this.dir, 'postgresql.auto.conf'),
        [
          `port = ${this.port}`,
          `listen_addresses = '127.0.0.1'`,
          `unix_socket_directories = ''`,
          'wal_level = logical',
          'max_replication_slots = 4',
          'max_wal_senders = 4',
          // A process crash (what the suite injects) loses nothing without fsync; only an OS crash would.
          'fsync = off',
          'full_page_writes = off',
          'shared_buffers = 64MB',
          'max_connections = 60',
        ].join('\n'),
      );
      if (isRoot()) Bun.spawnSync(['chown', 'postgres:postgres', join(this.dir, 'postgresql.auto.conf')]);
    }
    if (await this.ready()) return;
    this.run([join(this.bin, 'pg_ctl'), '-D', this.dir, '-l', join(this.dir, 'server.log'), '-w', '-t', '60', 'start']);
    await until('private Postgres', () => this.ready(), 30_000);
  }

  async ready() {
    const sql = postgres(this.url, { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      await sql`SELECT 1`;
      return true;
    } catch {
      return false;
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
  }

  /** `pg_ctl restart -m immediate`: every backend is killed without a checkpoint; recovery replays WAL. */
  async restartImmediate() {
    this.run([join(this.bin, 'pg_ctl'), '-D', this.dir, '-l', join(this.dir, 'server.log'), '-m', 'immediate', '-w', '-t', '60', 'restart']);
    await until('private Postgres after an immediate restart', () => this.ready(), 60_000);
  }

  async stop() {
    if (!existsSync(join(this.dir, 'postmaster.pid'))) return;
    try {
      this.run([join(this.bin, 'pg_ctl'), '-D', this.dir, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already stopped
    }
  }
}

export class PrivateRedis {
  readonly port: number;
  private proc: ReturnType<typeof Bun.spawn> | undefined;
  constructor(port: number) {
    this.port = port;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** No persistence at all: a restart comes back empty, like the shared development Redis (appendonly no). */
  async start() {
    if (alive(this.proc)) return;
    this.proc = Bun.spawn(['redis-server', '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdout: 'ignore', stderr: 'ignore' });
    await until('private Redis', async () => {
      const r = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => {});
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } finally {
        r.disconnect();
      }
    }, 15_000);
  }

  /** kill -9 and start again: everything in memory is gone. */
  async restart() {
    await this.stop();
    await this.start();
  }

  async stop() {
    if (!alive(this.proc)) return;
    this.proc!.kill(9);
    await this.proc!.exited;
  }
}

export class PrivateKafka {
  readonly dir: string;
  readonly port: number;
  readonly controllerPort: number;
  private proc: ReturnType<typeof Bun.spawn> | undefined;
  private lib = kafkaLib()!;
  constructor(root: string, port: number, controllerPort: number) {
    this.dir = join(root, 'kafka');
    this.port = port;
    this.controllerPort = controllerPort;
  }

  get brokers() {
    return [`127.0.0.1:${this.port}`];
  }

  private java(args: string[], options: { log?: string } = {}) {
    return Bun.spawn(['java', ...args], { stdout: options.log ? Bun.file(options.log) : 'pipe', stderr: options.log ? Bun.file(options.log) : 'pipe' });
  }

  async start() {
    if (alive(this.proc)) return;
    const conf = join(this.dir, 'server.properties');
    if (!existsSync(conf)) {
      mkdirSync(join(this.dir, 'data'), { recursive: true });
      writeFileSync(join(this.dir, 'log4j.properties'), 'log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\nlog4j.appender.stdout.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\nlog4j.logger.kafka.server.KafkaServer=INFO\nlog4j.logger.kafka.server.BrokerServer=INFO\n');
      writeFileSync(
        conf,
        [
          'process.roles=broker,controller',
          'node.id=1',
          `controller.quorum.voters=1@127.0.0.1:${this.controllerPort}`,
          `listeners=PLAINTEXT://127.0.0.1:${this.port},CONTROLLER://127.0.0.1:${this.controllerPort}`,
          `advertised.listeners=PLAINTEXT://127.0.0.1:${this.port}`,
          'controller.listener.names=CONTROLLER',
          'inter.broker.listener.name=PLAINTEXT',
          'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
          `log.dirs=${join(this.dir, 'data')}`,
          'num.partitions=1',
          'offsets.topic.replication.factor=1',
          'offsets.topic.num.partitions=3',
          'transaction.state.log.replication.factor=1',
          'transaction.state.log.min.isr=1',
          'transaction.state.log.num.partitions=3',
          'auto.create.topics.enable=false',
          'group.initial.rebalance.delay.ms=0',
          'broker.heartbeat.interval.ms=1000',
          'broker.session.timeout.ms=4500',
        ].join('\n'),
      );
      const clusterId = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url').slice(0, 22);
      const format = this.java(['-Xmx256m', '-XX:TieredStopAtLevel=1', `-Dlog4j.configuration=file:${join(this.dir, 'log4j.properties')}`, '-cp', `${this.lib}/*`, 'kafka.tools.StorageTool', 'format', '--ignore-formatted', '-t', clusterId, '-c', conf]);
      if ((await format.exited) !== 0) throw new Error(`Kafka storage format failed: ${await new Response(format.stderr as ReadableStream).text()}`);
    }
    const log = join(this.dir, `server-${Date.now()}.log`);
    this.proc = this.java(['-Xms128m', '-Xmx384m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true', `-Dlog4j.configuration=file:${join(this.dir, 'log4j.properties')}`, '-cp', `${this.lib}/*`, 'kafka.Kafka', conf], { log });
    await until('private Kafka broker', () => this.ready(), 120_000, () => `see ${log}`);
  }

  async ready() {
    if (!alive(this.proc)) throw new Error('the broker exited');
    const admin = new Kafka({ clientId: 'faults-probe', brokers: this.brokers, logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 1000 }).admin();
    try {
      await admin.connect();
      await admin.listTopics();
      return true;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  /** A clean broker restart: SIGTERM (controlled shutdown), then start on the same data. */
  async restart() {
    await this.stop();
    await this.start();
  }

  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') {
    if (!alive(this.proc)) return;
    this.proc!.kill(signal);
    const killer = setTimeout(() => this.proc?.kill(9), 30_000);
    await this.proc!.exited;
    clearTimeout(killer);
  }
}

/** All three on free ports under one temporary directory. */
export async function startPrivateServices() {
  const root = mkdtempSync(join(tmpdir(), 'sillage-faults-'));
  if (isRoot()) Bun.spawnSync(['chmod', '755', root]);
  const pg = new PrivatePostgres(root, await freePort());
  const redis = new PrivateRedis(await freePort());
  const kafka = new PrivateKafka(root, await freePort(), await freePort());
  await Promise.all([pg.start(), redis.start(), kafka.start()]);
  return {
    root,
    pg,
    redis,
    kafka,
    /** Stops everything and removes the directory (kept, with the logs, when FAULTS_KEEP is set). */
    async destroy() {
      await Promise.allSettled([kafka.stop('SIGKILL'), redis.stop(), pg.stop()]);
      if (Bun.env.FAULTS_KEEP) console.log(`fault suite files kept in ${root}`);
      else rmSync(root, { recursive: true, force: true });
    },
  };
}
