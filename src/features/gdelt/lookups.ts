import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../platform/context.ts';

export const SEED_DIR = join(ROOT, 'db/seed/gdelt');

export type EventCode = { code: string; description: string; goldstein?: number };

/** CAMEO and country names, so answers carry names, not only codes. Loaded once from db/seed/gdelt. */
export type Lookups = {
  eventCodes: Map<string, EventCode>;
  /** CAMEO 3-letter actor country codes (Actor1CountryCode…). */
  actorCountries: Map<string, string>;
  /** FIPS 10-4 2-letter codes (ActionGeo_CountryCode…), from GeoNames, because GDELT's FIPS list is not published with the data. */
  fipsCountries: Map<string, string>;
  types: Map<string, string>;
  knownGroups: Map<string, string>;
  ethnic: Map<string, string>;
  religions: Map<string, string>;
};

/**
 * Reads a two-column GDELT lookup: CRLF or LF, a header row, trailing spaces, blank lines. Rows without a tab
 * are skipped rather than trusted.
 */
export function parseTwoColumns(text: string): [string, string][] {
  const rows: [string, string][] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const tab = line.indexOf('\t');
    if (tab <= 0) continue;
    rows.push([line.slice(0, tab).trim(), line.slice(tab + 1).trim()]);
  }
  return rows;
}

// GDELT's eventcodes file merges code 106 into the 1056 line: "Demand de-escalation…106:[-5.0] Demand withdrawal".
const merged = /^(.*?)(\d{2,4}):\[(-?\d+(?:\.\d+)?)\]\s*(.+)$/;

/** CAMEO event codes with descriptions and Goldstein scores, repairing the known merged 1056/106 line. */
export function parseEventCodes(codesText: string, goldsteinText: string): Map<string, EventCode> {
  const goldstein = new Map(parseTwoColumns(goldsteinText).map(([c, g]) => [c, Number(g)] as const));
  const out = new Map<string, EventCode>();
  for (const [code, raw] of parseTwoColumns(codesText)) {
    if (!/^\d{2,4}$/.test(code)) continue;
    const m = merged.exec(raw);
    if (m) {
      out.set(code, { code, description: m[1]!.trim(), goldstein: goldstein.get(code) });
      out.set(m[2]!, { code: m[2]!, description: m[4]!.trim(), goldstein: Number(m[3]) });
    } else {
      out.set(code, { code, description: raw, goldstein: goldstein.get(code) });
    }
  }
  return out;
}

function parseGeonamesFips(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#') || line.startsWith('ISO\t')) continue;
    const f = line.split('\t');
    const fips = f[3]?.trim();
    if (fips && /^[A-Z]{2}$/.test(fips)) out.set(fips, f[4]!.trim());
  }
  return out;
}

export function loadLookups(dir = SEED_DIR): Lookups {
  const read = (name: string) => readFileSync(join(dir, name), 'utf8');
  const map = (name: string) => new Map(parseTwoColumns(read(name)));
  return {
    eventCodes: parseEventCodes(read('CAMEO.eventcodes.txt'), read('CAMEO.goldsteinscale.txt')),
    actorCountries: map('CAMEO.country.txt'),
    fipsCountries: parseGeonamesFips(read('geonames.countryInfo.txt')),
    types: map('CAMEO.type.txt'),
    knownGroups: map('CAMEO.knowngroup.txt'),
    ethnic: map('CAMEO.ethnic.txt'),
    religions: map('CAMEO.religion.txt'),
  };
}

/** The words that describe an event code for search: its own description and those of its parents (14 → 145 → 1451). */
export function describeCode(lookups: Lookups, code: string | null | undefined): string {
  if (!code) return '';
  const parts: string[] = [];
  for (let n = 2; n <= code.length; n++) {
    const d = lookups.eventCodes.get(code.slice(0, n))?.description;
    if (d) parts.push(d);
  }
  return parts.join(' ');
}
