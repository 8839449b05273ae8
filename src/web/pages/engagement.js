import { api, ApiError, h, errorBox, table, loading, card, fmtNum } from '../api.js';
import { chart, sparkline } from '../charts.js';

export const title = 'Engagement';

const fmt = (n, digits = 0) => fmtNum(n, digits);
const when = (iso) => (iso ? new Date(iso).toISOString().slice(11, 19) : '—');
const METRICS_MS = 2000;
const HISTORY_POINTS = 150; // 5 minutes of 2-second samples

/** Sum of a metric in the JSON summary of /metrics, over the labels `filter` accepts. */
function metric(summary, name, filter = () => true) {
  const m = summary[name];
  if (m === undefined) return undefined;
  if (typeof m === 'number') return m;
  if (Array.isArray(m)) return m.filter((v) => filter(v.labels)).reduce((a, v) => a + v.value, 0);
  return m;
}

/** The pipeline's stages, each with a counter to turn into a rate and what holds it back. */
const STAGES = [
  { name: 'CDC (Postgres → Kafka)', counter: (s) => metric(s, 'sillage_engagement_cdc_records_total') },
  { name: 'Processor (Kafka → enrich)', counter: (s) => metric(s, 'sillage_engagement_processor_records_total') },
  { name: 'Redis sink (applied)', counter: (s) => metric(s, 'sillage_engagement_sink_events_total', (l) => l.sink === 'redis' && l.outcome === 'applied') },
  { name: 'Dead letters', counter: (s) => metric(s, 'sillage_engagement_dlq_total') },
];

function pipelinePanel(signal) {
  const statusBox = h('div', { class: 'grid', id: 'eng-status' }, loading('Loading pipeline status…'));
  const stagesBox = h('div', { id: 'eng-stages' });
  const stagesHeading = h('h3', {}, 'Stages');
  const throughput = chart({ title: 'Stage throughput since this page opened (events/s, UTC)', kind: 'time', yLabel: 'events/s', empty: 'Measuring: the first rates come after two samples.', signal, dataTable: false });
  throughput.el.id = 'eng-throughput';
  const history = { x: [], series: STAGES.slice(0, 3).map((s) => ({ label: s.name.split(' (')[0], values: [] })) };
  let previous;
  let timer;

  async function refresh() {
    try {
      const [health, metrics] = await Promise.all([api('/health', { signal }), api('/metrics', { signal })]);
      const e = health.details.engagement;
      if (!e || e.status === 'disabled') {
        statusBox.replaceChildren(h('div', { class: 'notice', role: 'status' }, h('strong', {}, 'The pipeline does not run here. '), e?.reason || ''));
        stagesBox.replaceChildren();
        stagesHeading.hidden = true;
        throughput.el.hidden = true;
        throughput.update({ x: [], series: [] });
        return;
      }
      throughput.el.hidden = false;
      stagesHeading.hidden = false;
      statusBox.replaceChildren(
        card('Pipeline', h('span', { class: `status status-${e.status}` }, e.status), e.status === 'ok' ? `last commit ${when(e.last_commit_at)} UTC` : e.reason),
        card('CDC slot lag', e.slot ? `${fmt(e.slot.lag_bytes)} B` : '—', e.slot ? `${e.slot.name}${e.slot.active ? '' : ' (inactive)'}` : 'slot not created yet'),
        card('Consumer lag', e.consumer ? fmt(e.consumer.total_lag) : '—', e.consumer ? Object.entries(e.consumer.lag).map(([p, n]) => `p${p}: ${n}`).join(' · ') : 'topic not created yet', { 'data-figure': 'consumer-lag' }),
        card('End-to-end latency', (() => {
          const m = metric(metrics, 'sillage_engagement_end_to_end_seconds');
          return m && m.count ? `${fmt(m.avg * 1000)} ms` : '—';
        })(), 'average, commit → applied'),
      );
      const now = performance.now();
      const counts = STAGES.map((s) => s.counter(metrics));
      const rates = previous ? counts.map((c, i) => (c === undefined || previous.counts[i] === undefined ? null : Math.max(0, c - previous.counts[i]) / ((now - previous.at) / 1000))) : counts.map(() => null);
      previous = { at: now, counts };
      const batch = metric(metrics, 'sillage_engagement_batch_seconds');
      stagesBox.replaceChildren(table(
        [
          { label: 'Stage', key: 'name' },
          { label: 'Events/s now', render: (r) => (r.rate === null ? '…' : fmt(r.rate, 1)) },
          { label: 'Total', render: (r) => fmt(r.total) },
          { label: 'Held back', render: (r) => r.lag },
        ],
        STAGES.map((s, i) => ({
          name: s.name,
          rate: rates[i],
          total: counts[i],
          lag: i === 0 ? (e.slot ? `${fmt(e.slot.lag_bytes)} B of WAL` : '—')
            : i === 1 ? (e.consumer ? `${fmt(e.consumer.total_lag)} records` : '—')
            : i === 2 ? (batch && batch.count ? `batches of ${fmt(batch.avg * 1000, 1)} ms avg` : '—')
            : '',
        })),
      ));
      if (rates.some((r) => r !== null)) {
        history.x.push(Date.now() / 1000);
        history.series.forEach((s, i) => s.values.push(rates[i]));
        if (history.x.length > HISTORY_POINTS) {
          history.x.shift();
          history.series.forEach((s) => s.values.shift());
        }
        throughput.update({ x: [...history.x], series: history.series.map((s) => ({ label: s.label, values: [...s.values] })) });
      }
    } catch (err) {
      if (!signal.aborted) statusBox.replaceChildren(errorBox(err));
    } finally {
      if (!signal.aborted) timer = setTimeout(refresh, METRICS_MS);
    }
  }
  refresh();
  signal.addEventListener('abort', () => clearTimeout(timer));
  return h('section', { 'aria-labelledby': 'eng-pipeline-h' },
    h('h2', { id: 'eng-pipeline-h' }, 'Pipeline'),
    statusBox,
    stagesHeading,
    stagesBox,
    throughput.el);
}

