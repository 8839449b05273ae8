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

export function errorBox(e) {
  return h('div', { class: 'error', role: 'alert' }, e instanceof ApiError ? `${e.message} (${e.code})` : String(e.message || e));
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
