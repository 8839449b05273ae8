import type { Attributes, Span } from '@opentelemetry/api';

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

/** Tracing for this process; the OpenTelemetry SDK is only loaded when an endpoint is configured. */
export async function createTracing(options: { endpoint?: string; serviceName: string }): Promise<Tracing> {
  if (!options.endpoint) return noTracing;
  const { otlpTracing } = await import('./tracing-otlp.ts');
  return otlpTracing({ endpoint: options.endpoint, serviceName: options.serviceName });
}
