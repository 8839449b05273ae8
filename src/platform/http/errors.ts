import { Elysia, ValidationError } from 'elysia';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { requestIdOf } from './request.ts';

export type ErrorBody = { error: { code: string; message: string; [detail: string]: unknown } };

/** An error answer in the service's one shape, `{ error: { code, message } }`. */
export const errorReply = (status: number, body: ErrorBody, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

type Schema = { type?: string; minimum?: number; maximum?: number; minLength?: number; maxLength?: number; enum?: unknown[]; anyOf?: Schema[]; format?: string; const?: unknown };

/** The rule a value broke, in words, from its schema (Elysia's own messages for coerced query values are vague). */
function ruleOf(schema: Schema | undefined): string | undefined {
  if (!schema) return undefined;
  if (schema.anyOf) {
    const literals = schema.anyOf.filter((s) => s.const !== undefined).map((s) => JSON.stringify(s.const));
    if (literals.length === schema.anyOf.length) return `one of ${literals.join(', ')}`;
    // Query numbers are "a numeric string or a number": describe the number branch.
    return ruleOf(schema.anyOf.find((s) => s.type === 'number' || s.type === 'integer') ?? schema.anyOf.find((s) => !s.format)) ?? undefined;
  }
  const kind = schema.type === 'integer' ? 'an integer' : schema.type === 'number' ? 'a number' : schema.type === 'boolean' ? 'true or false' : schema.type === 'string' ? 'a string' : undefined;
  if (!kind) return undefined;
  const { minimum: min, maximum: max } = schema;
  if (min !== undefined && max !== undefined) return `${kind} from ${min} to ${max}`;
  if (min !== undefined) return `${kind} ≥ ${min}`;
  if (max !== undefined) return `${kind} ≤ ${max}`;
  if (schema.maxLength !== undefined) return `${kind} of at most ${schema.maxLength} characters`;
  return kind;
}

function describeValidation(error: ValidationError, request: Request): string {
  const first = error.valueError as { path?: string; message?: string; value?: unknown; schema?: Schema } | undefined;
  let field = first?.path ? first.path.replace(/^\//, '').replaceAll('/', '.') : '';
  let where = error.type === 'body' ? 'request body' : `${error.type} parameter`;
  // A coerced query value fails as type "property" with no path: find the parameter by its value.
  if (error.type === ('property' as typeof error.type) && !field && first) {
    const params = [...new URL(request.url).searchParams].filter(([, v]) => v === String(first.value));
    if (params.length === 1) field = params[0]![0];
    where = 'query parameter';
  }
  const got = first && first.value !== undefined ? ` (got ${JSON.stringify(first.value)?.slice(0, 80)})` : '';
  // A schema's own `error` text names the parameter and its rule; prefer it when a route gives one.
  const custom = (error as { customError?: unknown }).customError;
  if (typeof custom === 'string' && custom) return `${custom}${got}. See /swagger for the accepted values.`;
  const what = field ? `${where} "${field}"` : where;
  const rule = ruleOf(first?.schema);
  const problem = rule ? `must be ${rule}` : (first?.message ?? 'does not match the schema');
  return `Invalid ${what}: ${problem}${got}. See /swagger for the accepted values.`;
}

/**
 * Turns every error into `{ error: { code, message } }` with a fitting status. Internal errors are logged with
 * the request id and stack, and the client only gets the id to quote, never the stack.
 */
export const errorHandler = (ctx: AppContext) =>
  new Elysia({ name: 'platform.errors' }).onError({ as: 'global' }, ({ code, error, request, set }) => {
    const requestId = requestIdOf(request);
    const headers: Record<string, string> = { 'x-request-id': requestId };
    // set.status feeds the request metrics, which run after the reply is sent.
    const json = (status: number, body: ErrorBody, extra: Record<string, string> = {}) => {
      set.status = status;
      // Client errors are logged too (at info: they are the client's to fix), so a user quoting the request id
      // can be helped; server errors were logged above with their cause.
      if (status < 500) ctx.log.info('request refused', { requestId, method: request.method, path: new URL(request.url).pathname, status, code: body.error.code, message: body.error.message });
      return errorReply(status, body, { ...headers, ...extra });
    };
    if (error instanceof AppError) {
      // 503 is an expected state (a service not configured or restarting): one warning line, no stack.
      if (error.status === 503) ctx.log.warn(error.message, { requestId, code: error.code });
      else if (error.status >= 500) ctx.log.error(error.message, { requestId, code: error.code, error: error.cause ?? error });
      const retryAfter: Record<string, string> = error.retryAfterMs !== undefined ? { 'retry-after': String(Math.ceil(error.retryAfterMs / 1000)) } : {};
      return json(error.status, { error: { code: error.code, message: error.message, ...error.details } }, retryAfter);
    }
    if ((error instanceof ValidationError || code === 'VALIDATION') && (error as ValidationError).type === 'response') {
      // Our reply broke its own documented schema: a bug on our side, not a bad request.
      ctx.log.error('response does not match its schema', { requestId, error: (error as Error).message.slice(0, 2000) });
      return json(500, { error: { code: 'internal', message: `Internal error; quote request id ${requestId} when reporting it.` } });
    }
    if (error instanceof ValidationError || code === 'VALIDATION')
      return json(400, { error: { code: 'invalid_request', message: describeValidation(error as ValidationError, request) } });
    if (code === 'NOT_FOUND')
      return json(404, { error: { code: 'not_found', message: `No route for ${request.method} ${new URL(request.url).pathname}. See /swagger for the routes.` } });
    if (code === 'PARSE')
      return json(400, { error: { code: 'invalid_body', message: 'The request body could not be parsed; send valid JSON with Content-Type: application/json.' } });
    if (code === 'INVALID_COOKIE_SIGNATURE' || code === 'INVALID_FILE_TYPE')
      return json(400, { error: { code: 'invalid_request', message: (error as Error).message } });
    const status = typeof set.status === 'number' && set.status >= 400 && set.status < 500 ? set.status : 500;
    if (status === 500) ctx.log.error('unhandled error', { requestId, error });
    return json(status, { error: { code: status === 500 ? 'internal' : 'request_failed', message: status === 500 ? `Internal error; quote request id ${requestId} when reporting it. Retrying may help.` : String((error as Error)?.message ?? error) } });
  });
