import { api, h, errorBox } from './api.js';
import * as overview from './pages/overview.js';

// Pages plug in here: each module exports `title` and `render(root, { signal })`. The signal aborts when the
// user leaves the page so timers and live streams stop.
const pages = { overview };
const extra = ['etl', 'gdelt', 'engagement', 'streams'];

async function loadPage(name) {
  if (pages[name]) return pages[name];
  if (!extra.includes(name)) return null;
  try {
    pages[name] = await import(`./pages/${name}.js`);
    return pages[name];
  } catch {
    return null;
  }
}

let current;
async function route() {
  const name = (location.hash.replace(/^#\/?/, '') || 'overview').split('?')[0];
  current?.abort();
  current = new AbortController();
  const root = document.getElementById('page');
  const page = await loadPage(name);
  root.replaceChildren();
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!page) {
    root.append(errorBox(new Error(`There is no page named "${name}".`)));
    return;
  }
  document.title = `sillage · ${page.title}`;
  try {
    await page.render(root, { signal: current.signal });
  } catch (e) {
    root.append(errorBox(e));
  }
}

async function buildNav() {
  const nav = document.getElementById('nav');
  const names = ['overview', ...extra];
  const available = await Promise.all(names.map(async (n) => [n, await loadPage(n)]));
  nav.replaceChildren(...available.filter(([, p]) => p).map(([n, p]) => h('a', { href: `#/${n}`, 'data-page': n }, p.title)));
}

async function badge() {
  const el = document.getElementById('health-badge');
  try {
    const health = await api('/health');
    el.textContent = health.status === 'ok' ? 'healthy' : 'degraded';
    el.className = `badge ${health.status}`;
  } catch {
    el.textContent = 'unreachable';
    el.className = 'badge down';
  }
}

window.addEventListener('hashchange', route);
await buildNav();
await route();
badge();
setInterval(badge, 10_000);
