import { api, ApiError, h, errorBox, openApiKey, table } from '../api.js';

export const title = 'ETL';

const POLL_MS = 500;
const REFRESH_MS = 10_000;

function ensureStyles() {
  if (document.querySelector('link[data-page="etl"]')) return;
  document.head.append(h('link', { rel: 'stylesheet', href: '/assets/pages/etl.css', 'data-page': 'etl' }));
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
const ms = (n) => (n === null || n === undefined ? '—' : n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(1)} s`);
// replaceChildren would print a skipped (null) child as the text "null".
const put = (el, ...children) => el.replaceChildren(...children.filter((c) => c !== null && c !== undefined && c !== false));
const statusBadge = (status) => h('span', { class: `etl-badge etl-${status}` }, status);

function describeRun(run) {
  if (run.status === 'running') return `Run ${run.id} is running: ${run.extracted} records read so far…`;
  const counts = `extracted ${run.extracted}, loaded ${run.loaded}, rejected ${run.rejected}, in ${ms(run.duration_ms)}`;
  if (run.status === 'failed') return `Run ${run.id} failed (${counts}): ${run.error}`;
  return `Run ${run.id} ${run.status}: ${counts}.${run.status === 'partial' ? ' Open the run below to see the rejected records.' : ''}`;
}

export async function render(root, { signal }) {
  ensureStyles();
  const state = { limit: 10, offset: 0, q: '', userId: '', total: 0 };

  // Run controls and live status
  const runButton = h('button', { type: 'button', id: 'etl-run' }, 'Run ETL');
  const status = h('div', { id: 'etl-status', class: 'etl-status', role: 'status', 'aria-live': 'polite' });

  // Stats, runs, posts
  const statsBox = h('div', { class: 'grid', 'aria-busy': 'true' });
  const runsBox = h('div', { id: 'etl-runs' });
  const detailBox = h('div', { id: 'etl-run-detail', tabindex: '-1' });
  const postsBox = h('div', { id: 'etl-posts' });
  const pageInfo = h('span', { id: 'etl-page-info', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', class: 'secondary' }, 'Previous');
  const next = h('button', { type: 'button', class: 'secondary' }, 'Next');
  const perPage = h('select', { id: 'etl-per-page' }, [10, 25, 50, 100].map((n) => h('option', { value: n }, n)));
  const q = h('input', { id: 'etl-q', type: 'search', name: 'q', maxlength: '200', placeholder: 'words in the title or body' });
  const user = h('input', { id: 'etl-user', type: 'number', name: 'user_id', min: '1', step: '1', inputmode: 'numeric' });
  const search = h('form', { role: 'search', class: 'row', 'aria-label': 'Search posts' },
    h('label', { for: 'etl-q' }, 'Search'), q,
    h('label', { for: 'etl-user' }, 'User id'), user,
    h('button', { type: 'submit' }, 'Search'),
    h('button', { type: 'reset', class: 'secondary' }, 'Clear'));

  root.append(
    h('section', { 'aria-labelledby': 'etl-run-h' },
      h('h2', { id: 'etl-run-h' }, 'Run'),
      h('p', { class: 'muted' }, 'Extracts posts from the configured REST source, cleans them and loads them into SQLite.'),
      h('div', { class: 'row' }, runButton),
      status),
    h('section', { 'aria-labelledby': 'etl-stats-h' }, h('h2', { id: 'etl-stats-h' }, 'Stats'), statsBox),
    h('section', { 'aria-labelledby': 'etl-posts-h' },
      h('h2', { id: 'etl-posts-h' }, 'Posts'),
      search,
      postsBox,
      h('nav', { class: 'row', 'aria-label': 'Posts pages' }, prev, pageInfo, next, h('label', { for: 'etl-per-page' }, 'Per page'), perPage)),
    h('section', { 'aria-labelledby': 'etl-runs-h' }, h('h2', { id: 'etl-runs-h' }, 'Runs'), runsBox, detailBox),
  );

  const card = (label, value, extra) => h('div', { class: 'card' }, h('h3', {}, label), h('div', { class: 'figure' }, value), extra ? h('div', { class: 'muted' }, extra) : null);

  async function loadStats() {
    try {
      const s = await api('/stats');
      const byStatus = Object.entries(s.runs_by_status).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(', ') || 'none yet';
      statsBox.replaceChildren(
        card('Posts', String(s.post_count)),
        card('Users', String(s.distinct_users)),
        card('Average title', s.avg_title_length === null ? '—' : `${s.avg_title_length} chars`),
        card('Average body', s.avg_body_length === null ? '—' : `${s.avg_body_length} chars`),
        card('Last run', s.last_run ? statusBadge(s.last_run.status) : '—', s.last_run ? when(s.last_run.started_at) : null),
        card('Runs', String(Object.values(s.runs_by_status).reduce((a, b) => a + b, 0)), byStatus),
      );
      statsBox.removeAttribute('aria-busy');
      return s;
    } catch (e) {
      statsBox.replaceChildren(errorBox(e));
    }
  }

  async function showRun(id) {
    try {
      const run = await api(`/etl/runs/${id}?rejected_limit=50`);
      put(detailBox,
        h('h3', {}, `Run ${run.id} `, statusBadge(run.status)),
        h('p', {}, `Source: ${run.source_url}`),
        run.error ? h('p', { class: run.status === 'failed' ? 'error' : 'muted' }, run.error) : null,
        run.rejected
          ? table([
              { label: 'Position', key: 'position' },
              { label: 'Reason', key: 'reason' },
              { label: 'Raw record', render: (r) => h('code', { class: 'etl-raw' }, r.raw) },
            ], run.rejected_records)
          : h('p', { class: 'muted' }, 'No rejected records.'),
        run.rejected > run.rejected_records.length ? h('p', { class: 'muted' }, `First ${run.rejected_records.length} of ${run.rejected}.`) : null,
      );
      detailBox.focus();
    } catch (e) {
      detailBox.replaceChildren(errorBox(e));
    }
  }

  async function loadRuns() {
    try {
      const { items, total } = await api('/etl/runs?limit=10');
      put(runsBox,
        table([
          { label: 'Run', render: (r) => h('button', { type: 'button', class: 'link', 'aria-label': `Show run ${r.id}`, onclick: () => showRun(r.id) }, `#${r.id}`) },
          { label: 'Status', render: (r) => statusBadge(r.status) },
          { label: 'Started', render: (r) => when(r.started_at) },
          { label: 'Duration', render: (r) => ms(r.duration_ms) },
          { label: 'Extracted', key: 'extracted' },
          { label: 'Loaded', key: 'loaded' },
          { label: 'Rejected', key: 'rejected' },
          { label: 'Note', render: (r) => r.error ?? '' },
        ], items, 'No runs yet. Press “Run ETL” to load the posts.'),
        total > items.length ? h('p', { class: 'muted' }, `Latest ${items.length} of ${total} runs.`) : null,
      );
    } catch (e) {
      runsBox.replaceChildren(errorBox(e));
    }
  }

  async function loadPosts() {
    const params = new URLSearchParams({ limit: String(state.limit), offset: String(state.offset), q: state.q, user_id: state.userId });
    postsBox.setAttribute('aria-busy', 'true');
    try {
      const { items, total } = await api(`/posts?${params}`);
      state.total = total;
      postsBox.replaceChildren(table([
        { label: 'ID', key: 'id' },
        { label: 'User', key: 'user_id' },
        { label: 'Title', key: 'title' },
        { label: 'Body', render: (p) => h('span', { class: 'etl-body' }, p.body) },
      ], items, state.q || state.userId ? 'No post matches.' : 'No posts loaded yet.'));
      pageInfo.textContent = total ? `${state.offset + 1}–${state.offset + items.length} of ${total}` : '0 of 0';
      pageInfo.dataset.total = String(total);
    } catch (e) {
      postsBox.replaceChildren(errorBox(e));
      pageInfo.textContent = '';
    } finally {
      postsBox.removeAttribute('aria-busy');
      prev.disabled = state.offset === 0;
      next.disabled = state.offset + state.limit >= state.total;
    }
  }

  const refreshAll = () => Promise.all([loadStats(), loadRuns(), loadPosts()]);

  let polling = false;
  async function follow(run) {
    if (polling) return;
    polling = true;
    runButton.disabled = true;
    try {
      while (run.status === 'running' && !signal.aborted) {
        status.dataset.status = 'running';
        status.textContent = describeRun(run);
        await new Promise((r) => setTimeout(r, POLL_MS));
        if (signal.aborted) return;
        run = await api(`/etl/runs/${run.id}?rejected_limit=0`);
      }
      status.dataset.status = run.status;
      status.textContent = describeRun(run);
      status.className = `etl-status etl-${run.status}`;
      state.offset = 0;
      await refreshAll();
    } catch (e) {
      status.dataset.status = 'error';
      status.replaceChildren(errorBox(e));
    } finally {
      polling = false;
      runButton.disabled = false;
    }
  }

  runButton.addEventListener('click', async () => {
    runButton.disabled = true;
    status.className = 'etl-status';
    status.textContent = 'Starting a run…';
    try {
      await follow(await api('/etl/run?wait=false', { method: 'POST' }));
    } catch (e) {
      runButton.disabled = false;
      if (e instanceof ApiError && e.code === 'etl_running') {
        const s = await loadStats();
        if (s?.last_run?.status === 'running') return follow(s.last_run);
      }
      status.dataset.status = 'error';
      status.replaceChildren(errorBox(e));
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) openApiKey();
    }
  });

  search.addEventListener('submit', (e) => {
    e.preventDefault();
    state.q = q.value.trim();
    state.userId = user.value.trim();
    state.offset = 0;
    loadPosts();
  });
  search.addEventListener('reset', () => {
    state.q = '';
    state.userId = '';
    state.offset = 0;
    // The form clears its inputs after this event; load once they are empty.
    setTimeout(loadPosts, 0);
  });
  prev.addEventListener('click', () => {
    state.offset = Math.max(0, state.offset - state.limit);
    loadPosts();
  });
  next.addEventListener('click', () => {
    state.offset += state.limit;
    loadPosts();
  });
  perPage.addEventListener('change', () => {
    state.limit = Number(perPage.value);
    state.offset = 0;
    loadPosts();
  });

  const [stats] = await refreshAll();
  if (stats?.last_run?.status === 'running') follow(stats.last_run);
  // Runs started elsewhere (the schedule, the CLI) show up without a reload.
  const timer = setInterval(() => {
    if (!polling) Promise.all([loadStats(), loadRuns()]);
  }, REFRESH_MS);
  signal.addEventListener('abort', () => clearInterval(timer));
}
