import { expect, test } from 'bun:test';
import { describeCode, loadLookups, parseEventCodes, parseTwoColumns } from '../../../src/features/gdelt/lookups.ts';

const lookups = loadLookups();

test('lookup files with CRLF, a header row and trailing spaces parse into clean pairs', () => {
  expect(parseTwoColumns('CODE\tLABEL\r\nCOP\tPolice forces \r\n\r\nnotab\r\nGOV\tGovernment\r\n')).toEqual([
    ['COP', 'Police forces'],
    ['GOV', 'Government'],
  ]);
  expect(lookups.types.get('COP')).toBe('Police forces');
  expect(lookups.eventCodes.get('111')!.description).toBe('Criticize or denounce');
  expect(lookups.actorCountries.get('WSB')).toBe('West Bank');
});

test("GDELT's merged 1056/106 line becomes two codes with their own descriptions and Goldstein scores", () => {
  const codes = parseEventCodes(
    'CAMEOEVENTCODE\tEVENTDESCRIPTION\r\n1056\tDemand de-escalation of military engagement106:[-5.0] Demand withdrawal\r\n',
    'CAMEOEVENTCODE\tGOLDSTEINSCALE\r\n1056\t-5.0\r\n',
  );
  expect(codes.get('1056')).toEqual({ code: '1056', description: 'Demand de-escalation of military engagement', goldstein: -5 });
  expect(codes.get('106')).toEqual({ code: '106', description: 'Demand withdrawal', goldstein: -5 });
  expect(lookups.eventCodes.get('106')!.description).toBe('Demand withdrawal');
  expect(lookups.eventCodes.get('107')!.description).toBe('Demand ceasefire');
});

test('an event code is described with its parents, so protest codes carry the word PROTEST', () => {
  expect(describeCode(lookups, '1411')).toBe('PROTEST Demonstrate or rally Demonstrate for leadership change');
  expect(describeCode(lookups, '043')).toBe('CONSULT Host a visit');
  expect(describeCode(lookups, null)).toBe('');
});

test('FIPS country codes of locations have names', () => {
  expect(lookups.fipsCountries.get('UK')).toBe('United Kingdom');
  expect(lookups.fipsCountries.get('SF')).toBe('South Africa');
});
