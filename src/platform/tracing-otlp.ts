import { SpanStatusCode, type Attributes } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { Tracing } from './tracing.ts';

/** OpenTelemetry traces over OTLP/HTTP, batched in the background, one trace per request and per pipeline batch. */
export function otlpTracing(options: { endpoint: string; serviceName: string }): Tracing {
  const url = options.endpoint.replace(/\/+$/, '') + '/v1/traces';
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }), scheduledDelayMillis: 1000 })],
  });
  const tracer = provider.getTracer('sillage');
  const start = (name: string, attributes?: Attributes) => tracer.startSpan(name, { attributes });
  return {
    enabled: true,
    start,
    span: async (name, attributes, fn) => {
      const s = start(name, attributes);
      try {
        return await fn();
      } catch (error) {
        s.recordException(error as Error);
        s.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
        throw error;
      } finally {
        s.end();
      }
    },
    shutdown: () => provider.shutdown(),
  };
}
