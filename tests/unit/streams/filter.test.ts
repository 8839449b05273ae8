import { describe, expect, test } from 'bun:test';
import { compileExpression, ExpressionError, type ValueType } from '../../../src/features/streams/filter.ts';

const fields: Record<string, ValueType> = { status: 'number', service: 'string', latency: 'number', ok: 'boolean', region: 'string' };
const run = (text: string, row: Record<string, unknown>) => compileExpression(text, fields).evaluate(row);
const row = { status: 503, service: 'api', latency: 120.5, ok: false, region: null };

describe('the expression language', () => {
  test.each([
    ['status >= 500', true],
    ['status >= 500 and service != "api"', false],
    ["service = 'api' or latency > 1000", true],
    ['not ok', true],
    ['status in (500, 502, 503)', true],
    ['status not in (500, 502)', true],
    ["service in ('web', 'db')", false],
    ['region is null', true],
    ['region is not null', false],
    ['latency * 2 + 1', 242],
    ['-latency', -120.5],
    ['(status - 3) / 100', 5],
    ['status % 100', 3],
    ['latency / 0', null],
    ['status >= 500 AND NOT ok', true],
  ] as const)('%s evaluates as expected', (text, expected) => {
    expect(run(text, row)).toBe(expected);
  });

  test('keywords are case-insensitive, field names are not', () => {
    expect(() => run('STATUS >= 500', row)).toThrow('unknown field "STATUS"');
  });

  test('a comparison with a missing value is false, and arithmetic with it is null', () => {
    expect(run("region = 'eu'", row)).toBe(false);
    expect(run("region != 'eu'", row)).toBe(false);
    expect(compileExpression('latency + 1', fields).evaluate({})).toBe(null);
  });

  test('the result type is known before any record is seen', () => {
    expect(compileExpression('status >= 500', fields).type).toBe('boolean');
    expect(compileExpression('latency * 2', fields).type).toBe('number');
    expect(compileExpression('service', fields).type).toBe('string');
    expect(compileExpression('status > 1 and ok', fields).fields.sort()).toEqual(['ok', 'status']);
  });

  test.each([
    ['missing > 3', 'unknown field "missing" (known: status, service, latency, ok, region)', 0],
    ["status > 'x'", 'cannot compare a number with a string', 7],
    ['service + 1', '"+" needs numbers on both sides', 8],
    ['status and ok', '"and" joins conditions', 7],
    ['status >=', 'expected a value', 9],
    ['(status > 1', 'expected ")"', 11],
    ["service = 'api", 'unterminated string', 10],
    ['status > 1 ok', 'unexpected "ok" after a complete expression', 11],
    ['status in (1, "a")', '"in" list mixes number with string', 7],
    ['status; drop table', 'unexpected character ";"', 6],
    ['', 'the expression is empty', 0],
  ])('%j is rejected with a position', (text, message, position) => {
    try {
      compileExpression(text, fields);
      throw new Error('expected an error');
    } catch (e) {
      expect(e).toBeInstanceOf(ExpressionError);
      expect((e as ExpressionError).message).toContain(message);
      expect((e as ExpressionError).position).toBe(position);
    }
  });

  test('text that would be code in JavaScript is only ever data or an error', () => {
    expect(() => compileExpression('constructor.constructor("return 1")()', fields)).toThrow(ExpressionError);
    expect(() => compileExpression('process.exit(1)', fields)).toThrow(ExpressionError);
    expect(run("service = 'a\\'b'", { service: "a'b" })).toBe(true);
  });
});
