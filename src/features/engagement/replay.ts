import { AppError, badRequest, errorMessage } from '../../platform/errors.ts';
import type { Logger } from '../../platform/log.ts';
import { asSinkError, checkResult, type Sink } from '../../platform/stream/sink.ts';
import type { Envelope } from '../../platform/stream/types.ts';
import type { Sql } from '../../platform/stores/postgres.ts';
import type { ContentCatalogue } from './catalogue.ts';
import { countDeadLetters, findDeadLetters, markReplayed, markReplayFailed, recordOf, type DeadLetterRow } from './dead-letters.ts';
import type { EngagementEvent, EngagementEventMessage } from './model.ts';
import { decodeEvent } from './processor.ts';
import { enrich } from './transform.ts';

export type ReplayRequest = { sink?: string; ids?: string[]; limit: number };
export type ReplayFailure = { id: string | null; sink: string | null; error: string };
export type ReplayReport = { replayed: number; applied: number; duplicates: number; failed: ReplayFailure[]; remaining: number };

/** `42` and `engagement_events:42` name the same event. */
export const normaliseId = (id: string) => (/^\d+$/.test(id) ? `engagement_events:${id}` : id);

/**
 * Re-drives pending dead letters: each record is decoded and enriched again (the content may exist by now)
 * and written to the sink that gave up on it, or to every sink when it was refused before the fan-out. Every
 * sink applies an event id at most once, so replaying something that was delivered meanwhile, or replaying
 * twice, changes nothing. A letter is marked replayed when all its sinks acknowledged; one that fails again
 * stays pending, with the reason in the answer.
 */
export async function replayDeadLetters(
  deps: { sql: Sql; sinks: Map<string, Sink<EngagementEvent>>; catalogue: ContentCatalogue; log: Logger },
  req: ReplayRequest,
): Promise<ReplayReport> {
  const { sql, sinks } = deps;
  if (req.sink !== undefined && !sinks.has(req.sink))
    throw badRequest('unknown_sink', `No enabled sink is named ${JSON.stringify(req.sink)}; the enabled sinks are ${[...sinks.keys()].join(', ')}. Leave sink out to replay each letter to its own sink.`);
  const ids = req.ids?.map(normaliseId);
  const letters = await findDeadLetters(sql, { sink: req.sink, ids, pending: true, limit: ids ? Math.max(req.limit, ids.length * sinks.size + 1) : req.limit });
  if (ids) {
    const found = new Set(letters.map((l) => l.message_id));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length)
      throw new AppError(
        'dlq_ids_not_found',
        `${missing.length} of the ids are not pending in the dead-letter queue${req.sink ? ` of sink ${req.sink}` : ''}: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? '…' : ''}. Nothing was replayed. List them with GET /dlq${req.sink ? `?sink=${req.sink}` : ''}; replayed letters are no longer pending.`,
        { status: 404, retryable: false, details: { missing } },
      );
  }

  const failed: ReplayFailure[] = [];
  const again: { letter_key: string; reason: string; error: string }[] = [];
  const fail = (letter: DeadLetterRow, sink: string | null, reason: string, error: string) => {
    failed.push({ id: letter.message_id, sink, error: `${reason}: ${error}` });
    again.push({ letter_key: letter.letter_key, reason, error });
  };
  const decoded: { letter: DeadLetterRow; id: string; event: EngagementEventMessage }[] = [];
  const wanted: string[] = [];
  for (const letter of letters) {
    const d = decodeEvent(recordOf(letter));
    if (!d.ok) {
      fail(letter, letter.sink || null, d.reason, d.error);
      continue;
    }
    if (d.event.content_id) wanted.push(d.event.content_id);
    decoded.push({ letter, id: d.id, event: d.event });
  }
  const contents = await deps.catalogue.resolve(wanted);
  const bySink = new Map<string, { letter: DeadLetterRow; envelope: Envelope<EngagementEvent> }[]>();
  for (const item of decoded) {
    const contentId = item.event.content_id;
    const content = contentId ? contents.get(contentId) : undefined;
    if (!content || !contentId) {
      fail(item.letter, item.letter.sink || null, 'unknown_content', `Content ${contentId ?? '(none)'} is still unknown.`);
      continue;
    }
    const envelope: Envelope<EngagementEvent> = { id: item.id, value: enrich({ ...item.event, content_id: contentId }, content, null), record: recordOf(item.letter) };
    for (const target of item.letter.sink ? [item.letter.sink] : [...sinks.keys()]) {
      if (!sinks.has(target)) {
        fail(item.letter, target, 'sink_disabled', `Sink ${target} is not enabled in this process.`);
        continue;
      }
      bySink.set(target, [...(bySink.get(target) ?? []), { letter: item.letter, envelope }]);
    }
  }

  let applied = 0;
  let duplicates = 0;
  const acked = new Map<DeadLetterRow, number>();
  const needed = new Map<DeadLetterRow, number>();
  for (const items of bySink.values()) for (const { letter } of items) needed.set(letter, (needed.get(letter) ?? 0) + 1);
  for (const [name, items] of bySink) {
    const sink = sinks.get(name)!;
    const unique = new Map(items.map((i) => [i.envelope.id, i]));
    const batch = [...unique.values()].map((i) => i.envelope);
    try {
      const result = await sink.write(batch);
      checkResult(name, batch, result);
      applied += result.applied.length;
      duplicates += result.duplicates.length;
      const ok = new Set([...result.applied, ...result.duplicates]);
      const errors = new Map(result.failed.map((f) => [f.id, f.error]));
      for (const item of items) {
        if (ok.has(item.envelope.id)) acked.set(item.letter, (acked.get(item.letter) ?? 0) + 1);
        const e = errors.get(item.envelope.id);
        if (e) fail(item.letter, name, e.code, e.message);
      }
    } catch (error) {
      const e = asSinkError(name, error);
      deps.log.warn('dlq replay: sink failed', { sink: name, events: batch.length, error: errorMessage(e) });
      for (const item of items) fail(item.letter, name, e.code, e.message);
    }
  }
  const done = [...needed].filter(([letter, n]) => acked.get(letter) === n).map(([letter]) => letter);
  await markReplayed(sql, done);
  await markReplayFailed(sql, again);
  const counts = await countDeadLetters(sql, req.sink);
  return { replayed: done.length, applied, duplicates, failed, remaining: counts.pending };
}
