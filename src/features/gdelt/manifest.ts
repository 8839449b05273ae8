import type { Clock } from '../../platform/clock.ts';
import { badRequest, terminal } from '../../platform/errors.ts';
import { fetchWithRetry } from './download.ts';
import { TABLES, type TableName } from './schema.ts';

/** One file of a batch as GDELT lists it: `<bytes> <md5> <url>`. */
export type ManifestEntry = { size: number; md5: string; name: string; table: TableName; batch: string };
export type ManifestProblem = { line: number; text: string; reason: string };
export type Manifest = { entries: ManifestEntry[]; problems: ManifestProblem[]; ignored: number };

const BATCH_MS = 15 * 60_000;

/** `20150218230000` → epoch ms (UTC); undefined when it is not a real 15-minute batch time. */
export function batchTimeMs(batch: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(batch);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  return ms;
}

export function batchFromMs(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export const batchIso = (batch: string) => new Date(batchTimeMs(batch)!).toISOString();

/**
 * Parses a lastupdate.txt or masterfilelist.txt body. Blank lines are skipped; a line that is not
 * `<bytes> <md5> <url>` with a batch file name is reported as a problem (never silently dropped); files of
 * tables we do not land (the GKG) are counted as ignored.
 */
export function parseManifest(text: string, tables: readonly TableName[] = ['events', 'mentions']): Manifest {
  const entries: ManifestEntry[] = [];
  const problems: ManifestProblem[] = [];
  let ignored = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    const parts = line.split(/\s+/);
    const problem = (reason: string) => problems.push({ line: i + 1, text: line.slice(0, 300), reason });
    if (parts.length !== 3) {
      problem(`expected 3 fields "<bytes> <md5> <url>", found ${parts.length}`);
      continue;
    }
    const [size, md5, url] = parts as [string, string, string];
    if (!/^\d{1,12}$/.test(size)) {
      problem(`size ${JSON.stringify(size)} is not a whole number of bytes`);
      continue;
    }
    if (!/^[0-9a-f]{32}$/i.test(md5)) {
      problem(`md5 ${JSON.stringify(md5)} is not 32 hex digits`);
      continue;
    }
    const name = url.slice(url.lastIndexOf('/') + 1);
    const m = /^(\d{14})\.(.+)$/.exec(name);
    if (!m || batchTimeMs(m[1]!) === undefined) {
      problem(`file name ${JSON.stringify(name)} does not start with a YYYYMMDDHHMMSS batch time`);
      continue;
    }
    const table = (Object.keys(TABLES) as TableName[]).find((t) => `.${m[2]}` === TABLES[t].suffix);
    if (!table || !tables.includes(table)) {
      ignored++;
      continue;
    }
    entries.push({ size: Number(size), md5: md5.toLowerCase(), name, table, batch: m[1]! });
  }
  return { entries, problems, ignored };
}

export type ManifestSource = { baseUrl: string; timeoutMs: number; clock: Clock; signal?: AbortSignal; tables: readonly TableName[] };

async function fetchText(source: ManifestSource, file: string): Promise<string> {
  const res = await fetchWithRetry(`${source.baseUrl}/${file}`, { timeoutMs: source.timeoutMs, clock: source.clock, signal: source.signal });
  return res.text();
}

/** A batch to ingest: its time and the files (one per table) the manifest lists for it. */
export type PlannedBatch = { batch: string; files: ManifestEntry[] };

function group(entries: ManifestEntry[]): PlannedBatch[] {
  const by = new Map<string, ManifestEntry[]>();
  for (const e of entries) by.set(e.batch, [...(by.get(e.batch) ?? []), e]);
  return [...by].sort(([a], [b]) => a.localeCompare(b)).map(([batch, files]) => ({ batch, files }));
}

