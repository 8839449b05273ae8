import { api, h, errorBox, table, loading } from '../api.js';
import { chart } from '../charts.js';

export const title = 'Streams';

const fmtTime = (iso) => (iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 19) : '—');
const fmtNum = (x) => (x === null || x === undefined ? '—' : Number.isInteger(x) ? x.toLocaleString('en-US') : x.toLocaleString('en-US', { maximumFractionDigits: 3 }));
const windowText = (w) => (w.type === 'hopping' ? `hopping ${w.size} / ${w.slide}` : w.type === 'session' ? `session gap ${w.gap}` : `tumbling ${w.size}`);
const MAX_FEED = 50;

function resultColumns(rows) {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.values)))];
  return [
    { label: 'key', render: (r) => r.key },
    { label: 'window start', render: (r) => fmtTime(r.window_start) },
    ...names.map((n) => ({ label: n, render: (r) => fmtNum(r.values[n]) })),
    { label: 'records', render: (r) => fmtNum(r.records) },
    { label: 'rev', render: (r) => r.revision },
    { label: 'alerts', render: (r) => (r.alerts.length ? h('span', { class: 'streams-alert' }, r.alerts.join(', ')) : '') },
  ];
}

const MAX_CHART_KEYS = 8;

/** One line per key (the busiest keys) of one aggregate over the window starts, oldest to newest. */
function chartData(results, aggregate) {
  const byKey = new Map();
  for (const r of results) {
    if (!byKey.has(r.key)) byKey.set(r.key, { records: 0, points: new Map() });
    const k = byKey.get(r.key);
    k.records += r.records;
    // Results come newest revision first: keep the first value seen for a window.
    const t = Date.parse(r.window_start) / 1000;
    if (!k.points.has(t)) k.points.set(t, r.values[aggregate] ?? null);
  }
  const keys = [...byKey].sort((a, b) => b[1].records - a[1].records).slice(0, MAX_CHART_KEYS).sort((a, b) => a[0].localeCompare(b[0]));
  const x = [...new Set(keys.flatMap(([, k]) => [...k.points.keys()]))].sort((a, b) => a - b);
  return { x, series: keys.map(([key, k]) => ({ label: key, values: x.map((t) => k.points.get(t) ?? null) })) };
}

