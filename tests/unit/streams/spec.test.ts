import { describe, expect, test } from 'bun:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { durationMs, jobTimes, loadSpecFiles, SpecError, stateFingerprint, validateSpec } from '../../../src/features/streams/spec.ts';
import { ROOT, tempDir } from '../../helpers/index.ts';

const good = {
  name: 'requests_1m',
  source: { topic: 'requests', schema: { ts: 'timestamp', service: 'string', latency_ms: 'number', status: 'integer', region: { type: 'string', optional: true } } },
  time: { field: 'ts', watermark_delay: '2s', allowed_lateness: '1m' },
  filter: "service != 'health'",
  key: ['service'],
  window: { type: 'tumbling', size: '1m' },
  aggregates: [
    { name: 'requests', fn: 'count' },
    { name: 'p95_ms', fn: 'p95', field: 'latency_ms' },
    { name: 'error_rate', fn: 'avg', field: 'status >= 500' },
  ],
  alerts: [{ name: 'slow', when: 'p95_ms > 500' }],
};
const clone = () => structuredClone(good) as any;

function issuesOf(spec: unknown) {
  try {
    validateSpec(spec);
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    expect((e as SpecError).status).toBe(400);
    return (e as SpecError).issues;
  }
  throw new Error('the spec was accepted');
}

