import { describe, expect, setDefaultTimeout, test } from 'bun:test';

setDefaultTimeout(60_000);
import { skipReason, testApp, waitFor } from '../helpers/index.ts';
import { CONTENT, insertContent, insertEvents, pipelineEnv, startPipeline, user } from './engagement-fixture.ts';

/** A real OTLP/HTTP endpoint: the exporter posts protobuf or JSON to /v1/traces; bodies are kept as they came. */
function startCollector() {
  const received: Uint8Array[] = [];
  const collector = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      if (new URL(req.url).pathname === '/v1/traces') received.push(new Uint8Array(await req.arrayBuffer()));
      return new Response('{}', { headers: { 'content-type': 'application/json' } });
    },
  });
  return { received, collector };
}

test('with OTEL_EXPORTER_OTLP_ENDPOINT set, each request is exported as a trace to the collector', async () => {
  const { received, collector } = startCollector();
  const t = await testApp({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}` });
  try {
    expect(t.ctx.tracing.enabled).toBe(true);
    await t.request('/health');
    await t.ctx.tracing.span('engagement.batch', { size: 3 }, async () => 1);
    await waitFor(() => received.length > 0, { what: 'a trace export', timeoutMs: 15_000 });
    const text = new TextDecoder('latin1').decode(received[0]);
    expect(text).toContain('GET /health');
  } finally {
    await t.close();
    collector.stop(true);
  }
});

test('without an endpoint tracing is off and costs nothing', async () => {
  const t = await testApp();
  try {
    expect(t.ctx.tracing.enabled).toBe(false);
    expect(t.ctx.tracing.start('x')).toBeUndefined();
  } finally {
    await t.close();
  }
});

describe.skipIf(!!skipReason('postgres', 'kafka', 'redis'))('tracing of the engagement pipeline', () => {
  test('a real processor batch (in its worker) is exported as an engagement.batch span', async () => {
    const { received, collector } = startCollector();
    try {
      const { sql, close } = await startPipeline(pipelineEnv({ CDC_HEARTBEAT_SECONDS: '1', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}` }));
      try {
        await insertContent(sql, [CONTENT.podcast]);
        await insertEvents(sql, [{ content_id: CONTENT.podcast.id, user_id: user(1), event_type: 'play', duration_ms: null }]);
        const text = () => received.map((r) => new TextDecoder('latin1').decode(r)).join('\n');
        await waitFor(() => text().includes('engagement.batch'), { what: 'an engagement.batch span from the processor worker', timeoutMs: 45_000 });
        expect(text()).toContain('engagement.batch');
      } finally {
        await close();
      }
    } finally {
      collector.stop(true);
    }
  }, 90_000);
});
