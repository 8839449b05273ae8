import { generateKeyPairSync, verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

/**
 * A local stand-in for the slice of the BigQuery REST API the warehouse uses, backed by DuckDB:
 * - `POST /token`: the OAuth JWT-bearer exchange (the assertion's RS256 signature is checked against the key
 *   written by `credentialsFile`);
 * - `POST …/tables/:table/insertAll`: streaming insert with BigQuery's semantics: rows are checked against the
 *   table (an invalid row makes the whole request fail, the others come back "stopped"), and a row whose
 *   `insertId` was seen within `dedupeWindowMs` is dropped silently: best-effort dedupe, like BigQuery's;
 * - `POST …/queries` and `GET …/queries/:job`: GoogleSQL translated to DuckDB for the statements the warehouse
 *   sends (DDL, parameters, UNNEST, COUNTIF, DATE, TIMESTAMP_TRUNC…), answered in BigQuery's row format, paged.
 * `failNext` makes the next requests answer an error, for retry tests.
 */
export type BigQueryStandIn = {
  url: string;
  projectId: string;
  /** A service-account key file whose token_uri points here. */
  credentialsFile: string;
  /** Rows of a table, duplicates included (what BigQuery stores), via a direct DuckDB read. */
  rows(dataset: string, table: string, where?: string): Promise<Record<string, unknown>[]>;
  requests: { path: string; status: number }[];
  failNext(count: number, status: number): void;
  dedupeWindowMs: number;
  close(): Promise<void>;
};

const TYPE_MAP: [RegExp, string][] = [
  [/\bINT64\b/g, 'BIGINT'],
  [/\bFLOAT64\b/g, 'DOUBLE'],
  [/\bSTRING\b/g, 'VARCHAR'],
  [/\bBOOL\b/g, 'BOOLEAN'],
];

type Param = { name: string; parameterType: { type: string; arrayType?: { type: string } }; parameterValue: { value?: string; arrayValues?: { value: string }[] } };

const duckType = (t: string) => ({ INT64: 'BIGINT', STRING: 'VARCHAR', DATE: 'DATE', TIMESTAMP: 'TIMESTAMPTZ', FLOAT64: 'DOUBLE', BOOL: 'BOOLEAN' })[t] ?? 'VARCHAR';

/** GoogleSQL → DuckDB for the statements the warehouse sends; parameters become typed DuckDB parameters. */
export function translate(sql: string, params: Param[] = []): { sql: string; values: Record<string, string> } {
  let out = sql
    .replace(/`[\w-]+\.(\w+)\.(\w+)`/g, '"$1"."$2"')
    .replace(/`[\w-]+\.(\w+)`/g, '"$1"')
    .replace(/\s+PARTITION BY DATE\(\w+\)\s+CLUSTER BY \w+/g, '')
    .replace(/\bTIMESTAMP\b(?!\s*\()/g, 'TIMESTAMPTZ')
    .replace(/\*\s+EXCEPT\s*\(/g, '* EXCLUDE (')
    .replace(/\bCOUNTIF\(/g, 'count_if(')
    .replace(/\bTIMESTAMP_TRUNC\((\w+),\s*HOUR\)/g, "date_trunc('hour', $1)")
    .replace(/\bDATE\((\w+)\)/g, 'CAST($1 AS DATE)')
    .replace(/\bTIMESTAMP\(DATE_ADD\((@\w+),\s*INTERVAL 1 DAY\)\)/g, 'CAST($1 + INTERVAL 1 DAY AS TIMESTAMPTZ)')
    .replace(/\bTIMESTAMP\((@\w+)\)/g, 'CAST($1 AS TIMESTAMPTZ)')
    .replace(/\bIN UNNEST\((@\w+)\)/g, 'IN (SELECT unnest($1))');
  for (const [re, to] of TYPE_MAP) out = out.replace(re, to);
  const values: Record<string, string> = {};
  for (const p of params) {
    const isArray = p.parameterType.type === 'ARRAY';
    const type = duckType(isArray ? p.parameterType.arrayType!.type : p.parameterType.type);
    values[p.name] = isArray ? (p.parameterValue.arrayValues ?? []).map((v) => v.value).join(',') : (p.parameterValue.value ?? '');
    const cast = isArray ? `string_split($${p.name}, ',')::${type}[]` : `CAST($${p.name} AS ${type})`;
    out = out.replace(new RegExp(`@${p.name}\\b`, 'g'), cast);
  }
  return { sql: out, values };
}

const bqType = (duck: string) =>
  /INT/.test(duck) ? 'INTEGER' : duck === 'DOUBLE' || duck === 'FLOAT' ? 'FLOAT' : duck === 'BOOLEAN' ? 'BOOLEAN' : /TIMESTAMP/.test(duck) ? 'TIMESTAMP' : duck === 'DATE' ? 'DATE' : 'STRING';

function cell(value: unknown, type: string): string | null {
  if (value === null || value === undefined) return null;
  if (type === 'TIMESTAMP') return String(Number((value as { micros: bigint }).micros) / 1e6);
  return String(value);
}

export async function startBigQueryStandIn(options: { dir: string; projectId?: string; dedupeWindowMs?: number }): Promise<BigQueryStandIn> {
  const projectId = options.projectId ?? 'sillage-test';
  const instance = await DuckDBInstance.create(':memory:');
  const db: DuckDBConnection = await instance.connect();
  await db.run("SET TimeZone = 'UTC'");
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const tokens = new Set<string>();
  const seenInsertIds = new Map<string, number>();
  const jobs = new Map<string, { fields: { name: string; type: string }[]; rows: { f: { v: string | null }[] }[] }>();
  const requests: BigQueryStandIn['requests'] = [];
  let failing: { count: number; status: number } | undefined;
  // DuckDB runs one statement at a time per connection: requests are served in order.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>) => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => {});
    return next;
  };

  const error = (status: number, reason: string, message: string) => Response.json({ error: { code: status, message, errors: [{ reason, message }] } }, { status });

  const page = (jobId: string, pageToken: string | undefined, maxResults: number) => {
    const job = jobs.get(jobId)!;
    const start = pageToken ? Number(pageToken) : 0;
    const rows = job.rows.slice(start, start + maxResults);
    const next = start + maxResults < job.rows.length ? String(start + maxResults) : undefined;
    return { kind: 'bigquery#queryResponse', jobComplete: true, jobReference: { projectId, jobId }, schema: { fields: job.fields }, rows, totalRows: String(job.rows.length), pageToken: next };
  };

  const runQuery = async (body: { query: string; queryParameters?: Param[]; maxResults?: number }) => {
    const { sql, values } = translate(body.query, body.queryParameters);
    let reader;
    try {
      reader = await db.runAndReadAll(sql, values);
    } catch (e) {
      const message = (e as Error).message;
      return error(/does not exist|not found/i.test(message) ? 404 : 400, /does not exist|not found/i.test(message) ? 'notFound' : 'invalidQuery', `${message} (translated: ${sql})`);
    }
    const fields = reader.columnNames().map((name, i) => ({ name, type: bqType(reader.columnTypes()[i]!.toString()) }));
    const rows = reader.getRows().map((r) => ({ f: r.map((v, i) => ({ v: cell(v, fields[i]!.type) })) }));
    const jobId = `job_${crypto.randomUUID()}`;
    jobs.set(jobId, { fields, rows });
    return Response.json(page(jobId, undefined, body.maxResults ?? 10_000));
  };

  const insertAll = async (dataset: string, table: string, body: { rows: { insertId?: string; json: Record<string, unknown> }[]; skipInvalidRows?: boolean }) => {
    let columns: { name: string; type: string; nullable: boolean }[];
    try {
      columns = (await db.runAndReadAll(`SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = $s AND table_name = $t ORDER BY ordinal_position`, { s: dataset, t: table }))
        .getRows()
        .map((r) => ({ name: String(r[0]), type: String(r[1]), nullable: r[2] === 'YES' }));
    } catch (e) {
      return error(500, 'backendError', (e as Error).message);
    }
    if (!columns.length) return error(404, 'notFound', `Not found: Table ${projectId}:${dataset}.${table}`);
    const problems = body.rows.map(({ json }) => {
      for (const key of Object.keys(json)) if (!columns.some((c) => c.name === key)) return `no such field: ${key}`;
      for (const c of columns) {
        const v = json[c.name];
        if (v === null || v === undefined) {
          if (!c.nullable) return `missing required field: ${c.name}`;
          continue;
        }
        if (/TIMESTAMP/.test(c.type) && !Number.isFinite(Date.parse(String(v)))) return `invalid timestamp: ${c.name}=${JSON.stringify(v)}`;
        if (c.type === 'BIGINT' && !Number.isInteger(Number(v))) return `invalid integer: ${c.name}`;
      }
      return undefined;
    });
    if (problems.some(Boolean) && !body.skipInvalidRows) {
      return Response.json({
        kind: 'bigquery#tableDataInsertAllResponse',
        insertErrors: problems.map((p, index) => ({ index, errors: [p ? { reason: 'invalid', location: '', message: p } : { reason: 'stopped', location: '', message: '' }] })),
      });
    }
    const now = Date.now();
    await db.run('BEGIN TRANSACTION');
    try {
      for (const [i, row] of body.rows.entries()) {
        if (problems[i]) continue;
        if (row.insertId) {
          const seen = seenInsertIds.get(row.insertId);
          if (seen !== undefined && now - seen < (standIn.dedupeWindowMs ?? 60_000)) continue;
          seenInsertIds.set(row.insertId, now);
        }
        const names = Object.keys(row.json);
        const values: Record<string, string> = {};
        names.forEach((n, j) => (values[`p${j}`] = row.json[n] === null ? (null as never) : String(row.json[n])));
        await db.run(`INSERT INTO "${dataset}"."${table}" (${names.map((n) => `"${n}"`).join(', ')}) VALUES (${names.map((_, j) => `$p${j}`).join(', ')})`, values);
      }
      await db.run('COMMIT');
    } catch (e) {
      await db.run('ROLLBACK');
      return error(500, 'backendError', (e as Error).message);
    }
    return Response.json({ kind: 'bigquery#tableDataInsertAllResponse' });
  };

  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: (req) =>
      serial(async () => {
        const url = new URL(req.url);
        const respond = (res: Response) => (requests.push({ path: url.pathname, status: res.status }), res);
        if (url.pathname === '/token') {
          const form = new URLSearchParams(await req.text());
          const [h, p, s] = (form.get('assertion') ?? '').split('.');
          const ok = !!(h && p && s) && verify('RSA-SHA256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s!, 'base64url'));
          if (!ok) return respond(Response.json({ error: 'invalid_grant', error_description: 'bad signature' }, { status: 400 }));
          const token = crypto.randomUUID();
          tokens.add(token);
          return respond(Response.json({ access_token: token, expires_in: 3600, token_type: 'Bearer' }));
        }
        if (!tokens.has((req.headers.get('authorization') ?? '').replace(/^Bearer /, ''))) return respond(error(401, 'unauthorized', 'Request had invalid authentication credentials.'));
        if (failing && failing.count > 0) {
          failing.count--;
          return respond(error(failing.status, failing.status === 429 ? 'rateLimitExceeded' : 'backendError', 'injected failure'));
        }
        const insert = /^\/bigquery\/v2\/projects\/[^/]+\/datasets\/([^/]+)\/tables\/([^/]+)\/insertAll$/.exec(url.pathname);
        if (insert && req.method === 'POST') return respond(await insertAll(insert[1]!, insert[2]!, await req.json()));
        if (/^\/bigquery\/v2\/projects\/[^/]+\/queries$/.test(url.pathname) && req.method === 'POST') return respond(await runQuery(await req.json()));
        const results = /^\/bigquery\/v2\/projects\/[^/]+\/queries\/([^/]+)$/.exec(url.pathname);
        if (results && req.method === 'GET') {
          if (!jobs.has(results[1]!)) return respond(error(404, 'notFound', `Not found: Job ${results[1]}`));
          return respond(Response.json(page(results[1]!, url.searchParams.get('pageToken') ?? undefined, Number(url.searchParams.get('maxResults') ?? 10_000))));
        }
        return respond(error(404, 'notFound', `No route ${req.method} ${url.pathname}`));
      }),
  });
  const url = `http://127.0.0.1:${server.port}`;
  const credentialsFile = join(options.dir, 'bigquery-key.json');
  writeFileSync(
    credentialsFile,
    JSON.stringify({ type: 'service_account', project_id: projectId, client_email: `writer@${projectId}.iam.gserviceaccount.com`, private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }), token_uri: `${url}/token` }),
  );
  const standIn: BigQueryStandIn = {
    url,
    projectId,
    credentialsFile,
    requests,
    dedupeWindowMs: options.dedupeWindowMs ?? 60_000,
    failNext: (count, status) => void (failing = { count, status }),
    rows: (dataset, table, where = 'true') =>
      serial(async () => (await db.runAndReadAll(`SELECT * FROM "${dataset}"."${table}" WHERE ${where}`)).getRowObjectsJson() as Record<string, unknown>[]),
    async close() {
      await server.stop(true);
      db.closeSync();
      instance.closeSync();
    },
  };
  return standIn;
}
