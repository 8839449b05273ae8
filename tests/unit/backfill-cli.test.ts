import { describe, expect, test } from 'bun:test';
import { ROOT } from '../../src/platform/context.ts';
import { backfillRange } from '../../src/features/engagement/backfill.ts';

function cli(args: string[]) {
  const r = Bun.spawnSync(['bun', 'src/cli/pipeline.ts', ...args], { cwd: ROOT, env: { PATH: Bun.env.PATH ?? '', HOME: Bun.env.HOME ?? '' }, stdout: 'pipe', stderr: 'pipe' });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe('pipeline backfill command line', () => {
  test('--start-date after --end-date stops with exit 2 and says to swap them', () => {
    const r = cli(['backfill', '--start-date', '2026-02-01', '--end-date', '2026-01-31']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--start-date 2026-02-01 is after --end-date 2026-01-31. Swap them');
    expect(r.err).not.toContain('    at ');
  });

  test.each([
    ['2026-02-30', 'a calendar day'],
    ['2026/01/01', 'YYYY-MM-DD'],
    ['tomorrow', 'YYYY-MM-DD'],
  ])('a bad date (%s) stops with exit 2, the rule and an example', (bad, rule) => {
    const r = cli(['backfill', '--start-date', bad, '--end-date', '2026-03-01']);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`--start-date must be a calendar day as YYYY-MM-DD (got "${bad}")`);
    expect(r.err).toContain(rule);
    expect(r.err).toContain('Example: --start-date 2026-01-01');
  });

  test('a missing date is named', () => {
    const r = cli(['backfill', '--start-date', '2026-01-01']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--end-date is required');
  });

  test('without the services configured it says which variables to set', () => {
    const r = cli(['backfill', '--start-date', '2026-01-01', '--end-date', '2026-01-02']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS and REDIS_URL');
  });

  test('an unknown command or option is refused with the usage', () => {
    expect(cli(['rewind']).err).toContain('Unknown command "rewind"');
    const r = cli(['backfill', '--since', '2026-01-01']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('Usage: bun run pipeline');
  });

  test('the range covers both days in UTC', () => {
    expect(backfillRange('2026-01-01', '2026-01-31')).toEqual({ ok: true, startDate: '2026-01-01', endDate: '2026-01-31', fromMs: Date.UTC(2026, 0, 1), toMs: Date.UTC(2026, 1, 1) });
    expect(backfillRange('2026-01-05', '2026-01-05')).toMatchObject({ ok: true, toMs: Date.UTC(2026, 0, 6) });
  });
});
