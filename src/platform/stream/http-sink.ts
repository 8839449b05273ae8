import { createHash } from 'node:crypto';
import { systemClock, type Clock } from '../clock.ts';
import { AppError, errorMessage, terminal, transient } from '../errors.ts';
import { parseRetryAfter } from '../retry.ts';
import { CircuitBreaker, type BreakerState } from './breaker.ts';
import { emptyResult, type Sink, type SinkResult } from './sink.ts';
import type { Envelope } from './types.ts';

export type HttpSinkOptions<T> = {
  name: string;
  url: string;
  /** Sent as `Authorization: Bearer …` when set. */
  token?: string;
  /** One request, response body included. */
  timeoutMs: number;
  /** Bodies above this size are gzipped. */
  gzipAboveBytes: number;
  breaker: { failureThreshold: number; cooldownMs: number };
  /** The JSON an envelope becomes (the sink adds `idempotency_key`). */
  toJson(envelope: Envelope<T>): Record<string, unknown>;
  clock?: Clock;
  onBreakerChange?: (state: BreakerState) => void;
};

/** Statuses a later attempt can get past: timeouts, throttling, server trouble. */
const TRANSIENT_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

type Reply = { id: string; status?: string; error?: string };

/**
 * POSTs batches as JSON (`{ "events": [{ "idempotency_key": <event id>, … }] }`, gzip when large) with an
 * `Idempotency-Key` header naming the batch (a hash of its ids). The receiver is expected to apply each
 * `idempotency_key` once; it may answer per event (`{ "results": [{ "idempotency_key", "status":
 * "created" | "duplicate" | "rejected", "error" }] }`), otherwise a 2xx means every event was taken.
 *
 * - network errors, timeouts, 408/425/429/5xx: the batch fails transiently (with the `Retry-After` delay when
 *   given), and the caller's retry budget decides what happens next;
 * - another 4xx for a batch: the batch is split in halves until the events the endpoint refuses stand alone;
 *   each of those fails terminally, the others go through;
 * - a circuit breaker counts consecutive failed requests; while it is open, writes fail at once without a
 *   request (terminal for this delivery: the events go to the DLQ and can be replayed), so a dead endpoint
 *   costs the pipeline one retry budget, not one per batch.
 */
export class HttpSink<T> implements Sink<T> {
  readonly name: string;
  readonly breaker: CircuitBreaker;

  constructor(private options: HttpSinkOptions<T>) {
    this.name = options.name;
    new URL(options.url);
    if (!(options.timeoutMs > 0)) throw new Error(`timeoutMs must be positive (got ${options.timeoutMs})`);
    this.breaker = new CircuitBreaker({ ...options.breaker, clock: options.clock, onChange: options.onBreakerChange });
  }

  private get clock() {
    return this.options.clock ?? systemClock;
  }

  async write(batch: Envelope<T>[]): Promise<SinkResult> {
    const result = emptyResult();
    if (!batch.length) return result;
    if (!this.breaker.tryAcquire()) {
      const error = new AppError(
        'rest_circuit_open',
        `The REST endpoint ${this.options.url} failed ${this.options.breaker.failureThreshold} times in a row; its circuit is open for ${Math.ceil(this.breaker.retryInMs() / 1000)} s more. These events go to the DLQ; replay them with POST /dlq/replay?sink=${this.name} once the endpoint is back.`,
        { status: 503, retryable: false },
      );
      for (const e of batch) result.failed.push({ id: e.id, error });
      return result;
    }
    await this.deliver(batch, result);
    return result;
  }

