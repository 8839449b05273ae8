import { h, loadUPlot } from './api.js';

// Every chart on the dashboard goes through this module: uPlot (served locally) draws on a canvas; this adds what a
// canvas lacks — a caption, a text summary for screen readers, an optional data table, an empty state, and a width
// that follows the page (1280 px down to a phone).

export const palette = ['#3b5bdb', '#e8590c', '#2b8a3e', '#c2255c', '#7048e8', '#0c8599', '#e67700', '#495057'];

const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
const full = (v) => (v === null || v === undefined ? '—' : Number(v).toLocaleString('en-US', { maximumFractionDigits: 2 }));

let firstDrawn = false;
/** The benchmark reads this mark: time from navigation to the first chart with data on screen. */
function drawn(host) {
  host.dataset.drawn = 'true';
  if (firstDrawn) return;
  firstDrawn = true;
  performance.mark('sillage:first-chart');
}

/** Tick steps in seconds: never below a second, so a short history does not repeat the same label. */
const TIME_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000];

/** Tick labels in UTC, 24-hour: dates for day steps, times otherwise, with the date where the day changes. */
function timeTicks(_u, splits, _axis, _space, incr) {
  let day = '';
  return splits.map((s) => {
    const iso = new Date(s * 1000).toISOString();
    if (incr >= 86_400) return iso.slice(0, 10);
    const d = iso.slice(5, 10);
    const time = incr < 60 ? iso.slice(11, 19) : iso.slice(11, 16);
    const label = d !== day ? `${time}\n${d}` : time;
    day = d;
    return label;
  });
}

function minStep(xs) {
  let step = Infinity;
  for (let i = 1; i < xs.length; i++) step = Math.min(step, xs[i] - xs[i - 1]);
  return Number.isFinite(step) && step > 0 ? step : 900;
}