function livePanel(signal, redisOn) {
  const state = { window: '10', type: '', limit: '10', selected: null };
  const topBox = h('div', { id: 'eng-top', 'aria-busy': 'true' }, loading('Loading top content…'));
  const detailBox = h('div', { class: 'eng-detail', id: 'eng-detail', tabindex: '-1' }, h('p', { class: 'muted' }, 'Choose a content in the table to see its counts, its minute-by-minute events and its latest events.'));
  const liveState = h('span', { class: 'muted', id: 'eng-live-state', role: 'status' });
  const sparks = new Map(); // content id → sparkline, reused across updates
  let detailChart;
  let source;
  let detailPending;

  const select = (label, key, options) => {
    const id = `eng-${key}`;
    return h('label', { for: id }, label,
      h('select', { id, onchange: (e) => { state[key] = e.target.value; openFeed(); } }, options.map(([v, text]) => h('option', { value: v, selected: state[key] === v }, text))));
  };

  function renderTop(top) {
    topBox.removeAttribute('aria-busy');
    const seen = new Set(top.items.map((r) => r.content_id));
    for (const [id, s] of sparks) if (!seen.has(id)) (s.destroy(), sparks.delete(id));
    const spark = (r) => {
      let s = sparks.get(r.content_id);
      if (s) s.update(r.events_per_minute);
      else sparks.set(r.content_id, (s = sparkline({ values: r.events_per_minute, label: `events per minute of ${r.title || r.content_id}, oldest first` })));
      return s.el;
    };
    topBox.replaceChildren(table([
      { label: '#', render: (r) => String(top.items.indexOf(r) + 1) },
      { label: 'Content', render: (r) => h('button', { type: 'button', class: 'link', 'data-id': r.content_id, 'aria-pressed': state.selected === r.content_id ? 'true' : 'false', onclick: () => showDetail(r.content_id, true) }, r.title || r.content_id) },
      { label: 'Type', render: (r) => r.content_type || '—' },
      { label: 'Events', render: (r) => fmt(r.events) },
      { label: `Per minute (${top.window_minutes} min)`, render: spark },
      { label: 'Unique users', render: (r) => fmt(r.unique_users) },
      { label: 'Engagement (s)', render: (r) => fmt(r.engagement_seconds, 1) },
      { label: 'Avg completion', render: (r) => (r.avg_completion_pct === null ? '—' : `${fmt(r.avg_completion_pct, 1)} %`) },
    ], top.items, `No engagement in the last ${top.window_minutes} minutes.`));
    topBox.dataset.applied = String(top.applied ?? '');
    liveState.textContent = `live · updated ${when(top.at)} UTC · ${fmt(top.applied)} events applied`;
    // The drill-down follows the feed, at most once a second.
    if (state.selected && !detailPending) detailPending = setTimeout(() => ((detailPending = undefined), showDetail(state.selected)), 1000);
  }

  function openFeed() {
    source?.close();
    topBox.setAttribute('aria-busy', 'true');
    const q = new URLSearchParams({ limit: state.limit, window_minutes: state.window });
    if (state.type) q.set('content_type', state.type);
    liveState.textContent = 'connecting…';
    source = new EventSource(`/top-content/live?${q}`);
    source.addEventListener('top', (e) => renderTop(JSON.parse(e.data)));
    source.addEventListener('problem', (e) => (liveState.textContent = JSON.parse(e.data).message));
    source.onerror = async () => {
      liveState.textContent = 'reconnecting…';
      // An EventSource hides the status of a refused request: ask the plain route for its error message.
      if (source.readyState === EventSource.CLOSED) {
        try {
          await api(`/top-content?${q}`, { signal });
        } catch (err) {
          if (!signal.aborted) topBox.replaceChildren(errorBox(err));
        }
      }
    };
  }

  async function showDetail(id, focus = false) {
    state.selected = id;
    for (const b of topBox.querySelectorAll('button.link')) b.setAttribute('aria-pressed', String(b.dataset.id === id));
    try {
      const w = Number(state.window);
      const [stats, recent] = await Promise.all([api(`/content/${id}/stats?window_minutes=${w}`, { signal }), api(`/content/${id}/recent-events?count=20`, { signal })]);
      const c = stats.counts;
      if (!detailChart) {
        detailChart = chart({ title: 'Events per minute (UTC)', kind: 'time-bars', yLabel: 'events', signal });
        detailChart.el.id = 'eng-detail-chart';
      }
      const nowMinute = Math.floor(Date.now() / 60_000) * 60;
      const n = stats.events_per_minute.length;
      detailBox.replaceChildren(
        h('div', { class: 'grid' },
          card('Events', fmt(stats.events), `play ${c.play} · pause ${c.pause} · finish ${c.finish} · click ${c.click}`),
          card('Unique users', fmt(stats.unique_users)),
          card('Engagement', `${fmt(stats.total_engagement_seconds, 1)} s`, `avg ${fmt(stats.avg_engagement_seconds, 1)} s per event`),
          card('Completion', stats.avg_completion_pct === null ? '—' : `${fmt(stats.avg_completion_pct, 1)} %`, stats.avg_completion_pct === null ? 'no length known' : 'average')),
        detailChart.el,
        h('h3', {}, 'Latest events'),
        table([
          { label: 'Time (UTC)', render: (r) => when(r.event_ts) },
          { label: 'Type', key: 'event_type' },
          { label: 'User', render: (r) => r.user_id.slice(0, 8) },
          { label: 'Device', key: 'device' },
          { label: 'Seconds', render: (r) => fmt(r.engagement_seconds, 1) },
          { label: 'Completion', render: (r) => (r.engagement_pct === null ? '—' : `${fmt(r.engagement_pct, 1)} %${r.engagement_pct_capped ? ' (capped)' : ''}`) },
        ], recent.items, 'No events in the window.'),
      );
      detailChart.update({ x: stats.events_per_minute.map((_, i) => nowMinute - (n - 1 - i) * 60), series: [{ label: 'events', values: stats.events_per_minute }] });
      if (focus) detailBox.focus();
    } catch (err) {
      if (!signal.aborted) detailBox.replaceChildren(errorBox(err));
    }
  }

  signal.addEventListener('abort', () => {
    source?.close();
    clearTimeout(detailPending);
    for (const s of sparks.values()) s.destroy();
  });

  const section = h('section', { 'aria-labelledby': 'eng-top-h' },
    h('h2', { id: 'eng-top-h' }, 'Top content ', liveState),
    h('div', { class: 'row' },
      select('Window', 'window', [['1', '1 minute'], ['5', '5 minutes'], ['10', '10 minutes']]),
      select('Type', 'type', [['', 'all types'], ['podcast', 'podcasts'], ['newsletter', 'newsletters'], ['video', 'videos']]),
      select('Show', 'limit', [['10', 'top 10'], ['25', 'top 25'], ['50', 'top 50']])),
    topBox,
    h('h3', {}, 'Content detail'),
    detailBox);
  if (!redisOn) {
    topBox.removeAttribute('aria-busy');
    topBox.replaceChildren(h('div', { class: 'notice', role: 'status' }, h('strong', {}, 'Live engagement is not enabled. '), 'It reads Redis: set REDIS_URL (and DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS for the pipeline that fills it).'));
  } else openFeed();
  return section;
}

