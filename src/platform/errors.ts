/**
 * One error type for the whole service. It carries what the client sees (code, status, message) and what a
 * caller needs to decide on a retry (`retryable`). Messages say what went wrong, why, and how to fix it.
 */
export type ErrorOptions = {
  status?: number;
  retryable?: boolean;
  cause?: unknown;
  /** Extra fields returned to the client next to code and message (e.g. the id of a conflicting run). */
  details?: Record<string, unknown>;
  /** Milliseconds the server asked us to wait (Retry-After), when known. */
  retryAfterMs?: number;
};

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly retryable: boolean;
  readonly details?: Record<string, unknown>;
  readonly retryAfterMs?: number;

  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = options.status ?? 500;
    this.retryable = options.retryable ?? this.status >= 500;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
  }
}

export const badRequest = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(code, message, { status: 400, retryable: false, details });
export const notFound = (what: string, id: string | number) =>
  new AppError('not_found', `${what} ${JSON.stringify(String(id))} does not exist. List them first to find a valid id.`, { status: 404, retryable: false });
export const conflict = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(code, message, { status: 409, retryable: true, details });
export const unavailable = (code: string, message: string, cause?: unknown) =>
  new AppError(code, message, { status: 503, retryable: true, cause });

/** A failure that cannot succeed by trying again (bad data, 4xx, schema violation). */
export const terminal = (code: string, message: string, cause?: unknown) =>
  new AppError(code, message, { status: 500, retryable: false, cause });
/** A failure that may succeed later (network, 5xx, timeouts, a service restarting). */
export const transient = (code: string, message: string, options: Omit<ErrorOptions, 'retryable'> = {}) =>
  new AppError(code, message, { status: 503, ...options, retryable: true });

/** Decides retryability for errors we did not create (network stacks, drivers). Unknown errors are retryable. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof AppError) return error.retryable;
  if (error && typeof error === 'object' && 'retriable' in error) return !!(error as { retriable: unknown }).retriable;
  return true;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
