import { timingSafeEqual, createHash } from 'node:crypto';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * `beforeHandle` guard for mutating routes. Comparing digests keeps the comparison constant-time even when the
 * lengths differ. Without API_KEY the guard lets everything through (local development).
 */
export function requireApiKey(ctx: AppContext) {
  const key = ctx.config.API_KEY;
  const expected = key ? digest(key) : undefined;
  return ({ request }: { request: Request }) => {
    if (!expected) return;
    const header = request.headers.get('authorization') ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m) throw new AppError('unauthorized', 'This route changes data and needs "Authorization: Bearer <API_KEY>".', { status: 401, retryable: false });
    if (!timingSafeEqual(digest(m[1]!.trim()), expected)) throw new AppError('forbidden', 'The bearer token does not match API_KEY.', { status: 403, retryable: false });
  };
}

/** OpenAPI security note for protected routes. */
export const protectedDetail = { security: [{ bearer: [] }] };

/**
 * The guard of every mutating route, used as the route's `transform` hook so it runs before body and query
 * validation (an unauthenticated client learns nothing about the route). The per-client limit comes first, so
 * guessing the key is rate-limited too.
 */
export function mutationGuard(ctx: AppContext) {
  const key = requireApiKey(ctx);
  const limit = ctx.limits.mutations;
  return (c: { request: Request; server?: Parameters<typeof limit>[0]['server'] }) => {
    limit(c);
    key(c);
  };
}
