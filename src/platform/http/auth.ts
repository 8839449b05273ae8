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
