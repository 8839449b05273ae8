import { describe, expect, test } from 'bun:test';
import { compileSchema, parseRecords } from '../../../src/features/streams/parse.ts';
import { validateSpec } from '../../../src/features/streams/spec.ts';

const spec = validateSpec({
  name: 'p',
  source: { topic: 't', schema: { ts: 'timestamp', service: 'string', status: 'integer', latency: 'number', ok: { type: 'boolean', optional: true } } },
  time: { field: 'ts' },
  key: ['service'],
  window: { type: 'tumbling', size: '1m' },
  aggregates: [{ name: 'n', fn: 'count' }],
});
const schema = compileSchema(spec);
const batch = (...values: (string | null)[]) => values.map((value, i) => ({ partition: 2, offset: String(100 + i), value: value === null ? null : Buffer.from(value) }));
const ok = { ts: '2026-11-23T12:00:00.250Z', service: 'api', status: 200, latency: 12.5 };

describe('parseRecords', () => {
  test('a good record becomes typed values with the event time in milliseconds', () => {
    const { records, rejected } = parseRecords(batch(JSON.stringify({ ...ok, extra: 'dropped' })), schema);
    expect(rejected).toEqual([]);
    expect(records).toEqual([{ t: Date.UTC(2026, 10, 23, 12, 0, 0, 250), v: { ts: Date.UTC(2026, 10, 23, 12, 0, 0, 250), service: 'api', status: 200, latency: 12.5, ok: null }, p: 2, o: 100 }]);
  });

  test('epoch milliseconds are accepted as a timestamp', () => {
    expect(parseRecords(batch(JSON.stringify({ ...ok, ts: 1795435200000 })), schema).records[0]!.t).toBe(1795435200000);
  });

  test.each([
    ['a record that is not JSON', '{"ts": "2026-11-23T12:00:00Z", service', 'invalid_json', 'the value is not JSON'],
    ['an empty value', null, 'invalid_json', 'the value is not JSON'],
    ['a JSON array', '[1, 2]', 'not_an_object', 'expected a JSON object, got an array'],
    ['a record missing the time field', JSON.stringify({ ...ok, ts: undefined }), 'missing_time', 'the event-time field "ts" is missing'],
    ['a record with an unreadable time', JSON.stringify({ ...ok, ts: 'yesterday' }), 'invalid_time', '"ts" must be an ISO-8601 time or epoch milliseconds, got "yesterday"'],
    ['a record missing a required field', JSON.stringify({ ...ok, service: undefined }), 'missing_field', 'required field "service" is missing'],
    ['a number sent as a string', JSON.stringify({ ...ok, latency: '12.5' }), 'wrong_type', 'field "latency" must be a number, got "12.5"'],
    ['a fraction in an integer field', JSON.stringify({ ...ok, status: 200.5 }), 'wrong_type', 'field "status" must be an integer, got 200.5'],
  ])('%s is rejected with its reason, position and bytes', (_what, value, reason, detail) => {
    const { records, rejected } = parseRecords(batch(JSON.stringify(ok), value), schema);
    expect(records).toHaveLength(1);
    expect(rejected).toEqual([{ partition: 2, offset: 101, reason: reason as never, detail: expect.stringContaining(detail), value: value ?? '', eventTimeMs: undefined }]);
  });

  test('a very long bad value is kept as a bounded preview', () => {
    const { rejected } = parseRecords(batch('x'.repeat(5000)), schema);
    expect(rejected[0]!.value!.length).toBe(1001);
  });
});
