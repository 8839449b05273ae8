import { api, h, errorBox, table } from '../api.js';

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

export async function render(root, { signal }) {
  const jobsBox = h('div', { 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading jobs…'));
  const picker = h('select', { id: 'streams-job', 'aria-label': 'Job' });
  const latestBox = h('div');
  const feedList = h('ol', { class: 'streams-feed', 'aria-live': 'polite' });
  const feedState = h('span', { class: 'muted' }, '');
  root.append(
    h('section', {}, h('h2', {}, 'Stream jobs'), jobsBox),
    h('section', {}, h('h2', {}, 'Latest window per key'), h('div', { class: 'row' }, h('label', { for: 'streams-job' }, 'Job'), picker), latestBox),
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
    });
  };

  const refreshLatest = async () => {
    if (!selected) {
      latestBox.replaceChildren(h('p', { class: 'muted' }, 'No job selected.'));
      return;
    }
    try {
      const { results } = await api(`/api/v1/streams/jobs/${encodeURIComponent(selected)}/results?latest=true&limit=200`);
      latestBox.replaceChildren(table(resultColumns(results), results.sort((a, b) => a.key.localeCompare(b.key)), 'No window emitted yet.'));
    } catch (e) {
      latestBox.replaceChildren(errorBox(e));
    }
  };

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