function alpha(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

/**
 * A chart in a <figure>. `update(data)` draws (creating uPlot on first use, rebuilding it when the series change);
 * data is `{ x: number[], series: [{ label, values }], categories?: string[] }` with x in seconds for time charts
 * and 0..n-1 for category charts. The chart is removed when `signal` aborts.
 *
 * kind: 'time' (lines over time), 'time-bars' (bars over time) or 'category' (one bar per category).
 */
export function chart({ title, kind = 'time', height = 220, yLabel = '', empty = 'No data to chart.', signal, dataTable = true, describe }) {
  const plot = h('div', { class: 'chart-plot', role: 'img', 'aria-label': `${title}: loading` });
  const note = h('p', { class: 'muted chart-empty', hidden: true }, empty);
  const tableBox = h('div', { class: 'chart-data' });
  const el = h('figure', { class: 'chart', 'data-chart': kind, 'aria-busy': 'true' }, h('figcaption', {}, title), plot, note, tableBox);
  let u;
  let shape = '';
  let last;
  const uplot = loadUPlot();

  const resize = () => u && plot.clientWidth && u.setSize({ width: plot.clientWidth, height: chartHeight() });
  const chartHeight = () => (window.innerWidth < 600 ? Math.round(height * 0.8) : height);
  const observer = new ResizeObserver(() => resize());
  observer.observe(el);
  signal?.addEventListener('abort', () => {
    observer.disconnect();
    u?.destroy();
    u = undefined;
  });

  function options(uPlot, data) {
    const cat = kind === 'category';
    const bars = kind !== 'time';
    const labels = data.categories || [];
    // Bars over time get half a step of room on each side, so the first and last bars are not cut in half.
    const step = kind === 'time-bars' ? minStep(data.x) : 0;
    return {
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      width: Math.max(plot.clientWidth, 200),
      height: chartHeight(),
      legend: { live: true },
      cursor: { drag: { x: false, y: false }, points: { show: !bars } },
      scales: {
        x: cat ? { time: false, range: [-0.5, labels.length - 0.5] } : step ? { time: true, range: (_u, min, max) => [min - step / 2, max + step / 2] } : { time: true },
        y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.08 : 1] },
      },
      axes: [
        cat
          ? { space: 18, splits: () => labels.map((_, i) => i), values: (_u, splits) => splits.map((i) => labels[i] ?? ''), grid: { show: false } }
          : { space: 64, values: timeTicks, incrs: TIME_INCRS },
        { label: yLabel, size: 52, values: (_u, splits) => splits.map((v) => compact.format(v)) },
      ],
      series: [
        cat ? { label: 'group', value: (_u, i) => (i === null || i === undefined ? '—' : (data.names?.[i] ?? labels[i] ?? '')) } : { label: 'time' },
        ...data.series.map((s, i) => ({
          label: s.label,
          stroke: palette[i % palette.length],
          fill: bars || data.series.length === 1 ? alpha(palette[i % palette.length], bars ? 0.75 : 0.12) : undefined,
          width: bars ? 0 : 2,
          points: { show: !bars && data.x.length < 60, size: 5 },
          paths: bars ? uPlot.paths.bars({ size: [0.75, 48], align: 0 }) : undefined,
          value: (_u, v) => full(v),
        })),
      ],
      hooks: { draw: [() => drawn(el)] },
    };
  }

  function summary(data) {
    if (describe) return describe(data);
    const s = data.series[0];
    let peak = 0;
    for (let i = 1; i < s.values.length; i++) if ((s.values[i] ?? -Infinity) > (s.values[peak] ?? -Infinity)) peak = i;
    const at = kind === 'category' ? data.categories[peak] : new Date(data.x[peak] * 1000).toISOString().replace('T', ' ').slice(0, 16);
    return `${title}: ${data.x.length} ${kind === 'category' ? 'groups' : 'points'}; highest ${full(s.values[peak])} at ${at}.`;
  }

  function renderTable(data) {
    if (!dataTable) return;
    const rows = data.x.map((x, i) => [kind === 'category' ? (data.names?.[i] ?? data.categories[i]) : new Date(x * 1000).toISOString().replace('T', ' ').slice(0, 16), ...data.series.map((s) => full(s.values[i]))]);
    tableBox.replaceChildren(
      h('details', {},
        h('summary', {}, 'Data as a table'),
        h('div', { class: 'table-wrap' },
          h('table', {},
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, kind === 'category' ? 'group' : 'time (UTC)'), data.series.map((s) => h('th', { scope: 'col' }, s.label)))),
            h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c)))))))));
  }

  async function update(data) {
    last = data;
    const U = await uplot;
    if (signal?.aborted || data !== last) return;
    el.removeAttribute('aria-busy');
    const isEmpty = !data.x.length || data.series.every((s) => s.values.every((v) => v === null || v === undefined));
    note.hidden = !isEmpty;
    plot.hidden = isEmpty;
    if (isEmpty) {
      plot.setAttribute('aria-label', `${title}: ${empty}`);
      tableBox.replaceChildren();
      el.dataset.drawn = 'empty';
      return;
    }
    plot.setAttribute('aria-label', summary(data));
    renderTable(data);
    const aligned = [data.x, ...data.series.map((s) => s.values)];
    const next = `${kind}|${data.series.map((s) => s.label).join('|')}|${(data.categories || []).join('|')}|${(data.names || []).join('|')}`;
    if (u && next === shape) {
      u.setData(aligned);
      return;
    }
    u?.destroy();
    shape = next;
    u = new U(options(U, data), aligned, plot);
  }

  return { el, update };
}

/**
 * A sparkline: a tiny line chart without axes or legend, for a row of a table. `values` are evenly spaced
 * (e.g. one per minute); `label` says what they are for screen readers. `update(values)` redraws in place;
 * `destroy()` frees it (uPlot listens on the window) when its row goes away.
 */
export function sparkline({ values, label, width = 120, height = 28 }) {
  const el = h('span', { class: 'sparkline', role: 'img' });
  let u;
  let current = values;
  let destroyed = false;
  const describe = () => el.setAttribute('aria-label', `${label}: ${current.map((v) => full(v)).join(', ')}`);
  describe();
  loadUPlot().then((U) => {
    if (destroyed) return;
    u = new U(
      {
        width,
        height,
        pxAlign: false,
        legend: { show: false },
        cursor: { show: false },
        select: { show: false },
        scales: { x: { time: false }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [{ show: false }, { show: false }],
        series: [{}, { stroke: palette[0], fill: alpha(palette[0], 0.15), width: 1.5, points: { show: false } }],
        hooks: { draw: [() => drawn(el)] },
      },
      [current.map((_, i) => i), current],
      el,
    );
  });
  return {
    el,
    update(values) {
      current = values;
      describe();
      u?.setData([values.map((_, i) => i), values]);
    },
    destroy() {
      destroyed = true;
      u?.destroy();
    },
  };
}
