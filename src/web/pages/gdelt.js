import { api, h, errorBox, table } from '../api.js';

export const title = 'GDELT';

const fmt = (n, digits = 2) => (n === null || n === undefined ? '' : Number(n).toFixed(digits));
const when = (iso) => (iso ? iso.replace('T', ' ').slice(0, 16) : '');

function actor(a) {
  return a.name || a.code || '—';
}

function resultsTable(items) {
  return table(
    [
      { label: 'Added', render: (e) => when(e.date_added) },
      { label: 'Date', key: 'date' },
      { label: 'Actor 1', render: (e) => actor(e.actor1) },
      { label: 'Event', render: (e) => h('span', { title: e.event_root_description || '' }, `${e.event_code ?? ''} ${e.event_description ?? ''}`) },
      { label: 'Actor 2', render: (e) => actor(e.actor2) },
      { label: 'Where', render: (e) => e.location || e.country.name || '' },
      { label: 'Goldstein', render: (e) => fmt(e.goldstein, 1) },
      { label: 'Tone', render: (e) => fmt(e.tone) },
      { label: 'Mentions', key: 'mentions' },
      { label: 'Source', render: (e) => (e.source_url && /^https?:\/\//.test(e.source_url) ? h('a', { href: e.source_url, rel: 'noopener noreferrer', target: '_blank' }, new URL(e.source_url).hostname) : '') },
    ],
    items,
    'No event matches.',
  );
}

function searchPanel(signal) {
  const query = h('input', { type: 'search', name: 'query', placeholder: 'protest, police, Kenya…', 'aria-label': 'Search words', maxlength: '200' });
  const since = h('input', { type: 'date', name: 'since', 'aria-label': 'Since' });
  const until = h('input', { type: 'date', name: 'until', 'aria-label': 'Until' });
  const country = h('input', { name: 'country', placeholder: 'country (FIPS, e.g. US)', size: '6', maxlength: '2', 'aria-label': 'Country code' });
  const code = h('input', { name: 'event_code', placeholder: 'CAMEO code', size: '8', maxlength: '4', 'aria-label': 'Event code' });
  const sort = h('select', { name: 'sort', 'aria-label': 'Sort' }, h('option', { value: 'date' }, 'newest'), h('option', { value: 'mentions' }, 'most mentioned'), h('option', { value: 'tone' }, 'most negative'));
  const out = h('div', { 'aria-live': 'polite' });
  const run = async (e) => {
    e?.preventDefault();
    const params = new URLSearchParams({ limit: '50' });
    for (const el of [query, since, until, country, code, sort]) if (el.value) params.set(el.name, el.value.trim());
    out.replaceChildren(h('p', { class: 'loading' }, 'Searching…'));
    try {
      const r = await api(`/api/v1/events/search?${params}`, { signal });
      out.replaceChildren(h('p', { class: 'muted' }, `${r.total.toLocaleString()} events`), resultsTable(r.items));
    } catch (err) {
      out.replaceChildren(errorBox(err));
    }
  };
  const form = h('form', { class: 'row', onsubmit: run }, query, since, until, country, code, sort, h('button', { type: 'submit' }, 'Search'));
  run();
  return h('section', {}, h('h2', {}, 'Search events'), form, out);
}

function ingestPanel(signal) {
  const n = h('input', { type: 'number', min: '1', max: '96', value: '4', 'aria-label': 'Number of batches', size: '4' });
  const message = h('div', { 'aria-live': 'polite' });
  const jobsBox = h('div');
  const batchesBox = h('div');
  const trigger = async (e) => {
    e.preventDefault();
    try {
      const r = await api(`/api/v1/ingest/trigger?n_batches=${encodeURIComponent(n.value)}`, { method: 'POST' });
      message.replaceChildren(h('p', {}, `Job ${r.job_id} queued.`));
      refresh();
    } catch (err) {
      message.replaceChildren(errorBox(err));
    }
  };
  const progress = (j) => h('progress', { max: String(j.batches_total || 1), value: String(j.batches_done), 'aria-label': `job ${j.job_id} progress` });
  const refresh = async () => {
    try {
      const [jobs, batches] = await Promise.all([api('/api/v1/ingest/jobs?limit=10'), api('/api/v1/ingest/batches?limit=20')]);
      jobsBox.replaceChildren(
        table(
          [
            { label: 'Job', key: 'job_id' },
            { label: 'Kind', key: 'kind' },
            { label: 'State', render: (j) => h('span', { class: `job-${j.state}` }, j.state) },
            { label: 'Progress', render: (j) => h('span', {}, progress(j), ` ${j.batches_done}/${j.batches_total}`) },
            { label: 'Rows', render: (j) => j.rows.toLocaleString() },
            { label: 'Quarantined', key: 'quarantined_rows' },
            { label: 'Errors', render: (j) => (j.errors.length ? h('details', {}, h('summary', {}, String(j.errors.length)), h('ul', {}, j.errors.map((x) => h('li', {}, `${x.code}: ${x.message}`)))) : '0') },
          ],
          jobs.items,
          'No job yet.',
        ),
      );
      batchesBox.replaceChildren(
        h('p', { class: 'muted' }, `${batches.total} batch files in the lake`),
        table(
          [
            { label: 'Batch', render: (b) => when(b.batch_time) },
            { label: 'Table', key: 'table' },
            { label: 'Rows', render: (b) => b.rows.toLocaleString() },
            { label: 'Quarantined', key: 'quarantined_rows' },
            { label: 'Zip bytes', render: (b) => b.bytes.toLocaleString() },
            { label: 'md5', render: (b) => h('code', {}, b.md5.slice(0, 10) + '…') },
            { label: 'Ingested', render: (b) => when(b.ingested_at) },
            { label: 'Searchable', render: (b) => (b.table !== 'events' ? '–' : b.indexed_at ? when(b.indexed_at) : 'indexing…') },
          ],
          batches.items,
          'The lake is empty: queue a few batches above.',
        ),
      );
    } catch (err) {
      jobsBox.replaceChildren(errorBox(err));
    }
  };
  refresh();
  const timer = setInterval(refresh, 3000);
  signal.addEventListener('abort', () => clearInterval(timer));
  return h(
    'section',
    {},
    h('h2', {}, 'Ingestion'),
    h('form', { class: 'row', onsubmit: trigger }, h('label', {}, 'Latest ', n, ' batches'), h('button', { type: 'submit' }, 'Ingest')),
    message,
    h('h3', {}, 'Jobs'),
    jobsBox,
    h('h3', {}, 'Batches in the lake'),
    batchesBox,
  );
}

export async function render(root, { signal }) {
  root.append(
    searchPanel(signal),
    // Charts (timeline and stats from /api/v1/events/timeline and /stats) come in a later issue and go here.
    h('section', { id: 'gdelt-charts', class: 'gdelt-charts', 'aria-label': 'Charts' }),
    ingestPanel(signal),
  );
}