describe('job spec validation', () => {
  test('a good spec is accepted with defaults filled in', () => {
    const spec = validateSpec(good);
    expect(spec.sinks).toEqual(['postgres', 'redis']);
    expect(spec.source.start_from).toBe('earliest');
    expect(jobTimes(spec)).toEqual({ delayMs: 2000, latenessMs: 60_000, maxFutureMs: 600_000, idleTimeoutMs: 30_000, window: { type: 'tumbling', sizeMs: 60_000 } });
  });

  test('an unknown aggregate is rejected at its path, listing the known ones', () => {
    const s = clone();
    s.aggregates[1].fn = 'median';
    expect(issuesOf(s)).toEqual([{ path: 'aggregates[1].fn', message: expect.stringContaining('must be one of count, sum, min, max, avg, first, last, count_distinct, p50') }]);
  });

  test('a hopping window whose slide is longer than its size is rejected at window.slide', () => {
    const s = clone();
    s.window = { type: 'hopping', size: '1m', slide: '5m' };
    expect(issuesOf(s)).toEqual([{ path: 'window.slide', message: expect.stringContaining('must not be longer than window.size (5m > 1m)') }]);
  });

  test('a negative lateness is rejected at time.allowed_lateness', () => {
    const s = clone();
    s.time.allowed_lateness = '-5s';
    expect(issuesOf(s)).toEqual([{ path: 'time.allowed_lateness', message: expect.stringContaining('non-negative duration') }]);
    s.time.allowed_lateness = -5000;
    expect(issuesOf(s)[0]!.path).toBe('time.allowed_lateness');
  });

  test('a key field that is not in the schema is rejected at key[i], listing the fields', () => {
    const s = clone();
    s.key = ['service', 'host'];
    expect(issuesOf(s)).toEqual([{ path: 'key[1]', message: '"host" is not in source.schema (fields: ts, service, latency_ms, status, region)' }]);
  });

  test('a filter that references a missing field is rejected at filter with the position', () => {
    const s = clone();
    s.filter = "service != 'health' and hostname = 'a'";
    expect(issuesOf(s)).toEqual([{ path: 'filter', message: expect.stringMatching(/unknown field "hostname" .* at character 25/) }]);
  });

  test.each([
    ['a window type that does not exist', (s: any) => (s.window = { type: 'sliding', size: '1m' }), 'window.type'],
    ['a zero window size', (s: any) => (s.window.size = '0s'), 'window.size'],
    ['a misspelt top-level field', (s: any) => (s.agregates = []), '(spec)'],
    ['a time field that is not a timestamp', (s: any) => (s.time.field = 'service'), 'time.field'],
    ['an optional key field', (s: any) => (s.key = ['region']), 'key[0]'],
    ['a sum without a field', (s: any) => s.aggregates.push({ name: 'x', fn: 'sum' }), 'aggregates[3].field'],
    ['a percentile of a string', (s: any) => s.aggregates.push({ name: 'x', fn: 'p99', field: 'service' }), 'aggregates[3].field'],
    ['a weight on something other than avg', (s: any) => s.aggregates.push({ name: 'x', fn: 'sum', field: 'status', weight: 'latency_ms' }), 'aggregates[3].weight'],
    ['a duplicate aggregate name', (s: any) => s.aggregates.push({ name: 'requests', fn: 'count' }), 'aggregates[3].name'],
    ['an alert on an unknown result', (s: any) => (s.alerts = [{ name: 'a', when: 'p99_ms > 1' }]), 'alerts[0].when'],
    ['a filter that is not a condition', (s: any) => (s.filter = 'latency_ms * 2'), 'filter'],
    ['a job name with capitals', (s: any) => (s.name = 'Requests'), 'name'],
    ['an unknown sink', (s: any) => (s.sinks = ['bigquery']), 'sinks[0]'],
    ['a non-JSON format', (s: any) => (s.source.format = 'avro'), 'source.format'],
  ])('%s is rejected at %s', (_what, mutate, path) => {
    const s = clone();
    mutate(s);
    expect(issuesOf(s).map((i) => i.path)).toContain(path);
  });

  test('the error message names the first problem and counts the rest', () => {
    const s = clone();
    s.key = ['nope'];
    s.filter = 'missing > 1';
    try {
      validateSpec(s);
    } catch (e) {
      expect((e as SpecError).message).toMatch(/^the job spec is invalid: key\[0\]: "nope" is not in source.schema .* \(and 1 more problem, listed in "issues"\)/);
      expect((e as SpecError).code).toBe('invalid_spec');
    }
  });

  test.each([
    ['500ms', 500],
    ['2s', 2000],
    ['1.5m', 90_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    [250, 250],
    ['-1s', undefined],
    ['5 minutes', undefined],
    [1.5, undefined],
  ])('duration %j is %p ms', (input, expected) => {
    expect(durationMs(input)).toBe(expected);
  });

  test('the state fingerprint ignores alerts and sinks but not the window', () => {
    const a = validateSpec(good);
    expect(stateFingerprint(validateSpec({ ...good, alerts: [], sinks: ['postgres'] }))).toBe(stateFingerprint(a));
    expect(stateFingerprint(validateSpec({ ...good, window: { type: 'tumbling', size: '2m' } }))).not.toBe(stateFingerprint(a));
  });
});

describe('spec files', () => {
  test('YAML and JSON files load; a bad file is reported by name without hiding the good ones', () => {
    using dir = tempDir();
    mkdirSync(join(dir.path, 'sub'));
    writeFileSync(join(dir.path, 'a.json'), JSON.stringify(good));
    writeFileSync(join(dir.path, 'b.yaml'), 'name: bad\nsource: {topic: x}\n');
    writeFileSync(join(dir.path, 'notes.txt'), 'ignored');
    const files = loadSpecFiles(dir.path);
    expect(files.map((f) => [f.file.split('/').pop(), !!f.spec])).toEqual([
      ['a.json', true],
      ['b.yaml', false],
    ]);
    expect(files[1]!.error!.message).toStartWith('b.yaml: the job spec is invalid: source.schema: ');
  });

  test('the three example jobs shipped in streams/ are valid', () => {
    const files = loadSpecFiles(join(ROOT, 'streams'));
    expect(files.map((f) => f.error?.message)).toEqual([undefined, undefined, undefined]);
    expect(files.map((f) => f.spec!.name).sort()).toEqual(['finance_ohlc_1m', 'iot_device_5m', 'monitoring_services_1m']);
  });

  test('a missing directory has no jobs', () => {
    expect(loadSpecFiles('/nonexistent/streams')).toEqual([]);
  });
});