  /** Sends `batch`; on a 4xx splits it to find the refused events. Throws when the outcome is unknown. */
  private async deliver(batch: Envelope<T>[], result: SinkResult): Promise<void> {
    let response: { status: number; headers: Headers; body: string };
    try {
      response = await this.post(batch);
    } catch (error) {
      this.breaker.failure();
      throw error;
    }
    const { status } = response;
    if (status >= 200 && status < 300) {
      this.breaker.success();
      this.readResults(batch, response.body, result);
      return;
    }
    if (TRANSIENT_STATUS.has(status) || status >= 500) {
      this.breaker.failure();
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.clock.now());
      throw transient(status === 429 ? 'rest_throttled' : 'rest_unavailable', `The REST endpoint answered ${status}${snippet(response.body)}; the batch will be retried${retryAfterMs !== undefined ? ` after ${retryAfterMs} ms (Retry-After)` : ''}.`, {
        retryAfterMs,
      });
    }
    // The endpoint is up and answered: only the content is at fault.
    this.breaker.success();
    if (status === 401 || status === 403) {
      const error = terminal('rest_unauthorized', `The REST endpoint refused our credentials (${status}${snippet(response.body)}). Check EXTERNAL_SINK_TOKEN.`);
      for (const e of batch) result.failed.push({ id: e.id, error });
      return;
    }
    if (batch.length === 1) {
      result.failed.push({ id: batch[0]!.id, error: terminal('rest_rejected', `The REST endpoint refused event ${batch[0]!.id} with ${status}${snippet(response.body)}.`) });
      return;
    }
    const half = Math.ceil(batch.length / 2);
    await this.deliver(batch.slice(0, half), result);
    await this.deliver(batch.slice(half), result);
  }

  private readResults(batch: Envelope<T>[], body: string, result: SinkResult) {
    const replies = new Map<string, Reply>();
    try {
      const parsed = body ? (JSON.parse(body) as { results?: { idempotency_key?: unknown; status?: unknown; error?: unknown }[] }) : undefined;
      for (const r of Array.isArray(parsed?.results) ? parsed.results : [])
        if (typeof r.idempotency_key === 'string') replies.set(r.idempotency_key, { id: r.idempotency_key, status: String(r.status ?? ''), error: r.error === undefined ? undefined : String(r.error) });
    } catch {
      // A 2xx with a body that is not our JSON: every event was taken.
    }
    for (const e of batch) {
      const reply = replies.get(e.id);
      if (reply?.status === 'duplicate') result.duplicates.push(e.id);
      else if (reply?.status === 'rejected') result.failed.push({ id: e.id, error: terminal('rest_rejected', `The REST endpoint rejected event ${e.id}${reply.error ? `: ${reply.error}` : ''}.`) });
      else result.applied.push(e.id);
    }
  }

  private async post(batch: Envelope<T>[]) {
    const json = JSON.stringify({ events: batch.map((e) => ({ idempotency_key: e.id, ...this.options.toJson(e) })) });
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'idempotency-key': batchKey(batch.map((e) => e.id)),
    };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    let body: BodyInit = json;
    if (json.length > this.options.gzipAboveBytes) {
      // Level 1: most of the size gain for a fraction of the CPU (JSON of similar events compresses well).
      body = Bun.gzipSync(json, { level: 1 }) as Uint8Array<ArrayBuffer>;
      headers['content-encoding'] = 'gzip';
    }
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    try {
      const res = await fetch(this.options.url, { method: 'POST', headers, body, signal });
      return { status: res.status, headers: res.headers, body: await res.text() };
    } catch (error) {
      if (signal.aborted)
        throw transient('rest_timeout', `The REST endpoint ${this.options.url} did not answer within ${this.options.timeoutMs} ms (EXTERNAL_SINK_TIMEOUT_MS); the batch will be retried.`, { cause: error });
      throw transient('rest_unreachable', `Could not reach the REST endpoint ${this.options.url} (${errorMessage(error)}); the batch will be retried.`, { cause: error });
    }
  }

  async check() {
    return { url: this.options.url, breaker: this.breaker.state };
  }

  async close() {}
}

/** The batch's idempotency key: the same ids give the same key, whatever their order. */
export function batchKey(ids: string[]): string {
  return createHash('sha256').update([...ids].sort().join('\n')).digest('base64url').slice(0, 32);
}

const snippet = (body: string) => (body ? `: ${body.slice(0, 200)}` : '');
