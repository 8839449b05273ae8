import { api, h, errorBox, table } from '../api.js';

export const title = 'Engagement';

const fmt = (n, digits = 0) => (n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits }));
const when = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '—');

function card(label, value, extra) {
  return h('div', { class: 'card' }, h('h3', {}, label), h('div', { class: 'figure' }, value), extra ? h('div', { class: 'muted' }, extra) : null);
}

function pipelineCards(health) {
  const e = health.details?.engagement;
  if (!e) return [h('p', { class: 'muted' }, 'No pipeline status.')];
  if (e.status !== 'ok') return [h('div', { class: `card eng-status status-${e.status}` }, h('h3', {}, 'Pipeline'), h('div', {}, e.status), h('div', { class: 'muted' }, e.reason || ''))];
  return [
    card('Pipeline', h('span', { class: 'status-ok' }, 'ok'), `last commit ${when(e.last_commit_at)}`),
    card('CDC slot lag', `${fmt(e.slot?.lag_bytes)} B`, e.slot ? `${e.slot.name}${e.slot.active ? '' : ' (inactive)'}` : 'slot not created yet'),
    card('Consumer lag', fmt(e.consumer?.total_lag), e.consumer ? Object.entries(e.consumer.lag).map(([p, n]) => `p${p}: ${n}`).join(' · ') : 'topic not created yet'),
  ];
}

export async function render(root, { signal }) {
  const state = { window: '10', type: '', limit: '10', selected: null };
  const statusBox = h('div', { class: 'grid', 'aria-live': 'polite' }, h('p', { class: 'loading' }, 'Loading pipeline status…'));
  const topBox = h('div', { 'aria-live': 'polite', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading top content…'));
  const detailBox = h('div', { class: 'eng-detail' });
  const updated = h('span', { class: 'muted' });

  const select = (label, key, options) =>
    h('label', {}, `${label} `, h('select', { onchange: (e) => { state[key] = e.target.value; refresh(); } }, options.map(([v, text]) => h('option', { value: v, selected: state[key] === v }, text))));

  root.append(
    h('section', {}, h('h2', {}, 'Pipeline'), statusBox),
    h('section', {},
      h('h2', {}, 'Top content'),
      h('div', { class: 'row' },
        select('Window', 'window', [['1', '1 minute'], ['5', '5 minutes'], ['10', '10 minutes']]),
        select('Type', 'type', [['', 'all types'], ['podcast', 'podcasts'], ['newsletter', 'newsletters'], ['video', 'videos']]),
        select('Show', 'limit', [['10', 'top 10'], ['25', 'top 25'], ['50', 'top 50']]),
        h('button', { class: 'secondary', onclick: () => refresh() }, 'Refresh'),
        updated),
      topBox),
    h('section', {}, h('h2', {}, 'Content detail'), detailBox),
  );
  detailBox.append(h('p', { class: 'muted' }, 'Choose a content in the table to see its counts and latest events.'));

  async function showDetail(id) {
    state.selected = id;
    try {
      const w = Math.min(Number(state.window), 10);
      const [stats, recent] = await Promise.all([api(`/content/${id}/stats?window_minutes=${w}`), api(`/content/${id}/recent-events?count=20`)]);
      const c = stats.counts;
      detailBox.replaceChildren(
        h('div', { class: 'grid' },
          card('Events', fmt(stats.events), `play ${c.play} · pause ${c.pause} · finish ${c.finish} · click ${c.click}`),
          card('Unique users', fmt(stats.unique_users)),
          card('Engagement', `${fmt(stats.total_engagement_seconds, 1)} s`, `avg ${fmt(stats.avg_engagement_seconds, 1)} s per event`),
          card('Completion', stats.avg_completion_pct === null ? '—' : `${fmt(stats.avg_completion_pct, 1)} %`, stats.avg_completion_pct === null ? 'no length known' : 'average')),
        h('h3', {}, 'Latest events'),
        table([
          { label: 'Time', render: (r) => when(r.event_ts) },
          { label: 'Type', key: 'event_type' },
          { label: 'User', render: (r) => r.user_id.slice(0, 8) },
          { label: 'Device', key: 'device' },
          { label: 'Seconds', render: (r) => fmt(r.engagement_seconds, 1) },
          { label: 'Completion', render: (r) => (r.engagement_pct === null ? '—' : `${fmt(r.engagement_pct, 1)} %${r.engagement_pct_capped ? ' (capped)' : ''}`) },
        ], recent.items, 'No events in the window.'),
      );
    } catch (e) {
      detailBox.replaceChildren(errorBox(e));
    }
  }

  async function refresh() {
    try {
      const health = await api('/health');
      statusBox.replaceChildren(...pipelineCards(health));
    } catch (e) {
      statusBox.replaceChildren(errorBox(e));
    }
    try {
      const q = new URLSearchParams({ limit: state.limit, window_minutes: state.window });
      if (state.type) q.set('content_type', state.type);
      const top = await api(`/top-content?${q}`);
      topBox.replaceChildren(table([
        { label: '#', render: (r) => String(top.items.indexOf(r) + 1) },
        { label: 'Content', render: (r) => h('button', { class: 'link', 'aria-pressed': state.selected === r.content_id ? 'true' : 'false', onclick: () => showDetail(r.content_id) }, r.title || r.content_id) },
        { label: 'Type', render: (r) => r.content_type || '—' },
        { label: 'Events', render: (r) => fmt(r.events) },
        { label: 'Unique users', render: (r) => fmt(r.unique_users) },
        { label: 'Engagement (s)', render: (r) => fmt(r.engagement_seconds, 1) },
        { label: 'Avg completion', render: (r) => (r.avg_completion_pct === null ? '—' : `${fmt(r.avg_completion_pct, 1)} %`) },
      ], top.items, `No engagement in the last ${top.window_minutes} minutes.`));
      topBox.removeAttribute('aria-busy');
      updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
      if (state.selected) showDetail(state.selected);
    } catch (e) {
      topBox.replaceChildren(errorBox(e));
      topBox.removeAttribute('aria-busy');
    }
  }

  await refresh();
  const timer = setInterval(refresh, 5000);
  signal.addEventListener('abort', () => clearInterval(timer));
}
