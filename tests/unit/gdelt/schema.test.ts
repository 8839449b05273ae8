import { expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SEED_DIR } from '../../../src/features/gdelt/lookups.ts';
import { EVENT_COLUMNS, MENTION_COLUMNS } from '../../../src/features/gdelt/schema.ts';

test('the events columns are the codebook columns, in order, with the codebook types', () => {
  const lines = readFileSync(join(SEED_DIR, 'schema/GDELT_2.0_Events_Column_Labels_Header_Row_Sep2016.csv'), 'utf8').split(/\r?\n/).slice(1).filter(Boolean);
  const codebook = lines.map((l) => l.split(',').slice(0, 2));
  expect(codebook).toHaveLength(61);
  expect(EVENT_COLUMNS.map((c) => [c.name, c.codebook])).toEqual(codebook as [string, string][]);
});

test('the mentions columns are the codebook columns, in order, with the codebook types', () => {
  const lines = readFileSync(join(SEED_DIR, 'schema/GDELT_2.0_eventMentions_Column_Labels_Header_Row_Sep2016.tsv'), 'utf8').split(/\r?\n/).slice(1).filter(Boolean);
  const codebook = lines.map((l) => l.split('\t').slice(1, 3));
  expect(codebook).toHaveLength(16);
  expect(MENTION_COLUMNS.map((c) => [c.name, c.codebook])).toEqual(codebook as [string, string][]);
});

test('dates and times are typed as dates and timestamps, ids as 64-bit integers', () => {
  const type = (n: string) => EVENT_COLUMNS.find((c) => c.name === n)!.type;
  expect([type('GLOBALEVENTID'), type('SQLDATE'), type('DATEADDED'), type('AvgTone'), type('EventCode')]).toEqual(['BIGINT', 'DATE', 'TIMESTAMP', 'DOUBLE', 'VARCHAR']);
});
