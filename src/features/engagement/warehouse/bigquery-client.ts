import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { systemClock, type Clock } from '../../../platform/clock.ts';
import { AppError, errorMessage, terminal, transient } from '../../../platform/errors.ts';
import { parseRetryAfter } from '../../../platform/retry.ts';

/**
 * The two BigQuery REST calls the warehouse needs, over fetch: `tabledata.insertAll` (streaming insert) and
 * `jobs.query` (DDL and reads, with `getQueryResults` for long or paged answers). Credentials are a service
 * account key (GOOGLE_APPLICATION_CREDENTIALS, exchanged for an access token with a signed JWT) or, without
 * one, the metadata server of the GCE/GKE machine. `apiUrl` points at a local stand-in in tests.
 */
export type BigQueryClientOptions = {
  apiUrl: string;
  projectId: string;
  credentialsFile?: string;
  timeoutMs?: number;
  clock?: Clock;
};

export type QueryParam = { name: string; type: 'STRING' | 'INT64' | 'DATE' | 'TIMESTAMP'; value: string | number | (string | number)[] };
type Field = { name: string; type: string; mode?: string };
type QueryResponse = {
  jobComplete?: boolean;
  jobReference?: { jobId: string; location?: string };
  schema?: { fields: Field[] };
  rows?: { f: { v: unknown }[] }[];
  pageToken?: string;
};
export type InsertError = { index: number; errors: { reason?: string; message?: string }[] };

const SCOPE = 'https://www.googleapis.com/auth/bigquery';
const METADATA_TOKEN_URL = 'http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token';

export class BigQueryClient {
  private token: { value: string; expiresAtMs: number } | undefined;
  private key: { client_email: string; private_key: string; token_uri: string } | undefined;

