import { HttpSink } from '../../src/platform/stream/http-sink.ts';
import type { EngagementEvent } from '../../src/features/engagement/model.ts';
import { engagementEnvelope } from '../helpers/engagement.ts';
import { startRestReceiver, type RestReceiver } from '../helpers/rest-receiver.ts';
import { sinkContract } from './sink-contract.ts';

const POISON_ID = '999';

const restSink = (url: string) =>
  new HttpSink<EngagementEvent>({
    name: 'rest',
    url,
    timeoutMs: 2000,
    gzipAboveBytes: 65_536,
    breaker: { failureThreshold: 5, cooldownMs: 1000 },
    toJson: (e) => ({ ...e.value }),
  });

// The REST sink against a local server that behaves like an idempotent external API.
sinkContract('REST sink (local idempotent receiver)', async () => {
  const receiver: RestReceiver = await startRestReceiver();
  // The receiver refuses this event with 400 whatever batch carries it.
  receiver.behaviour.reject = (e) => e.id === POISON_ID;
  return {
    sink: restSink(receiver.url),
    envelope: (n) => engagementEnvelope(n),
    effects: async (ids) => new Map(ids.map((id) => [id, receiver.applied.has(id) ? 1 : 0])),
    poison: async () => engagementEnvelope(Number(POISON_ID)),
    unreachable: async () => restSink('http://127.0.0.1:1/events'),
    cleanup: () => receiver.close(),
  };
});
