import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';

export type RateLimitOptions = { perMinute: number; burst?: number; clock: Clock; maxClients?: number };

/**
 * Token bucket per client: `burst` requests at once, refilled at `perMinute`. Used as `beforeHandle` on search
 * and mutating routes only, so health probes and static assets never count. The client is the socket's
 * address (never a header a client can forge); the bucket table is bounded.
 */
export function rateLimiter(options: RateLimitOptions) {
  const { perMinute, clock } = options;
  const burst = options.burst ?? Math.max(1, Math.ceil(perMinute / 6));
  const perMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  const maxClients = options.maxClients ?? 10_000;

  return ({ request, server }: { request: Request; server?: { requestIP(r: Request): { address: string } | null } | null }) => {
    const client = server?.requestIP(request)?.address ?? 'local';
    const now = clock.now();
    let b = buckets.get(client);
    if (!b) {
      if (buckets.size >= maxClients) buckets.clear();
      b = { tokens: burst, at: now };
      buckets.set(client, b);
    }
    b.tokens = Math.min(burst, b.tokens + (now - b.at) * perMs);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return;
    }
    const retryAfterMs = Math.ceil((1 - b.tokens) / perMs);
    throw new AppError('rate_limited', `Too many requests from this client (limit ${perMinute}/min). Retry after ${Math.ceil(retryAfterMs / 1000)} s.`, { status: 429, retryable: true, retryAfterMs });
  };
}