  constructor(private options: BigQueryClientOptions) {
    if (options.credentialsFile) {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(readFileSync(options.credentialsFile, 'utf8'));
      } catch (error) {
        throw new Error(`GOOGLE_APPLICATION_CREDENTIALS=${options.credentialsFile} is not a readable JSON key file (${errorMessage(error)}). Download a service-account key as JSON and point the variable at it.`);
      }
      if (typeof parsed.client_email !== 'string' || typeof parsed.private_key !== 'string')
        throw new Error(`GOOGLE_APPLICATION_CREDENTIALS=${options.credentialsFile} has no client_email/private_key: it must be a service-account key (type "service_account").`);
      this.key = { client_email: parsed.client_email, private_key: parsed.private_key, token_uri: typeof parsed.token_uri === 'string' ? parsed.token_uri : 'https://oauth2.googleapis.com/token' };
    }
  }

  private get clock() {
    return this.options.clock ?? systemClock;
  }

  private base() {
    return `${this.options.apiUrl.replace(/\/$/, '')}/bigquery/v2/projects/${encodeURIComponent(this.options.projectId)}`;
  }

  private async accessToken(): Promise<string> {
    const now = this.clock.now();
    if (this.token && this.token.expiresAtMs - 60_000 > now) return this.token.value;
    let res: Response;
    try {
      if (this.key) {
        const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
        const iat = Math.floor(now / 1000);
        const unsigned = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ iss: this.key.client_email, scope: SCOPE, aud: this.key.token_uri, iat, exp: iat + 3600 })}`;
        const signature = createSign('RSA-SHA256').update(unsigned).sign(this.key.private_key).toString('base64url');
        res = await fetch(this.key.token_uri, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: `${unsigned}.${signature}` }),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
        });
      } else {
        res = await fetch(METADATA_TOKEN_URL, { headers: { 'metadata-flavor': 'Google' }, signal: AbortSignal.timeout(5000) });
      }
    } catch (error) {
      throw transient('bigquery_auth_unavailable', `Could not get a BigQuery access token (${errorMessage(error)}). Set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or run on GCE/GKE with a service account.`, { cause: error });
    }
    const body = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error_description?: string; error?: string };
    if (!res.ok || !body.access_token) {
      const message = `BigQuery credentials were refused (${res.status} ${body.error_description ?? body.error ?? ''}). Check the service account key and its BigQuery roles.`;
      throw res.status >= 500 || res.status === 429 ? transient('bigquery_auth_unavailable', message) : terminal('bigquery_auth_refused', message);
    }
    this.token = { value: body.access_token, expiresAtMs: now + (body.expires_in ?? 3600) * 1000 };
    return this.token.value;
  }

  private async call<T>(method: 'GET' | 'POST', url: string, body?: unknown): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.accessToken();
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
        });
      } catch (error) {
        throw transient('bigquery_unavailable', `BigQuery did not answer (${errorMessage(error)}); the batch will be retried.`, { cause: error });
      }
      const text = await res.text();
      if (res.ok) return (text ? JSON.parse(text) : {}) as T;
      // An expired or revoked token: get a new one once.
      if (res.status === 401 && attempt === 0) {
        this.token = undefined;
        continue;
      }
      throw bigQueryError(res.status, text, parseRetryAfter(res.headers.get('retry-after'), this.clock.now()));
    }
  }

  insertAll(datasetId: string, tableId: string, rows: { insertId: string; json: Record<string, unknown> }[]) {
    return this.call<{ insertErrors?: InsertError[] }>('POST', `${this.base()}/datasets/${encodeURIComponent(datasetId)}/tables/${encodeURIComponent(tableId)}/insertAll`, {
      kind: 'bigquery#tableDataInsertAllRequest',
      skipInvalidRows: false,
      ignoreUnknownValues: false,
      rows,
    });
  }

  /** Runs a GoogleSQL statement with named parameters; rows come back as objects with typed values, page by page. */
  async *queryPages(sql: string, params: QueryParam[] = [], pageSize = 10_000): AsyncIterable<Record<string, unknown>[]> {
    let res = await this.call<QueryResponse>('POST', `${this.base()}/queries`, {
      query: sql,
      useLegacySql: false,
      parameterMode: 'NAMED',
      queryParameters: params.map(toQueryParameter),
      maxResults: pageSize,
      timeoutMs: 10_000,
    });
    for (;;) {
      while (res.jobComplete === false) res = await this.results(res, undefined, pageSize);
      if (res.rows?.length) yield res.rows.map((r) => rowObject(res.schema?.fields ?? [], r));
      if (!res.pageToken) return;
      res = await this.results(res, res.pageToken, pageSize);
    }
  }

  async query(sql: string, params: QueryParam[] = []): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    for await (const page of this.queryPages(sql, params)) out.push(...page);
    return out;
  }

  private results(previous: QueryResponse, pageToken: string | undefined, pageSize: number) {
    const job = previous.jobReference;
    if (!job) throw terminal('bigquery_protocol', 'BigQuery answered an unfinished query without a job reference.');
    const q = new URLSearchParams({ timeoutMs: '10000', maxResults: String(pageSize) });
    if (job.location) q.set('location', job.location);
    if (pageToken) q.set('pageToken', pageToken);
    return this.call<QueryResponse>('GET', `${this.base()}/queries/${encodeURIComponent(job.jobId)}?${q}`);
  }
}

function toQueryParameter(p: QueryParam) {
  if (Array.isArray(p.value))
    return { name: p.name, parameterType: { type: 'ARRAY', arrayType: { type: p.type } }, parameterValue: { arrayValues: p.value.map((v) => ({ value: String(v) })) } };
  return { name: p.name, parameterType: { type: p.type }, parameterValue: { value: String(p.value) } };
}

/** BigQuery's REST rows are `{ f: [{ v }] }` with every scalar as a string; TIMESTAMP is seconds since the epoch. */
function rowObject(fields: Field[], row: { f: { v: unknown }[] }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  fields.forEach((field, i) => {
    const v = row.f[i]?.v;
    if (v === null || v === undefined) out[field.name] = null;
    else if (field.type === 'INTEGER' || field.type === 'INT64') out[field.name] = v as string;
    else if (field.type === 'FLOAT' || field.type === 'FLOAT64' || field.type === 'NUMERIC') out[field.name] = Number(v);
    else if (field.type === 'BOOLEAN' || field.type === 'BOOL') out[field.name] = v === 'true' || v === true;
    else if (field.type === 'TIMESTAMP') out[field.name] = new Date(Number(v) * 1000).toISOString();
    else out[field.name] = v;
  });
  return out;
}

/** BigQuery's error reasons: rate limits and backend trouble pass; invalid requests and missing rights do not. */
function bigQueryError(status: number, body: string, retryAfterMs: number | undefined): AppError {
  let reason = '';
  let message = body.slice(0, 300);
  try {
    const e = (JSON.parse(body) as { error?: { message?: string; errors?: { reason?: string }[] } }).error;
    reason = e?.errors?.[0]?.reason ?? '';
    message = e?.message ?? message;
  } catch {
    // Not JSON: keep the text.
  }
  const passes = status >= 500 || status === 429 || /rateLimitExceeded|backendError|internalError|quotaExceeded|jobRateLimitExceeded/.test(reason);
  if (passes) return transient('bigquery_unavailable', `BigQuery answered ${status} ${reason} (${message}); the batch will be retried.`, { retryAfterMs });
  if (status === 404) return transient('bigquery_not_found', `BigQuery answered 404 (${message}); the dataset or table is being created or was removed — it is created again on the next attempt.`);
  return terminal('bigquery_rejected', `BigQuery refused the request: ${status} ${reason} (${message}).`);
}
