import { describe, expect, test } from 'bun:test';
import { ConfigError, loadConfig, roleRuns } from '../../src/platform/config.ts';

describe('configuration', () => {
  test('an empty environment gives the documented defaults', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(8000);
    expect(c.KAFKA_TOPIC_ENGAGEMENT_EVENTS).toBe('engagement-events');
    expect(c.REDIS_AGGREGATION_WINDOW_MINUTES).toBe(10);
    expect(c.BATCH_SIZE).toBe(100);
    expect(c.PROCESSING_INTERVAL_SECONDS).toBe(1);
    expect(c.ENABLE_EXACTLY_ONCE).toBe(true);
    expect(c.lakeUrl).toBe(`file://${c.dataDir}/lake`);
    expect(c.engagementEnabled).toBe(false);
    expect(c.API_KEY).toBeUndefined();
  });

  const bad: [string, string, RegExp][] = [
    ['PORT', 'abc', /PORT must be an integer from 1 to 65535 \(got "abc"\)\. Example: PORT=8000/],
    ['LAKE_URL', 'ftp://x', /LAKE_URL must be file:\/\/<path> or s3:\/\/<bucket>\[\/prefix\] \(got "ftp:\/\/x"\)\. Example: LAKE_URL=s3:\/\//],
    ['REDIS_AGGREGATION_WINDOW_MINUTES', '0', /REDIS_AGGREGATION_WINDOW_MINUTES must be an integer from 1 to 1440 \(got "0"\)\. Example: REDIS_AGGREGATION_WINDOW_MINUTES=10/],
    ['ENABLE_EXACTLY_ONCE', 'maybe', /ENABLE_EXACTLY_ONCE must be true or false/],
    ['KAFKA_BOOTSTRAP_SERVERS', 'localhost', /KAFKA_BOOTSTRAP_SERVERS must be comma-separated host:port pairs/],
    ['ETL_SOURCE_URL', 'file:///etc/passwd', /ETL_SOURCE_URL must be an http\(s\) URL/],
  ];
  for (const [name, value, message] of bad) {
    test(`${name}=${value} is refused with the variable, the rule and an example`, () => {
      expect(() => loadConfig({ [name]: value })).toThrow(message);
    });
  }

  test('every bad variable is reported in one message', () => {
    try {
      loadConfig({ PORT: 'abc', BATCH_SIZE: '-1' });
      throw new Error('expected a ConfigError');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).problems).toHaveLength(2);
    }
  });

  test('secrets are never echoed back in the error', () => {
    expect(() => loadConfig({ API_KEY: 'short' })).toThrow(/API_KEY must be at least 16 characters \(got \(hidden\)\)/);
  });

  test('the engagement pipeline is enabled only when Postgres, Kafka and Redis are all set', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://x@h/db', KAFKA_BOOTSTRAP_SERVERS: 'h:9092', REDIS_URL: 'redis://h:6379' });
    expect(c.engagementEnabled).toBe(true);
    expect(c.KAFKA_BOOTSTRAP_SERVERS).toEqual(['h:9092']);
  });

  test('ROLE takes all or a comma-separated list of parts, and runs only what it lists', () => {
    expect(loadConfig({}).ROLE).toEqual(['all']);
    expect(loadConfig({ ROLE: 'api,ingest' }).ROLE).toEqual(['api', 'ingest']);
    expect(loadConfig({ ROLE: ' Processor , processor' }).ROLE).toEqual(['processor']);
    expect(loadConfig({ ROLE: 'all,api' }).ROLE).toEqual(['all']);
    const runs = (role: string) => (['api', 'processor', 'ingest'] as const).filter((part) => roleRuns(loadConfig({ ROLE: role }).ROLE, part));
    expect(runs('all')).toEqual(['api', 'processor', 'ingest']);
    expect(runs('api,ingest')).toEqual(['api', 'ingest']);
    expect(runs('processor')).toEqual(['processor']);
  });

  test('ROLE with an unknown part is refused naming the part, the rule and an example', () => {
    expect(() => loadConfig({ ROLE: 'api,ingset' })).toThrow(
      'ROLE must be all, or a comma-separated list of api, processor, ingest (got "api,ingset": unknown part "ingset"). Example: ROLE=api,ingest',
    );
  });

  test('the server refuses to start on a bad value and exits non-zero naming it', async () => {
    const proc = Bun.spawn(['bun', 'src/main.ts'], { env: { ...Bun.env, PORT: 'abc', DATA_DIR: '/tmp/sillage-never' }, stdout: 'pipe', stderr: 'pipe', cwd: `${import.meta.dir}/../..` });
    const code = await proc.exited;
    const stderr = await new Response(proc.stderr).text();
    expect(code).not.toBe(0);
    expect(stderr).toContain('PORT must be an integer from 1 to 65535 (got "abc"). Example: PORT=8000');
  });
});
