import { api, h, errorBox, card, fmtNum, loading } from '../api.js';
import { chart } from '../charts.js';

export const title = 'Overview';

const REFRESH_MS = 5000;

/** Scalar details of a health component (lake kind, batches, newest batch…) as a short list. */
function details(report) {
  const rows = Object.entries(report).flatMap(([k, v]) => {
    if (k === 'status' || k === 'reason' || v === null || v === undefined) return [];
    if (typeof v === 'object') return v.status ? [[k, String(v.status)]] : [];
    return [[k.replaceAll('_', ' '), typeof v === 'number' ? fmtNum(v) : String(v)]];
  });
  return rows.length ? h('dl', { class: 'kv' }, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])) : null;
}

function componentCard(name, report) {
  return h('div', { class: 'card', 'data-component': name },
    h('h3', {}, name),
    h('div', { class: `status status-${report.status}` }, report.status),
    report.reason ? h('div', { class: 'muted reason' }, report.reason) : null,
    details(report));
}

/** Sum of a metric in the JSON summary of /metrics, over all its labels; undefined when the metric is absent. */
function metricSum(summary, name, filter = () => true) {
  const m = summary[name];
  if (m === undefined) return undefined;
  if (typeof m === 'number') return m;
  if (Array.isArray(m)) return m.filter((v) => filter(v.labels)).reduce((a, v) => a + v.value, 0);
  return m.count;
}

const ENGAGEMENT_IN = 'sillage_engagement_processor_records_total';
const STREAMS_IN = 'sillage_streams_records_in_total';

