import { expect, setDefaultTimeout, test } from 'bun:test';

setDefaultTimeout(60_000);
import { testApp, waitFor } from '../helpers/index.ts';

test('with OTEL_EXPORTER_OTLP_ENDPOINT set, each request is exported as a trace to the collector', async () => {
  const received: unknown[] = [];
  // A real OTLP/HTTP endpoint: the exporter posts protobuf or JSON to /v1/traces.
  const collector = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      if (new URL(req.url).pathname === '/v1/traces') received.push(new Uint8Array(await req.arrayBuffer()));
      return new Response('{}', { headers: { 'content-type': 'application/json' } });
    },
  });
  const t = await testApp({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}` });
  try {
    expect(t.ctx.tracing.enabled).toBe(true);
    await t.request('/health');
    await t.ctx.tracing.span('engagement.batch', { size: 3 }, async () => 1);
    await waitFor(() => received.length > 0, { what: 'a trace export', timeoutMs: 15_000 });
    const text = new TextDecoder('latin1').decode(received[0] as Uint8Array);
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
