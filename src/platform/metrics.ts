import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';

/**
 * One registry per running app (tests build many apps in one process, so nothing is registered globally).
 * Features ask for their metrics through the get-or-create helpers, so registering twice is harmless.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'sillage_' });
    this.httpRequests = this.counter({ name: 'sillage_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'] });
    this.httpDuration = this.histogram({
      name: 'sillage_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
  }

  private existing<M extends Metric>(name: string): M | undefined {
    return this.registry.getSingleMetric(name) as M | undefined;
  }
  counter<L extends string>(cfg: { name: string; help: string; labelNames?: readonly L[] }): Counter<L> {
    return this.existing<Counter<L>>(cfg.name) ?? new Counter<L>({ ...cfg, registers: [this.registry] });
  }
  gauge<L extends string>(cfg: { name: string; help: string; labelNames?: readonly L[]; collect?: (this: Gauge<L>) => void | Promise<void> }): Gauge<L> {
    return this.existing<Gauge<L>>(cfg.name) ?? new Gauge<L>({ ...cfg, registers: [this.registry] });
  }
  histogram<L extends string>(cfg: { name: string; help: string; labelNames?: readonly L[]; buckets?: number[] }): Histogram<L> {
    return this.existing<Histogram<L>>(cfg.name) ?? new Histogram<L>({ ...cfg, registers: [this.registry] });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
  get contentType(): string {
    return this.registry.contentType;
  }

  /** A compact JSON view: one entry per metric with its summed value(s), for humans and the dashboard. */
  async summary(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const m of await this.registry.getMetricsAsJSON()) {
      const values = m.values as { value: number; labels: Record<string, string | number>; metricName?: string }[];
      if (String(m.type) === 'histogram') {
        const count = values.filter((v) => v.metricName?.endsWith('_count')).reduce((a, v) => a + v.value, 0);
        const sum = values.filter((v) => v.metricName?.endsWith('_sum')).reduce((a, v) => a + v.value, 0);
        out[m.name] = { count, sum, avg: count ? sum / count : 0 };
      } else if (values.length === 1 && Object.keys(values[0]!.labels).length === 0) {
        out[m.name] = values[0]!.value;
      } else {
        out[m.name] = values.map((v) => ({ labels: v.labels, value: v.value }));
      }
    }
    return out;
  }
}
