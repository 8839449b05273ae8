/**
 * Window math of the live aggregates. Events are counted in 1-minute buckets by event time; a window of N
 * minutes is the sum of the N buckets ending with the current minute. A bucket is never read again once it
 * has left every window, so its keys expire then (plus a margin), and an event for such a bucket is late.
 */

export const BUCKET_MS = 60_000;
/** Extra life of a bucket's keys after its last possible read, so a read at the edge never sees half a bucket. */
export const EXPIRY_MARGIN_MS = 60_000;

export const bucketOf = (ms: number): number => Math.floor(ms / BUCKET_MS);

/** Buckets summed for a window of `windowMinutes` at time `nowMs`, oldest first. */
export function windowBuckets(nowMs: number, windowMinutes: number): number[] {
  const current = bucketOf(nowMs);
  return Array.from({ length: windowMinutes }, (_, i) => current - windowMinutes + 1 + i);
}

/** When the keys of `bucket` can go (ms since epoch): after the last window containing it has passed. */
export const bucketExpiresAtMs = (bucket: number, windowMinutes: number): number => (bucket + windowMinutes) * BUCKET_MS + EXPIRY_MARGIN_MS;

/** An event whose bucket is no longer in any window at `nowMs` has no live effect. */
export const isLate = (bucket: number, nowMs: number, windowMinutes: number): boolean => bucket + windowMinutes <= bucketOf(nowMs);