export async function render(root, { signal }) {
  const healthBox = h('div', { class: 'grid', 'aria-busy': 'true' }, loading('Loading health…'));
  const figuresBox = h('div', { class: 'grid', id: 'overview-figures', 'aria-busy': 'true' }, loading('Loading figures…'));
  const workersBox = h('div');
  const lakeChart = chart({ title: 'Events landed in the lake per 15-minute batch', kind: 'time-bars', yLabel: 'events', empty: 'The lake is empty: queue batches on the GDELT page.', signal });
  root.append(
    h('section', { 'aria-labelledby': 'ov-figures' }, h('h2', { id: 'ov-figures' }, 'Key figures'), figuresBox),
    h('section', { 'aria-labelledby': 'ov-health' }, h('h2', { id: 'ov-health' }, 'Components'), healthBox),
    h('section', { 'aria-labelledby': 'ov-lake' }, h('h2', { id: 'ov-lake' }, 'Lake'), lakeChart.el),
    h('section', { 'aria-labelledby': 'ov-workers' }, h('h2', { id: 'ov-workers' }, 'Workers'), workersBox),
    h('section', { 'aria-labelledby': 'ov-links' },
      h('h2', { id: 'ov-links' }, 'Links'),
      h('ul', { class: 'links' },
        h('li', {}, h('a', { href: '/swagger' }, 'Swagger UI'), ' — every route, with its parameters and errors'),
        h('li', {}, h('a', { href: '/swagger/json' }, 'OpenAPI document')),
        h('li', {}, h('a', { href: '/metrics' }, 'Prometheus metrics')),
        h('li', {}, h('a', { href: '/health' }, 'Health (JSON)')))),
  );

  let previous; // last metrics sample, for rates
  const fig = (label, value, extra, id) => card(label, value, extra, { 'data-figure': id });

  /** The figures that do not depend on health, asked for at the same time as /health. */
  const fetchFigures = () =>
    Promise.all([
      api('/stats').catch((e) => e),
      api('/api/v1/ingest/batches?table=events&limit=96').catch((e) => e),
      api('/api/v1/ingest/batches?table=mentions&limit=1').catch((e) => e),
      api('/metrics').catch((e) => e),
    ]);

  async function figures(health, [stats, events, mentions, metrics]) {
    const enabled = (name) => health.components[name] === 'ok';
    // A disabled feature answers 503: ask only when health says it runs, so the console stays clean.
    const jobs = enabled('streams') ? await api('/api/v1/streams/jobs').catch((e) => e) : null;
    const failed = (x) => x instanceof Error;
    const cards = [];

    cards.push(failed(stats) ? fig('Posts', '—', stats.message, 'posts') : fig('Posts', fmtNum(stats.post_count), h('a', { href: '#/etl' }, stats.last_run ? `last run ${stats.last_run.status}` : 'no run yet'), 'posts'));
    if (failed(events)) cards.push(fig('Lake batches', '—', events.message, 'batches'));
    else {
      cards.push(fig('Lake batches', fmtNum(events.total), `events${failed(mentions) ? '' : ` · ${fmtNum(mentions.total)} mentions`}`, 'batches'));
      cards.push(fig('Lake rows', fmtNum(events.rows), `events${failed(mentions) ? '' : ` · ${fmtNum(mentions.rows)} mentions`}`, 'rows'));
      const points = [...events.items].reverse();
      lakeChart.update({ x: points.map((b) => Date.parse(b.batch_time) / 1000), series: [{ label: 'events', values: points.map((b) => b.rows) }] });
    }

    const pipelineOn = enabled('engagement') || enabled('streams');
    if (!failed(metrics)) {
      const now = performance.now();
      const sample = { at: now, engagement: metricSum(metrics, ENGAGEMENT_IN), streams: metricSum(metrics, STREAMS_IN) };
      const rate = (k) => (previous && sample[k] !== undefined && previous[k] !== undefined ? Math.max(0, sample[k] - previous[k]) / ((now - previous.at) / 1000) : undefined);
      const eng = rate('engagement');
      const str = rate('streams');
      const seconds = previous ? Math.round((now - previous.at) / 1000) : 0;
      previous = sample;
      cards.push(
        !pipelineOn ? fig('Events/s now', '—', 'the pipelines are disabled', 'rate')
        : eng === undefined && str === undefined ? fig('Events/s now', '…', 'measuring', 'rate')
        : fig('Events/s now', fmtNum(eng ?? str, 1), `${eng !== undefined ? 'engagement' : 'stream jobs'}${eng !== undefined && str !== undefined ? ` · stream jobs ${fmtNum(str, 1)}/s` : ''} · last ${seconds} s`, 'rate'),
      );
    }

    const engagement = health.details.engagement;
    const streamJobs = jobs && !failed(jobs) ? jobs.jobs : [];
    const streamLag = streamJobs.reduce((a, j) => a + (j.lag.total ?? 0), 0);
    const engLag = engagement?.consumer?.total_lag;
    cards.push(
      !pipelineOn ? fig('Consumer lag', '—', 'the pipelines are disabled', 'lag')
      : fig('Consumer lag', fmtNum((engLag ?? 0) + streamLag), [engLag !== undefined ? `engagement ${fmtNum(engLag)}` : null, streamJobs.length ? `stream jobs ${fmtNum(streamLag)}` : null].filter(Boolean).join(' · ') || 'records not read yet', 'lag'),
    );
    const engDlq = failed(metrics) ? undefined : metricSum(metrics, 'sillage_engagement_dlq_total');
    const streamDlq = streamJobs.reduce((a, j) => a + j.dlq, 0);
    cards.push(
      !pipelineOn ? fig('Dead letters', '—', 'the pipelines are disabled', 'dlq')
      : fig('Dead letters', fmtNum((engDlq ?? 0) + streamDlq), [engDlq !== undefined ? `engagement ${fmtNum(engDlq)}` : null, `stream jobs ${fmtNum(streamDlq)}`].filter(Boolean).join(' · '), 'dlq'),
    );
    if (failed(jobs)) cards.push(fig('Stream jobs', '—', jobs.message, 'jobs'));
    else if (!jobs) cards.push(fig('Stream jobs', '—', health.details.streams?.reason || 'disabled', 'jobs'));
    else cards.push(fig('Stream jobs', fmtNum(streamJobs.length), h('a', { href: '#/streams' }, `${streamJobs.filter((j) => j.state === 'running').length} running`), 'jobs'));
    figuresBox.replaceChildren(...cards);
    figuresBox.removeAttribute('aria-busy');
  }

  const refresh = async () => {
    const pending = fetchFigures();
    let health;
    try {
      health = await api('/health');
    } catch (e) {
      healthBox.replaceChildren(errorBox(e));
      figuresBox.replaceChildren();
      return;
    }
    if (signal.aborted) return;
    healthBox.replaceChildren(...Object.entries(health.details).map(([n, r]) => componentCard(n, r)));
    healthBox.removeAttribute('aria-busy');
    const workers = Object.entries(health.workers || {});
    workersBox.replaceChildren(workers.length
      ? h('div', { class: 'grid' }, workers.map(([n, w]) => h('div', { class: 'card' }, h('h3', {}, n), h('div', {}, w.state), h('div', { class: 'muted' }, `restarts: ${w.restarts}`, w.lastError ? ` · last error: ${w.lastError}` : ''))))
      : h('p', { class: 'muted' }, 'No background worker is running.'));
    await figures(health, await pending);
  };
  await refresh();
  // A rate needs two samples: take the second one soon, then settle into the usual pace.
  let timer = setTimeout(function tick() {
    refresh().finally(() => {
      if (!signal.aborted) timer = setTimeout(tick, REFRESH_MS);
    });
  }, 1500);
  signal.addEventListener('abort', () => clearTimeout(timer));
}

