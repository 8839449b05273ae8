import { expect, test } from 'bun:test';
import { batchTimeMs, parseBoundary, parseManifest } from '../../../src/features/gdelt/manifest.ts';
import { FIXTURE_LINES, MASTER } from '../../helpers/gdelt.ts';

test("GDELT's own manifest lines give one entry per events and mentions file, with size and md5", () => {
  const m = parseManifest(FIXTURE_LINES.join('\n'));
  expect(m.problems).toEqual([]);
  expect(m.ignored).toBe(4);
  expect(m.entries).toHaveLength(8);
  expect(m.entries[0]).toEqual({ size: 150383, md5: '297a16b493de7cf6ca809a7cc31d0b93', name: '20150218230000.export.CSV.zip', table: 'events', batch: '20150218230000' });
  expect(m.entries[1]!.table).toBe('mentions');
});

test('the first 1000 published master list lines parse without a problem', () => {
  const m = parseManifest(MASTER);
  expect(m.problems).toEqual([]);
  expect(m.entries.length + m.ignored).toBe(1000);
});

test('malformed manifest lines are reported with their line number and empty lines are skipped', () => {
  const text = [
    FIXTURE_LINES[0],
    '',
    '   ',
    'garbage',
    '150383 297a16b493de7cf6ca809a7cc31d0b93',
    'abc 297a16b493de7cf6ca809a7cc31d0b93 http://x/20150218230000.export.CSV.zip',
    '150383 nothex http://x/20150218230000.export.CSV.zip',
    '150383 297a16b493de7cf6ca809a7cc31d0b93 http://x/notabatch.export.CSV.zip',
    '150383 297a16b493de7cf6ca809a7cc31d0b93 http://x/20151345000000.export.CSV.zip',
    '1 2 3 4',
  ].join('\r\n');
  const m = parseManifest(text);
  expect(m.entries).toHaveLength(1);
  expect(m.problems.map((p) => p.line)).toEqual([4, 5, 6, 7, 8, 9, 10]);
  expect(m.problems[0]!.reason).toContain('expected 3 fields');
  expect(m.problems[2]!.reason).toContain('whole number');
  expect(m.problems[3]!.reason).toContain('md5');
  expect(m.problems[5]!.reason).toContain('batch time');
});

test('a batch time must be a real UTC date and time', () => {
  expect(batchTimeMs('20150218230000')).toBe(Date.UTC(2015, 1, 18, 23));
  expect(batchTimeMs('20150230000000')).toBeUndefined();
  expect(batchTimeMs('2015021823')).toBeUndefined();
});

test('backfill boundaries accept dates, date-times and batch times, and reject words', () => {
  expect(parseBoundary('2015-02-18', 'from', false)).toBe(Date.UTC(2015, 1, 18));
  expect(parseBoundary('2015-02-18', 'to', true)).toBe(Date.UTC(2015, 1, 18, 23, 45));
  expect(parseBoundary('20150218231500', 'from', false)).toBe(Date.UTC(2015, 1, 18, 23, 15));
  expect(parseBoundary('2015-02-18T23:00:00Z', 'from', false)).toBe(Date.UTC(2015, 1, 18, 23));
  expect(() => parseBoundary('yesterday', 'from', false)).toThrow(/from="yesterday" is not a date/);
  expect(() => parseBoundary('2015-02-30', 'from', false)).toThrow(/not a date/);
});
