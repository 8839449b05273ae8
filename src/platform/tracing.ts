import { SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

export type Tracing = {
  readonly enabled: boolean;
  /** Starts a span (a trace root) for one unit of work: a request, a pipeline batch. */
  start(name: string, attributes?: Attributes): Span | undefined;
  /** Runs `fn` inside a span that ends when it settles, recording an error status on failure. */
  span<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T>;
  shutdown(): Promise<void>;
};

/** What runs when OTEL_EXPORTER_OTLP_ENDPOINT is unset: no SDK is loaded and every call is a plain function call. */
export const noTracing: Tracing = {
  enabled: false,
  start: () => undefined,
  span: (_n, _a, fn) => fn(),
  shutdown: async () => {},
};

/** OpenTelemetry traces over OTLP/HTTP, batched in the background, one trace per request and per pipeline batch. */
export function createTracing(options: { endpoint?: string; serviceName: string }): Tracing {
  if (!options.endpoint) return noTracing;
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