export async function render(root, { signal }) {
  const health = await api('/health').catch(() => null);
  const off = health?.details?.streams;
  if (off && off.status === 'disabled') {
    root.append(h('div', { class: 'notice', role: 'status' }, h('strong', {}, 'Stream analytics is not enabled. '), off.reason || ''));
    return;
  }
  const jobsBox = h('div', { 'aria-busy': 'true' }, loading('Loading jobs…'));
  const picker = h('select', { id: 'streams-job' });
  const aggregatePicker = h('select', { id: 'streams-aggregate' });
  const latestBox = h('div', { id: 'streams-latest' });
  const feedList = h('ol', { class: 'streams-feed', 'aria-live': 'polite' });
  const feedState = h('span', { class: 'muted' }, '');
  const windowsChart = chart({ title: 'Recent windows per key', kind: 'time', empty: 'No window emitted yet.', signal });
  windowsChart.el.id = 'streams-chart';
  root.append(
    h('section', {}, h('h2', {}, 'Stream jobs'), jobsBox),
    h('section', {},
      h('h2', {}, 'Latest window per key'),
      h('div', { class: 'row' }, h('label', { for: 'streams-job' }, 'Job', picker), h('label', { for: 'streams-aggregate' }, 'Chart of', aggregatePicker)),
      latestBox),
    h('section', {}, h('h2', {}, 'Windows over time'), windowsChart.el),
    h('section', {}, h('h2', {}, 'Live feed of closed windows ', feedState), feedList),
  );

  let selected = '';
  let source;
  const closeFeed = () => {
    source?.close();
    source = undefined;
  };
  signal.addEventListener('abort', closeFeed);

  const openFeed = (name) => {
    closeFeed();
    feedList.replaceChildren();
    if (!name) return;
    source = new EventSource(`/api/v1/streams/jobs/${encodeURIComponent(name)}/live`);
    feedState.textContent = '(connecting)';
    source.onopen = () => (feedState.textContent = '(connected)');
    source.onerror = () => (feedState.textContent = '(reconnecting…)');
    source.addEventListener('window', (e) => {
      const r = JSON.parse(e.data);
      const values = Object.entries(r.values).map(([k, v]) => `${k} ${fmtNum(v)}`).join(' · ');
      feedList.prepend(
        h('li', { class: r.alerts.length ? 'streams-alerting' : '' },
          h('strong', {}, r.key), ` ${fmtTime(r.window_start)} → ${fmtTime(r.window_end).slice(11)} `,
          h('span', { class: 'muted' }, `rev ${r.revision} · ${values}`),
          r.alerts.length ? h('span', { class: 'streams-alert' }, ` ${r.alerts.join(', ')}`) : null));
      while (feedList.children.length > MAX_FEED) feedList.lastElementChild.remove();
      soon();
    });
  };

  const refreshLatest = async () => {
    if (!selected) {
      latestBox.replaceChildren(h('p', { class: 'muted' }, 'No job selected.'));
      windowsChart.update({ x: [], series: [] });
      return;
    }
    try {
      const job = encodeURIComponent(selected);
      const [{ results }, history] = await Promise.all([api(`/api/v1/streams/jobs/${job}/results?latest=true&limit=200`), api(`/api/v1/streams/jobs/${job}/results?limit=1000`)]);
      latestBox.replaceChildren(table(resultColumns(results), results.sort((a, b) => a.key.localeCompare(b.key)), 'No window emitted yet.'));
      // Aggregates in spec order: the latest values keep it; history rows from Postgres JSON may not.
      const names = [...new Set([...results, ...history.results].flatMap((r) => Object.keys(r.values)))];
      if (names.join() !== [...aggregatePicker.options].map((o) => o.value).join()) {
        const keep = aggregatePicker.value;
        aggregatePicker.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
        if (names.includes(keep)) aggregatePicker.value = keep;
      }
      lastHistory = history.results;
      drawChart();
    } catch (e) {
      latestBox.replaceChildren(errorBox(e));
    }
  };
  let lastHistory = [];
  const drawChart = () => windowsChart.update(chartData(lastHistory, aggregatePicker.value));
  aggregatePicker.addEventListener('change', drawChart);
  // Closed windows arrive on the live feed; redraw from the API at most once a second.
  let pending;
  const soon = () => {
    if (pending) return;
    pending = setTimeout(() => {
      pending = undefined;
      refreshLatest();
    }, 1000);
  };
  signal.addEventListener('abort', () => clearTimeout(pending));

  const refreshJobs = async () => {
    try {
      const { jobs } = await api('/api/v1/streams/jobs');
      jobsBox.removeAttribute('aria-busy');
      jobsBox.replaceChildren(table([
        { label: 'job', render: (j) => h('button', { class: 'secondary', type: 'button', onclick: () => select(j.name) }, j.name) },
        { label: 'state', render: (j) => h('span', { class: `streams-state-${j.state}` }, j.state) },
        { label: 'topic', render: (j) => j.topic },
        { label: 'window', render: (j) => windowText(j.window) },
        { label: 'watermark', render: (j) => fmtTime(j.watermark) },
        { label: 'lag', render: (j) => fmtNum(j.lag.total) },
        { label: 'open windows', render: (j) => fmtNum(j.open_windows) },
        { label: 'records in', render: (j) => fmtNum(j.records_in) },
        { label: 'late', render: (j) => fmtNum(j.late) },
        { label: 'DLQ', render: (j) => fmtNum(j.dlq) },
        { label: 'windows', render: (j) => fmtNum(j.windows_emitted) },
      ], jobs, 'No stream jobs. Add a spec under streams/ or POST /api/v1/streams/jobs.'));
      const names = jobs.map((j) => j.name);
      if (picker.options.length !== names.length || names.some((n, i) => picker.options[i].value !== n)) {
        picker.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
        if (!names.includes(selected)) select(names[0] || '');
        else picker.value = selected;
      }
    } catch (e) {
      jobsBox.removeAttribute('aria-busy');
      jobsBox.replaceChildren(errorBox(e));
      latestBox.replaceChildren();
    }
  };

  function select(name) {
    if (name === selected && source) return;
    selected = name;
    picker.value = name;
    openFeed(name);
    refreshLatest();
  }
  picker.addEventListener('change', () => select(picker.value));

  await refreshJobs();
  const timer = setInterval(() => {
    refreshJobs();
    refreshLatest();
  }, 5000);
  signal.addEventListener('abort', () => clearInterval(timer));
}
