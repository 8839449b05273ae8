import type { Metrics } from '../metrics.ts';

/**
 * Metrics from inside a worker. A worker is a separate JS realm with no access to the app's registry, so it
 * buffers counter increments, gauge values and histogram observations and sends them to the parent as one
 * message per flush; the parent applies them to its registry with `applyTelemetry`.
 */
export type MetricDef = {
  kind: 'counter' | 'gauge' | 'histogram';
  name: string;
  help: string;
  labelNames?: readonly string[];
  buckets?: number[];
};

export type TelemetryMessage = {
  type: 'telemetry';
  counters: [name: string, labels: Record<string, string>, value: number][];
  gauges: [name: string, labels: Record<string, string>, value: number][];
  histograms: [name: string, labels: Record<string, string>, values: number[]][];
};

const keyOf = (name: string, labels: Record<string, string>) => `${name}\u0000${JSON.stringify(labels)}`;

export class TelemetryBuffer {
  private counters = new Map<string, [string, Record<string, string>, number]>();
  private gauges = new Map<string, [string, Record<string, string>, number]>();
  private histograms = new Map<string, [string, Record<string, string>, number[]]>();

  inc(name: string, labels: Record<string, string> = {}, value = 1) {
    if (!value) return;
    const k = keyOf(name, labels);
    const c = this.counters.get(k);
    if (c) c[2] += value;
    else this.counters.set(k, [name, labels, value]);
  }
  set(name: string, labels: Record<string, string>, value: number) {
    this.gauges.set(keyOf(name, labels), [name, labels, value]);
  }
  observe(name: string, labels: Record<string, string>, value: number) {
    const k = keyOf(name, labels);
    const h = this.histograms.get(k);
    if (h) h[2].push(value);
    else this.histograms.set(k, [name, labels, [value]]);
  }
  /** Everything buffered since the last drain, or undefined when there is nothing to send. */
  drain(): TelemetryMessage | undefined {
    if (!this.counters.size && !this.gauges.size && !this.histograms.size) return undefined;
    const msg: TelemetryMessage = { type: 'telemetry', counters: [...this.counters.values()], gauges: [...this.gauges.values()], histograms: [...this.histograms.values()] };
    this.counters.clear();
    this.gauges.clear();
    this.histograms.clear();
    return msg;
  }
}

export function applyTelemetry(metrics: Metrics, defs: readonly MetricDef[], msg: TelemetryMessage) {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const def = (name: string) => {
    const d = byName.get(name);
    if (!d) throw new Error(`Worker sent metric ${name}, which is not declared`);
    return d;
  };
  for (const [name, labels, value] of msg.counters) metrics.counter({ ...def(name), labelNames: def(name).labelNames ?? [] }).inc(labels, value);
  for (const [name, labels, value] of msg.gauges) metrics.gauge({ ...def(name), labelNames: def(name).labelNames ?? [] }).set(labels, value);
  for (const [name, labels, values] of msg.histograms) {
    const h = metrics.histogram({ ...def(name), labelNames: def(name).labelNames ?? [] });
    for (const v of values) h.observe(labels, v);
  }
}

/** Registers every declared metric up front, so /metrics lists them (at zero) before the first event. */
export function declareTelemetry(metrics: Metrics, defs: readonly MetricDef[]) {
  for (const d of defs) {
    const cfg = { name: d.name, help: d.help, labelNames: d.labelNames ?? [] };
    if (d.kind === 'counter') metrics.counter(cfg);
    else if (d.kind === 'gauge') metrics.gauge(cfg);
    else metrics.histogram({ ...cfg, buckets: d.buckets });
  }
}
