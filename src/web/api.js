// The page's only data source is the public API. Errors arrive as { error: { code, message } } and are shown as is.
export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    // Extra fields of the error body (e.g. run_id on a 409) for pages that act on them.
    this.details = details;
  }
}

export async function api(path, options = {}) {
  const headers = { accept: 'application/json', ...(options.headers || {}) };
  const key = sessionStorage.getItem('sillage.apiKey');
  if (key && options.method && options.method !== 'GET') headers.authorization = `Bearer ${key}`;
  let res;
  try {
    res = await fetch(path, { ...options, headers });
  } catch (e) {
    throw new ApiError(0, 'network', `The server could not be reached (${e.message}). Is it running?`);
  }
  const text = await res.text();
  let body;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!res.ok && !(res.status === 503 && path === '/health')) {
    const err = body && body.error ? body.error : { code: `http_${res.status}`, message: `${res.status} ${res.statusText}` };
    const { code, message, ...details } = err;
    throw new ApiError(res.status, code, message, details);
  }
  return body;
}

/** Small DOM helper: h('div', { class: 'x' }, 'text', child). Text is always set as text, never as HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/**
 * An API error as a sentence a person can act on. A feature switched off (503 `*_disabled`) is a notice, not an
 * alarm; a refused key points at the API key box.
 */
export function errorBox(e) {
  if (!(e instanceof ApiError)) return h('div', { class: 'error', role: 'alert' }, String(e?.message || e));
  if (e.status === 503 && /_disabled$/.test(e.code)) return h('div', { class: 'notice', role: 'status', 'data-code': e.code }, h('strong', {}, 'Not enabled. '), e.message);
  const hint =
    e.status === 401 || e.status === 403 ? ' Enter the API key (the “API key” box at the bottom of the page) and try again.'
    : e.status === 429 ? ' Wait a moment and try again.'
    : '';
  return h('div', { class: 'error', role: 'alert', 'data-code': e.code },
    e.status ? h('strong', {}, `Error ${e.status}: `) : null, e.message, hint, ' ', h('code', { class: 'muted' }, e.code));
}

/** Opens the API key box in the footer and puts the cursor in it (after a 401/403). */
export function openApiKey() {
  const box = document.getElementById('api-key');
  if (!box) return;
  box.open = true;
  document.getElementById('api-key-input')?.focus();
}

/** A placeholder while data loads. */
export const loading = (text = 'Loading…') => h('p', { class: 'loading', role: 'status' }, text);

/** A figure card: label, big value, optional line under it. */
export const card = (label, value, extra, attrs = {}) =>
  h('div', { class: 'card', ...attrs }, h('h3', {}, label), h('div', { class: 'figure' }, value), extra ? h('div', { class: 'muted' }, extra) : null);

export const fmtNum = (n, digits = 0) => (n === null || n === undefined || Number.isNaN(n) ? '—' : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits }));
/** UTC time as `YYYY-MM-DD HH:MM` (GDELT and window times are UTC). */
export const fmtUtc = (iso) => (iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 16) : '—');
export const fmtBytes = (n) => (n === null || n === undefined ? '—' : n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`);

/** Query parameters of the current hash route (`#/gdelt?query=protest`). */
export function routeParams() {
  const i = location.hash.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : location.hash.slice(i + 1));
}

/** Writes a page's state into its hash route without re-rendering (replaceState fires no hashchange). */
export function setRouteParams(params) {
  const base = location.hash.split('?')[0] || '#/';
  const q = [...params].filter(([, v]) => v !== '' && v !== undefined && v !== null);
  history.replaceState(null, '', q.length ? `${base}?${new URLSearchParams(q)}` : base);
}

export function table(columns, rows, empty = 'Nothing yet.') {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) => h('td', {}, c.render ? c.render(r) : r[c.key] ?? '')))))));
}

let uplotLoading;
/** Loads uPlot (served locally from the installed package) once; resolves with the uPlot constructor. */
export function loadUPlot() {
  uplotLoading ??= new Promise((resolve, reject) => {
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = '/assets/vendor/uplot.css';
    document.head.append(css);
    const script = document.createElement('script');
    script.src = '/assets/vendor/uplot.js';
    script.onload = () => resolve(window.uPlot);
    script.onerror = () => reject(new Error('The chart library could not be loaded.'));
    document.head.append(script);
  });
  return uplotLoading;
}
