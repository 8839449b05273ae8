/**
 * Window assignment and watermark rules, all in event time (milliseconds since the epoch).
 *
 * A window is the half-open interval [start, end). Tumbling and hopping windows are aligned to the epoch, so the
 * same record always lands in the same windows whatever order it arrives in. A session window is
 * [first event, last event + gap) and grows or merges as records arrive (see aggregate.ts).
 *
 * The watermark is the engine's estimate of event-time progress, after Spark's `withWatermark`: the largest event
 * time seen so far minus the watermark delay. A window is *due* (its result is emitted) once the watermark reaches
 * its end, and *closed* (its state dropped) once the watermark reaches end + allowed lateness. A record is too
 * late when every window it belongs to is closed.
 */

export type WindowDef =
  | { type: 'tumbling'; sizeMs: number }
  | { type: 'hopping'; sizeMs: number; slideMs: number }
  | { type: 'session'; gapMs: number };

/** Largest multiple of `step` that is ≤ t (also right for times before the epoch). */
export const floorTo = (t: number, step: number) => t - (((t % step) + step) % step);

/**
 * Starts of the fixed windows (tumbling or hopping) that contain `t`, newest first, written into `out`; returns
 * how many. A hopping window of size S sliding by D holds each record in ceil(S / D) windows.
 */
export function windowStarts(def: Exclude<WindowDef, { type: 'session' }>, t: number, out: number[]): number {
  if (def.type === 'tumbling') {
    out[0] = floorTo(t, def.sizeMs);
    return 1;
  }
  let n = 0;
  for (let s = floorTo(t, def.slideMs); s > t - def.sizeMs; s -= def.slideMs) out[n++] = s;
  return n;
}

export const windowSizeMs = (def: WindowDef) => (def.type === 'session' ? def.gapMs : def.sizeMs);

/** The watermark after seeing an event at `eventTimeMs`: it never goes back. */
export const advanceWatermark = (watermark: number, eventTimeMs: number, delayMs: number) => Math.max(watermark, eventTimeMs - delayMs);

/** The window's result can be emitted: no more on-time records are expected for it. */
export const isDue = (endMs: number, watermark: number) => endMs <= watermark;

/** The window's state is dropped: records for it are now too late and go to the dead-letter table. */
export const isClosed = (endMs: number, latenessMs: number, watermark: number) => endMs + latenessMs <= watermark;

/**
 * The watermark of a quiet source. Once no record has arrived for `idleTimeoutMs`, the watermark moves on with the
 * wall clock, as if records kept arriving with current event times; so the last windows of a topic that stopped
 * still close. Before the timeout (or with no timeout) the watermark stays put.
 */
export function idleWatermark(options: {
  watermark: number;
  maxEventTimeMs: number;
  delayMs: number;
  lastArrivalMs: number;
  nowMs: number;
  idleTimeoutMs?: number;
}): number {
  const { watermark, maxEventTimeMs, delayMs, lastArrivalMs, nowMs, idleTimeoutMs } = options;
  if (idleTimeoutMs === undefined || !Number.isFinite(maxEventTimeMs) || nowMs - lastArrivalMs < idleTimeoutMs) return watermark;
  return Math.max(watermark, maxEventTimeMs - delayMs + (nowMs - lastArrivalMs));
}
