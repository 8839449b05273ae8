// Writes deploy/grafana/dashboards/sillage.json: one panel per PromQL expression below, so the dashboard is
// reviewed as code and its metrics are checked against what the service exports.
type Panel = { title: string; expr: string[]; unit?: string; legend?: string[] };
const rows: [string, Panel[]][] = [
  ['HTTP', [
    { title: 'Requests/s by route', expr: ['sum by (route) (rate(sillage_http_requests_total[1m]))'], unit: 'reqps', legend: ['{{route}}'] },
    { title: 'p95 latency by route', expr: ['histogram_quantile(0.95, sum by (le, route) (rate(sillage_http_request_duration_seconds_bucket[5m])))'], unit: 's', legend: ['{{route}}'] },
    { title: '5xx/s', expr: ['sum(rate(sillage_http_requests_total{status=~"5.."}[1m]))'], unit: 'reqps' },
  ]],
  ['ETL', [
    { title: 'Runs by status', expr: ['sum by (status) (increase(sillage_etl_runs_total[1h]))'], legend: ['{{status}}'] },
    { title: 'Records by stage', expr: ['sum by (stage) (rate(sillage_etl_records_total[5m]))'], unit: 'ops', legend: ['{{stage}}'] },
    { title: 'Run duration p95', expr: ['histogram_quantile(0.95, sum by (le) (rate(sillage_etl_run_duration_seconds_bucket[1h])))'], unit: 's' },
  ]],
  ['GDELT ingest', [
    { title: 'Ingest jobs by state', expr: ['sum by (state) (increase(sillage_gdelt_jobs_total[1h]))'], legend: ['{{state}}'] },
  ]],
  ['Engagement pipeline', [
    { title: 'Stage throughput', expr: ['sum(rate(sillage_engagement_cdc_records_total[1m]))', 'sum(rate(sillage_engagement_processor_records_total[1m]))', 'sum by (sink) (rate(sillage_engagement_sink_events_total{outcome="applied"}[1m]))'], unit: 'ops', legend: ['CDC → Kafka', 'processor in', 'applied {{sink}}'] },
    { title: 'CDC slot lag', expr: ['max(sillage_engagement_cdc_slot_lag_bytes)'], unit: 'bytes' },
    { title: 'Consumer lag by partition', expr: ['sillage_engagement_consumer_lag'], legend: ['partition {{partition}}'] },
    { title: 'End-to-end latency p50/p99', expr: ['histogram_quantile(0.5, sum by (le) (rate(sillage_engagement_end_to_end_seconds_bucket[5m])))', 'histogram_quantile(0.99, sum by (le) (rate(sillage_engagement_end_to_end_seconds_bucket[5m])))'], unit: 's', legend: ['p50', 'p99'] },
    { title: 'Sink latency p95', expr: ['histogram_quantile(0.95, sum by (le, sink) (rate(sillage_engagement_sink_seconds_bucket[5m])))'], unit: 's', legend: ['{{sink}}'] },
    { title: 'Dead letters by reason', expr: ['sum by (reason) (increase(sillage_engagement_dlq_total[15m]))'], legend: ['{{reason}}'] },
  ]],
  ['Stream analytics', [
    { title: 'Records in by job', expr: ['sum by (stream_job) (rate(sillage_streams_records_in_total[1m]))'], unit: 'ops', legend: ['{{stream_job}}'] },
    { title: 'Windows emitted by job', expr: ['sum by (stream_job) (rate(sillage_streams_windows_emitted_total[1m]))'], unit: 'ops', legend: ['{{stream_job}}'] },
    { title: 'Late / dead-lettered records', expr: ['sum by (stream_job) (rate(sillage_streams_records_late_total[5m]))', 'sum by (stream_job) (rate(sillage_streams_records_dlq_total[5m]))'], unit: 'ops', legend: ['late {{stream_job}}', 'dlq {{stream_job}}'] },
    { title: 'Consumer lag / watermark lag', expr: ['max by (stream_job) (sillage_streams_consumer_lag_records)', 'max by (stream_job) (sillage_streams_watermark_lag_seconds)'], legend: ['records {{stream_job}}', 'watermark s {{stream_job}}'] },
  ]],
  ['Process', [
    { title: 'Resident memory', expr: ['sillage_process_resident_memory_bytes'], unit: 'bytes' },
    { title: 'Event loop lag p99', expr: ['sillage_nodejs_eventloop_lag_p99_seconds'], unit: 's' },
  ]],
];

let id = 1;
let y = 0;
const panels: unknown[] = [];
for (const [row, items] of rows) {
  panels.push({ id: id++, type: 'row', title: row, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: y++ } });
  items.forEach((p, i) => {
    panels.push({
      id: id++,
      type: 'timeseries',
      title: p.title,
      datasource: { type: 'prometheus', uid: '${datasource}' },
      fieldConfig: { defaults: { unit: p.unit ?? 'short' }, overrides: [] },
      gridPos: { h: 8, w: 8, x: (i % 3) * 8, y: y + Math.floor(i / 3) * 8 },
      targets: p.expr.map((expr, k) => ({ refId: String.fromCharCode(65 + k), expr, legendFormat: p.legend?.[k] ?? '' })),
    });
  });
  y += Math.ceil(items.length / 3) * 8;
}

const dashboard = {
  uid: 'sillage',
  title: 'sillage',
  tags: ['sillage'],
  schemaVersion: 39,
  time: { from: 'now-6h', to: 'now' },
  refresh: '30s',
  templating: { list: [{ name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Prometheus' }] },
  panels,
};
const out = new URL('../deploy/grafana/dashboards/sillage.json', import.meta.url).pathname;
await Bun.write(out, JSON.stringify(dashboard, null, 2) + '\n');
console.log(`wrote ${out} (${panels.length} panels)`);
