import { AppError, errorMessage, isRetryable } from '../errors.ts';
import type { Envelope } from './types.ts';

/** Why one envelope was not applied, and whether trying again can help. */
export type SinkFailure = { id: string; error: AppError };

/**
 * What a sink did with a batch, per envelope id. Every id of the batch appears in exactly one list.
 * `duplicates` are ids the sink had already applied earlier (a redelivery): acknowledged, no new effect.
 */
export type SinkResult = { applied: string[]; duplicates: string[]; failed: SinkFailure[] };

/**
 * The one interface every output implements (Redis, warehouse, BigQuery, REST…), checked by the shared
 * contract suite in tests/contracts/sink-contract.ts:
 * - idempotent: applying an id that was already applied changes nothing and is reported as a duplicate;
 * - durable before ack: when `write` resolves, every id in `applied`/`duplicates` survives a crash of this process;
 * - classified errors: a failure is an AppError whose `retryable` says transient (retry may help) or terminal.
 *
 * `write` rejects only when the outcome of the batch is unknown as a whole (connection lost, timeout); part of
 * the batch may then have been applied, which idempotence makes safe to retry.
 */
export interface Sink<T> {
  readonly name: string;
  write(batch: Envelope<T>[]): Promise<SinkResult>;
  /** Optional readiness probe for /health. */
  check?(): Promise<Record<string, unknown> | void>;
  close(): Promise<void>;
}

export const emptyResult = (): SinkResult => ({ applied: [], duplicates: [], failed: [] });

/** Wraps any thrown value in an AppError that keeps its transient/terminal nature. */
export function asSinkError(sink: string, error: unknown): AppError {
  if (error instanceof AppError) return error;
  const retryable = isRetryable(error);
  return new AppError(retryable ? 'sink_unavailable' : 'sink_rejected', `Sink ${sink} failed: ${errorMessage(error)}`, {
    status: retryable ? 503 : 500,
    retryable,
    cause: error,
  });
}

/** Checks a result covers each id of the batch exactly once; a sink that breaks this has a bug worth stopping for. */
export function checkResult(sink: string, batch: Envelope<unknown>[], result: SinkResult): void {
  const seen = new Set<string>();
  for (const id of [...result.applied, ...result.duplicates, ...result.failed.map((f) => f.id)]) {
    if (seen.has(id)) throw new Error(`Sink ${sink} reported id ${id} twice in one result`);
    seen.add(id);
  }
  const missing = batch.filter((e) => !seen.has(e.id)).map((e) => e.id);
  if (missing.length) throw new Error(`Sink ${sink} did not report on ids ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? '…' : ''}`);
}
