import { api, h, errorBox, loading } from './api.js';

// Pages are listed in index.html's nav (so the links show before any script runs) and loaded on first visit: each
// module exports `title` and `render(root, { signal })`. The signal aborts when the user leaves the page, so
// timers, live streams and charts stop.
const pages = new Map();
const names = [...document.querySelectorAll('#nav a')].map((a) => a.dataset.page);

async function loadPage(name) {
  if (!names.includes(name)) return null;
  if (!pages.has(name)) pages.set(name, import(`./pages/${name}.js`));
  return pages.get(name);
}

let current;
let firstRoute = true;
async function route() {
  const name = (location.hash.replace(/^#\/?/, '') || 'overview').split('?')[0];
  current?.abort();
  const controller = (current = new AbortController());
  const root = document.getElementById('page');
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  root.setAttribute('aria-busy', 'true');
  root.replaceChildren(loading());
  let page;
  try {
    page = await loadPage(name);
  } catch (e) {
    pages.delete(name);
    root.replaceChildren(errorBox(new Error(`The ${name} page could not be loaded (${e.message}). Reload to try again.`)));
    return;
  }
  if (controller.signal.aborted) return;
  root.replaceChildren();
  root.removeAttribute('aria-busy');
  if (!page) {
    document.title = 'sillage · not found';
    root.append(h('h1', {}, 'Not found'), errorBox(new Error(`There is no page named "${name}". Pick one in the menu above.`)));
    return;
  }
  document.title = `sillage · ${page.title}`;
  root.append(h('h1', { class: 'page-title' }, page.title));
  // Keyboard and screen reader users land on the new page, not on the link they left behind.
  if (!firstRoute) root.focus({ preventScroll: false });
  firstRoute = false;
  try {
    await page.render(root, { signal: controller.signal });
  } catch (e) {
    if (!controller.signal.aborted) root.append(errorBox(e));
  }
}

async function badge() {
  const el = document.getElementById('health-badge');
  try {
    const health = await api('/health');
    const down = Object.entries(health.components).filter(([, s]) => s === 'down').map(([n]) => n);
    el.textContent = health.status === 'ok' ? 'healthy' : `down: ${down.join(', ')}`;
    el.className = `badge ${health.status}`;
  } catch {
    el.textContent = 'unreachable';
    el.className = 'badge down';
  }
}

function apiKeyBox() {
  const form = document.getElementById('api-key-form');
  const input = document.getElementById('api-key-input');
  const status = document.getElementById('api-key-status');
  input.value = sessionStorage.getItem('sillage.apiKey') || '';
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (input.value) sessionStorage.setItem('sillage.apiKey', input.value);
    else sessionStorage.removeItem('sillage.apiKey');
    status.textContent = input.value ? 'Kept for this tab.' : 'Cleared.';
  });
}

window.addEventListener('hashchange', route);
apiKeyBox();
route();
badge();
setInterval(badge, 10_000);
