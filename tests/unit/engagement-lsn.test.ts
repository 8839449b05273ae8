import { describe, expect, test } from 'bun:test';
import { splitSend } from '../../src/features/engagement/cdc.ts';
import { formatLsn, LsnTracker, parseLsn } from '../../src/features/engagement/lsn.ts';

describe('WAL positions and what may be confirmed', () => {
  test('positions parse and print in Postgres notation, padded or not', () => {
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) | 0xb374d848n);
    expect(parseLsn('00000000/01DAB2E0')).toBe(parseLsn('0/1DAB2E0'));
    expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848');
    expect(() => parseLsn('nope')).toThrow('Not a WAL position');
  });

  test('a transaction is confirmable only once Kafka acknowledged it and everything before it', () => {
    const t = new LsnTracker();
    t.begin();
    t.committed(100n);
    t.begin();
    t.committed(200n);
    expect(t.confirmable).toBe(0n);
    t.sending(1);
    expect(t.confirmable).toBe(0n);
    t.sent();
    expect(t.confirmable).toBe(100n);
    t.sending(1);
    t.sent();
    expect(t.confirmable).toBe(200n);
  });

  test('a keepalive position is confirmed only when nothing is in flight', () => {
    const t = new LsnTracker();
    t.begin();
    t.committed(100n);
    t.keepalive(500n);
    expect(t.confirmable).toBe(0n);
    t.sending(1);
    t.keepalive(600n);
    expect(t.confirmable).toBe(0n);
    t.sent();
    expect(t.confirmable).toBe(100n);
    t.keepalive(700n);
    expect(t.confirmable).toBe(700n);
    t.begin();
    t.keepalive(800n);
    expect(t.confirmable).toBe(700n);
  });

  test('the confirmed position never moves back', () => {
    const t = new LsnTracker();
    t.keepalive(900n);
    t.begin();
    t.committed(850n);
    t.sending(1);
    t.sent();
    expect(t.confirmable).toBe(900n);
  });
});

describe('cutting a CDC flush into Kafka sends', () => {
  const msg = (n: number, size = 10) => ({ key: String(n), value: 'x'.repeat(size) });

  test('sends stay within the record and byte limits and keep each topic in order', () => {
    const byTopic = new Map([
      ['events', [1, 2, 3, 4, 5].map((n) => msg(n))],
      ['content', [6, 7].map((n) => msg(n))],
    ]);
    const sends = splitSend(byTopic, 3, 10_000);
    expect(sends.map((s) => s.map((t) => `${t.topic}:${t.messages.map((m) => m.key).join('')}`))).toEqual([['events:123'], ['events:45', 'content:6'], ['content:7']]);
  });

  test('a large flush is split by bytes so no send can exceed the broker batch limit', () => {
    const big = new Map([['events', Array.from({ length: 10 }, (_, n) => msg(n, 100_000))]]);
    const sends = splitSend(big, 1000, 512 * 1024);
    expect(sends.length).toBe(2);
    for (const s of sends) expect(s[0]!.messages.length).toBeLessThanOrEqual(5);
    expect(sends.flatMap((s) => s[0]!.messages.map((m) => m.key))).toEqual(Array.from({ length: 10 }, (_, n) => String(n)));
  });
});