/** Daily and hourly charts from the warehouse routes; a build without them says so with the API's own answer. */
function warehousePanel(signal, on) {
  const box = h('div', { class: 'charts', id: 'eng-warehouse' }, loading('Loading the warehouse…'));
  const load = async () => {
    const daily = chart({ title: 'Events per day by content type (warehouse)', kind: 'time-bars', yLabel: 'events', signal });
    const hourly = chart({ title: 'Events per hour by content type (warehouse)', kind: 'time', yLabel: 'events', signal });
    const byType = (items, keyName) => {
      const x = [...new Set(items.map((i) => Date.parse(i[keyName]) / 1000))].sort((a, b) => a - b);
      const types = [...new Set(items.map((i) => i.content_type ?? 'unknown'))].sort();
      return {
        x,
        series: types.map((ty) => ({
          label: ty,
          values: x.map((t) => items.filter((i) => (i.content_type ?? 'unknown') === ty && Date.parse(i[keyName]) / 1000 === t).reduce((a, i) => a + i.events, 0)),
        })),
      };
    };
    try {
      const [d, hr] = await Promise.all([api('/warehouse/daily', { signal }), api('/warehouse/hourly', { signal })]);
      box.replaceChildren(daily.el, hourly.el);
      daily.update(byType(d.items, 'day'));
      hourly.update(byType(hr.items, 'hour'));
    } catch (err) {
      if (signal.aborted) return;
      box.replaceChildren(
        err instanceof ApiError && err.status === 404
          ? h('div', { class: 'notice', role: 'status', 'data-code': 'warehouse_missing' },
              h('strong', {}, 'No warehouse in this build yet. '),
              `The daily and hourly charts read GET /warehouse/daily and /warehouse/hourly, which answered ${err.status} (${err.code}): ${err.message}`)
          : errorBox(err));
    }
  };
  if (on) load();
  else box.replaceChildren(h('div', { class: 'notice', role: 'status' }, h('strong', {}, 'The warehouse is not enabled. '), 'It is filled by the engagement pipeline: set DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS and REDIS_URL.'));
  return h('section', { 'aria-labelledby': 'eng-wh-h' }, h('h2', { id: 'eng-wh-h' }, 'Warehouse'), box);
}

export async function render(root, { signal }) {
  const health = await api('/health', { signal }).catch(() => null);
  const redisOn = health?.components?.redis === 'ok';
  const pipelineOn = health?.components?.engagement === 'ok';
  root.append(livePanel(signal, redisOn), pipelinePanel(signal), warehousePanel(signal, pipelineOn));
}
