/** Redis key layout of the live aggregates (all under the deployment's REDIS_KEY_PREFIX); aggregate.lua builds the same names. */
export const liveKeys = (prefix: string) => ({
  agg: (bucket: number, contentId: string) => `${prefix}eng:agg:${bucket}:${contentId}`,
  users: (bucket: number, contentId: string) => `${prefix}eng:users:${bucket}:${contentId}`,
  top: (bucket: number, contentType?: string) => `${prefix}eng:top:${bucket}${contentType ? `:${contentType}` : ''}`,
  recent: (contentId: string) => `${prefix}eng:recent:${contentId}`,
  content: (contentId: string) => `${prefix}eng:content:${contentId}`,
  seen: (bucket: number) => `${prefix}eng:seen:${bucket}`,
  /** Total events applied, ever (a plain counter for benchmarks and status). */
  applied: `${prefix}eng:applied`,
});
