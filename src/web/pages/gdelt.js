import { api, h, errorBox, table, loading, fmtNum, fmtUtc, routeParams, setRouteParams } from '../api.js';
import { chart } from '../charts.js';

export const title = 'GDELT';

const PAGE = 50;
const FILTERS = ['query', 'since', 'until', 'country', 'event_code', 'actor'];
const actor = (a) => a.name || a.code || '—';
const uid = (() => {
  let n = 0;
  return (p) => `gdelt-${p}-${++n}`;
})();

/** A labelled control: the label wraps the input, so clicking the text focuses it and screen readers read it. */
function field(label, attrs, tag = 'input', options = []) {
  const id = uid(attrs.name);
  const el = h(tag, { id, ...attrs }, options.map(([v, text]) => h('option', { value: v }, text)));
  return { el, wrap: h('label', { for: id }, label, el) };
}

function resultsTable(items) {
  return table(
    [
      { label: 'Added (UTC)', render: (e) => fmtUtc(e.date_added) },
      { label: 'Date', key: 'date' },
      { label: 'Actor 1', render: (e) => actor(e.actor1) },
      { label: 'Event', render: (e) => h('span', { title: e.event_root_description || '' }, h('code', {}, e.event_code ?? ''), ` ${e.event_description ?? ''}`) },
      { label: 'Actor 2', render: (e) => actor(e.actor2) },
      { label: 'Where', render: (e) => e.location || e.country.name || '' },
      { label: 'Goldstein', render: (e) => fmtNum(e.goldstein, 1) },
      { label: 'Tone', render: (e) => fmtNum(e.tone, 2) },
      { label: 'Mentions', key: 'mentions' },
      { label: 'Source', render: (e) => (e.source_url && /^https?:\/\//.test(e.source_url) ? h('a', { href: e.source_url, rel: 'noopener noreferrer', target: '_blank' }, new URL(e.source_url).hostname) : '') },
    ],
    items,
    'No event matches.',
  );
}

/** Interval for the timeline: the user's choice, or from the date range when given (hour when not). */
function autoInterval(p) {
  if (p.interval && p.interval !== 'auto') return p.interval;
  if (p.since && p.until) {
    const days = (Date.parse(p.until) - Date.parse(p.since)) / 86_400_000 + 1;
    return days <= 2 ? '15m' : days <= 20 ? 'hour' : 'day';
  }
  return 'hour';
}

function searchPanel(signal) {
  const initial = routeParams();
  const f = {
    query: field('Words', { type: 'search', name: 'query', placeholder: 'protest, police, Kenya…', maxlength: '200' }),
    since: field('Since (UTC)', { type: 'date', name: 'since' }),
    until: field('Until (UTC)', { type: 'date', name: 'until' }),
    country: field('Country (FIPS)', { name: 'country', placeholder: 'US', size: '4', maxlength: '2', pattern: '[A-Za-z]{2}', title: 'two letters, FIPS 10-4 (US, UK, IN…)' }),
    event_code: field('Event code (CAMEO)', { name: 'event_code', placeholder: '14', size: '6', maxlength: '4', pattern: '[0-9]{2,4}', inputmode: 'numeric', title: '2 to 4 digits: 14 = every protest code' }),
    actor: field('Actor', { name: 'actor', placeholder: 'police, USAGOV', maxlength: '100' }),
    sort: field('Sort', { name: 'sort' }, 'select', [['date', 'newest'], ['mentions', 'most mentioned'], ['tone', 'most negative']]),
    interval: field('Timeline step', { name: 'interval' }, 'select', [['auto', 'auto'], ['15m', '15 minutes'], ['hour', 'hour'], ['day', 'day']]),
  };
  for (const [k, { el }] of Object.entries(f)) if (initial.get(k)) el.value = initial.get(k);
  let offset = Number(initial.get('offset')) || 0;

  const summary = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const out = h('div', { id: 'gdelt-results' });
  const prev = h('button', { type: 'button', class: 'secondary' }, 'Previous');
  const next = h('button', { type: 'button', class: 'secondary' }, 'Next');
  const pageInfo = h('span', { class: 'muted' });
  const timeline = chart({ title: 'Matching events over time (UTC)', kind: 'time-bars', yLabel: 'events', empty: 'No event to chart.', signal });
  const roots = chart({ title: 'By CAMEO root code', kind: 'category', yLabel: 'events', empty: 'No event to chart.', signal });
  timeline.el.classList.add('wide');
  timeline.el.id = 'gdelt-timeline';
  roots.el.id = 'gdelt-roots';
  const countries = h('div', { class: 'chart', id: 'gdelt-countries' }, h('div', { class: 'chart-caption' }, 'By country (where it happened)'), loading());

  const params = () => {
    const p = {};
    for (const [k, { el }] of Object.entries(f)) if (el.value.trim()) p[k] = el.value.trim();
    return p;
  };
  const filterQuery = (p) => new URLSearchParams(FILTERS.filter((k) => p[k]).map((k) => [k, p[k]]));

  async function loadResults(p) {
    out.setAttribute('aria-busy', 'true');
    out.replaceChildren(loading('Searching…'));
    try {
      const q = filterQuery(p);
      q.set('limit', String(PAGE));
      q.set('offset', String(offset));
      if (p.sort) q.set('sort', p.sort);
      const r = await api(`/api/v1/events/search?${q}`, { signal });
      summary.textContent = `${r.total.toLocaleString('en-US')} events match`;
      summary.dataset.total = String(r.total);
      out.replaceChildren(resultsTable(r.items));
      pageInfo.textContent = r.total ? `${offset + 1}–${offset + r.items.length} of ${r.total.toLocaleString('en-US')}` : '';
      prev.disabled = offset === 0;
      next.disabled = offset + PAGE >= r.total;
    } catch (err) {
      if (signal.aborted) return;
      summary.textContent = '';
      out.replaceChildren(errorBox(err));
      prev.disabled = next.disabled = true;
    } finally {
      out.removeAttribute('aria-busy');
    }
  }

  async function loadCharts(p) {
    const q = filterQuery(p);
    const get = (path, extra) => api(`${path}?${new URLSearchParams([...q, ...Object.entries(extra)])}`, { signal });
    const interval = autoInterval(p);
    const timelineData = (async () => {
      let r = await get('/api/v1/events/timeline', { interval });
      // "auto" without dates: a few hours of data read better per 15 minutes, months per day.
      if (!p.interval || p.interval === 'auto') {
        if (interval === 'hour' && r.items.length < 4) r = await get('/api/v1/events/timeline', { interval: '15m' });
        else if (interval === 'hour' && r.items.length > 24 * 21) r = await get('/api/v1/events/timeline', { interval: 'day' });
      }
      return r;
    })();
    const [tl, rc, ct] = await Promise.allSettled([timelineData, get('/api/v1/events/stats', { group_by: 'root_code' }), get('/api/v1/events/stats', { group_by: 'country' })]);
    if (signal.aborted) return;
    if (tl.status === 'fulfilled') timeline.update({ x: tl.value.items.map((i) => Date.parse(i.key) / 1000), series: [{ label: 'events', values: tl.value.items.map((i) => i.count) }] });
    else timeline.el.replaceChildren(h('figcaption', {}, 'Matching events over time'), errorBox(tl.reason));
    if (rc.status === 'fulfilled') {
      const items = [...rc.value.items].sort((a, b) => a.key.localeCompare(b.key));
      roots.update({
        x: items.map((_, i) => i),
        categories: items.map((i) => i.key),
        names: items.map((i) => `${i.key} ${i.label ?? ''}`.trim()),
        series: [{ label: 'events', values: items.map((i) => i.count) }],
      });
    } else roots.el.replaceChildren(h('figcaption', {}, 'By CAMEO root code'), errorBox(rc.reason));
    const caption = h('div', { class: 'chart-caption' }, 'By country (where it happened)');
    if (ct.status === 'rejected') countries.replaceChildren(caption, errorBox(ct.reason));
    else {
      const top = ct.value.items.slice(0, 12);
      const rest = ct.value.items.slice(12).reduce((a, i) => a + i.count, 0);
      countries.replaceChildren(
        caption,
        table(
          [
            { label: 'Country', render: (c) => (c.key === 'unknown' ? h('span', { class: 'muted' }, 'not located') : h('button', { type: 'button', class: 'link', title: `Only events in ${c.label ?? c.key}`, onclick: () => filterCountry(c.key) }, `${c.label ?? c.key} (${c.key})`)) },
            { label: 'Events', render: (c) => fmtNum(c.count) },
            { label: 'Avg tone', render: (c) => fmtNum(c.avg_tone, 2) },
            { label: 'Avg Goldstein', render: (c) => fmtNum(c.avg_goldstein, 2) },
          ],
          top,
          'No event.',
        ),
        rest ? h('p', { class: 'muted' }, `${ct.value.items.length - top.length} more countries: ${fmtNum(rest)} events`) : null,
      );
    }
  }

  function filterCountry(code) {
    f.country.el.value = code;
    run();
  }

  function run(e, keepOffset = false) {
    e?.preventDefault();
    if (!keepOffset) offset = 0;
    const p = params();
    setRouteParams(new URLSearchParams({ ...p, ...(offset ? { offset: String(offset) } : {}) }));
    loadResults(p);
    if (!keepOffset) loadCharts(p);
  }
  prev.addEventListener('click', () => {
    offset = Math.max(0, offset - PAGE);
    run(undefined, true);
  });
  next.addEventListener('click', () => {
    offset += PAGE;
    run(undefined, true);
  });

  const form = h('form', { class: 'row', role: 'search', 'aria-label': 'Search events', onsubmit: run, onreset: () => setTimeout(run, 0) },
    Object.values(f).map((x) => x.wrap),
    h('button', { type: 'submit' }, 'Search'),
    h('button', { type: 'reset', class: 'secondary' }, 'Clear'));
  loadResults(params());
  loadCharts(params());
  return h('section', { 'aria-labelledby': 'gdelt-search-h' },
    h('h2', { id: 'gdelt-search-h' }, 'Search events'),
    h('p', { class: 'muted' }, 'Words match actor names, places, source URL words and CAMEO descriptions. Dates apply to when GDELT added the event. The charts count the same matching events.'),
    form,
    summary,
    h('div', { class: 'charts', id: 'gdelt-charts' }, timeline.el, roots.el, countries),
    h('h3', {}, 'Events'),
    out,
    h('nav', { class: 'pager', 'aria-label': 'Result pages' }, prev, pageInfo, next));
}

function ingestPanel(signal) {
  const n = field('Latest batches', { type: 'number', name: 'n_batches', min: '1', max: '96', value: '4', required: true, size: '4' });
  const from = field('From (UTC)', { type: 'date', name: 'from', required: true });
  const to = field('To (UTC)', { type: 'date', name: 'to', required: true });
  const message = h('div', { role: 'status', 'aria-live': 'polite' });
  const jobsBox = h('div', { id: 'gdelt-jobs' }, loading('Loading jobs…'));
  const batchesBox = h('div', { id: 'gdelt-batches' }, loading('Loading batches…'));
  let batchOffset = 0;
  const BATCH_PAGE = 20;

  const queue = async (path, what) => {
    message.replaceChildren(loading('Queuing…'));
    try {
      const r = await api(path, { method: 'POST' });
      message.replaceChildren(h('p', {}, `Job ${r.job_id} queued (${what}).`));
      refresh();
    } catch (err) {
      message.replaceChildren(errorBox(err));
    }
  };
  const trigger = (e) => {
    e.preventDefault();
    queue(`/api/v1/ingest/trigger?n_batches=${encodeURIComponent(n.el.value)}`, `latest ${n.el.value} batches`);
  };
  const backfill = (e) => {
    e.preventDefault();
    queue(`/api/v1/ingest/backfill?${new URLSearchParams({ from: from.el.value, to: to.el.value })}`, `${from.el.value} to ${to.el.value}`);
  };

  const progress = (j) => h('progress', { max: String(j.batches_total || 1), value: String(j.batches_done), 'aria-label': `job ${j.job_id} progress` });
  const jobWhat = (j) => (j.kind === 'range' ? `${j.params.from} → ${j.params.to}` : j.kind === 'latest' ? `latest ${j.params.n_batches}` : 'poll');
  const batchPrev = h('button', { type: 'button', class: 'secondary' }, 'Newer');
  const batchNext = h('button', { type: 'button', class: 'secondary' }, 'Older');
  const batchInfo = h('span', { class: 'muted' });
  batchPrev.addEventListener('click', () => ((batchOffset = Math.max(0, batchOffset - BATCH_PAGE)), refresh()));
  batchNext.addEventListener('click', () => ((batchOffset += BATCH_PAGE), refresh()));

  let timer;
  const refresh = async () => {
    clearTimeout(timer);
    let active = false;
    try {
      const [jobs, batches] = await Promise.all([api('/api/v1/ingest/jobs?limit=10', { signal }), api(`/api/v1/ingest/batches?limit=${BATCH_PAGE}&offset=${batchOffset}`, { signal })]);
      active = jobs.items.some((j) => j.state === 'queued' || j.state === 'running');
      jobsBox.replaceChildren(
        table(
          [
            { label: 'Job', key: 'job_id' },
            { label: 'What', render: jobWhat },
            { label: 'State', render: (j) => h('span', { class: `job-${j.state}` }, j.state) },
            { label: 'Progress', render: (j) => h('span', {}, progress(j), ` ${j.batches_done}/${j.batches_total}`) },
            { label: 'Rows', render: (j) => fmtNum(j.rows) },
            { label: 'Quarantined', key: 'quarantined_rows' },
            { label: 'Errors', render: (j) => (j.errors.length ? h('details', {}, h('summary', {}, String(j.errors.length)), h('ul', {}, j.errors.map((x) => h('li', {}, `${x.code}: ${x.message}`)))) : '0') },
            { label: 'Created', render: (j) => fmtUtc(j.created_at) },
          ],
          jobs.items,
          'No job yet.',
        ),
      );
      batchesBox.replaceChildren(
        h('p', { class: 'muted' }, `${batches.total} batch files in the lake, ${fmtNum(batches.rows)} rows`),
        table(
          [
            { label: 'Batch (UTC)', render: (b) => fmtUtc(b.batch_time) },
            { label: 'Table', key: 'table' },
            { label: 'Rows', render: (b) => fmtNum(b.rows) },
            { label: 'Quarantined', key: 'quarantined_rows' },
            { label: 'Zip bytes', render: (b) => fmtNum(b.bytes) },
            { label: 'md5', render: (b) => h('code', { title: b.md5 }, b.md5.slice(0, 10) + '…') },
            { label: 'Ingested', render: (b) => fmtUtc(b.ingested_at) },
            { label: 'Searchable', render: (b) => (b.table !== 'events' ? '–' : b.indexed_at ? fmtUtc(b.indexed_at) : 'indexing…') },
          ],
          batches.items,
          'The lake is empty: queue a few batches above.',
        ),
      );
      batchInfo.textContent = batches.total ? `${batchOffset + 1}–${batchOffset + batches.items.length} of ${batches.total}` : '';
      batchPrev.disabled = batchOffset === 0;
      batchNext.disabled = batchOffset + BATCH_PAGE >= batches.total;
    } catch (err) {
      if (signal.aborted) return;
      jobsBox.replaceChildren(errorBox(err));
    }
    // Follow running jobs closely; otherwise look now and then for jobs queued elsewhere (CLI, poller).
    if (!signal.aborted) timer = setTimeout(refresh, active ? 1500 : 10_000);
  };
  refresh();
  signal.addEventListener('abort', () => clearTimeout(timer));
  return h(
    'section',
    { 'aria-labelledby': 'gdelt-ingest-h' },
    h('h2', { id: 'gdelt-ingest-h' }, 'Ingestion'),
    h('form', { class: 'row', 'aria-label': 'Ingest the latest batches', onsubmit: trigger }, n.wrap, h('button', { type: 'submit' }, 'Ingest latest')),
    h('form', { class: 'row', 'aria-label': 'Backfill a range', onsubmit: backfill }, from.wrap, to.wrap, h('button', { type: 'submit' }, 'Backfill range')),
    message,
    h('h3', {}, 'Jobs'),
    jobsBox,
    h('h3', {}, 'Batches in the lake'),
    batchesBox,
    h('nav', { class: 'pager', 'aria-label': 'Batch pages' }, batchPrev, batchInfo, batchNext),
  );
}

export async function render(root, { signal }) {
  root.append(searchPanel(signal), ingestPanel(signal));
}