function failOnNothing(manifest: Manifest, file: string) {
  if (manifest.entries.length) return;
  const why = manifest.problems.length ? `; its first problem is on line ${manifest.problems[0]!.line}: ${manifest.problems[0]!.reason}` : '';
  throw terminal('manifest_empty', `${file} lists no batch file we can use${why}. Check GDELT_BASE_URL points at a GDELT 2.0 mirror.`);
}

/**
 * The latest `n` batches: lastupdate.txt names the newest; older ones come from masterfilelist.txt, which is
 * read as a stream so only the lines in the window are kept.
 */
export async function latestBatches(source: ManifestSource, n: number): Promise<{ batches: PlannedBatch[]; problems: ManifestProblem[] }> {
  const last = parseManifest(await fetchText(source, 'lastupdate.txt'), source.tables);
  failOnNothing(last, 'lastupdate.txt');
  const newest = last.entries.map((e) => e.batch).sort().at(-1)!;
  if (n === 1) return { batches: group(last.entries.filter((e) => e.batch === newest)), problems: last.problems };
  const to = batchTimeMs(newest)!;
  const from = to - (n - 1) * BATCH_MS;
  const master = await rangeFromMaster(source, from, to);
  const entries = [...master.entries.filter((e) => e.batch !== newest), ...last.entries.filter((e) => e.batch === newest)];
  return { batches: group(entries), problems: [...last.problems, ...master.problems] };
}

/** Every batch whose time is in [fromMs, toMs], from masterfilelist.txt. */
export async function rangeBatches(source: ManifestSource, fromMs: number, toMs: number) {
  const master = await rangeFromMaster(source, fromMs, toMs);
  return { batches: group(master.entries), problems: master.problems };
}

async function rangeFromMaster(source: ManifestSource, fromMs: number, toMs: number): Promise<Manifest> {
  const res = await fetchWithRetry(`${source.baseUrl}/masterfilelist.txt`, { timeoutMs: source.timeoutMs, clock: source.clock, signal: source.signal });
  const out: Manifest = { entries: [], problems: [], ignored: 0 };
  // The real list is hundreds of MB: parse it chunk by chunk and keep only what falls in the window.
  const decoder = new TextDecoder();
  let rest = '';
  let lineOffset = 0;
  const take = (text: string) => {
    const m = parseManifest(text, source.tables);
    for (const e of m.entries) {
      const t = batchTimeMs(e.batch)!;
      if (t >= fromMs && t <= toMs) out.entries.push(e);
    }
    for (const p of m.problems) out.problems.push({ ...p, line: p.line + lineOffset });
    out.ignored += m.ignored;
    lineOffset += text.split('\n').length - 1;
  };
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const text = rest + decoder.decode(chunk, { stream: true });
    const cut = text.lastIndexOf('\n');
    if (cut < 0) {
      rest = text;
      continue;
    }
    take(text.slice(0, cut + 1));
    rest = text.slice(cut + 1);
  }
  rest += decoder.decode();
  if (rest) take(rest);
  return out;
}

/** Parses `from`/`to` of a backfill: YYYY-MM-DD, an ISO date-time, or a YYYYMMDDHHMMSS batch time. */
export function parseBoundary(value: string, name: string, end: boolean): number {
  const v = value.trim();
  let ms: number | undefined;
  if (/^\d{14}$/.test(v)) ms = batchTimeMs(v);
  else if (/^\d{4}-\d{2}-\d{2}$/.test(v)) {
    const t = Date.parse(`${v}T00:00:00Z`);
    if (!Number.isNaN(t) && new Date(t).toISOString().startsWith(v)) ms = end ? t + 86_400_000 - BATCH_MS : t;
  } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v)) {
    const t = Date.parse(v);
    if (!Number.isNaN(t)) ms = t;
  }
  if (ms === undefined)
    throw badRequest('invalid_time', `${name}=${JSON.stringify(value)} is not a date. Use YYYY-MM-DD (e.g. 2015-02-18), an ISO date-time (2015-02-18T23:00:00Z) or a batch time (20150218230000).`);
  return ms;
}
