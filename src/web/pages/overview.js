import { api, h, errorBox } from '../api.js';

export const title = 'Overview';

function componentCard(name, report) {
  return h('div', { class: 'card', 'data-component': name },
    h('h3', {}, name),
    h('div', { class: `status-${report.status}` }, report.status),
    report.reason ? h('div', { class: 'muted' }, report.reason) : null);
}

export async function render(root, { signal }) {
  const healthBox = h('div', { class: 'grid', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading health…'));
  const workersBox = h('div');
  root.append(
    h('section', {}, h('h2', {}, 'Components'), healthBox),
    h('section', {}, h('h2', {}, 'Workers'), workersBox),
    h('section', {}, h('h2', {}, 'Links'), h('p', {}, h('a', { href: '/swagger' }, 'Swagger UI'), ' · ', h('a', { href: '/metrics' }, 'Prometheus metrics'))),
  );
  const refresh = async () => {
    try {
      const health = await api('/health');
      healthBox.replaceChildren(...Object.entries(health.details).map(([n, r]) => componentCard(n, r)));
      healthBox.removeAttribute('aria-busy');
      const workers = Object.entries(health.workers || {});
      workersBox.replaceChildren(workers.length
        ? h('div', { class: 'grid' }, workers.map(([n, w]) => h('div', { class: 'card' }, h('h3', {}, n), h('div', {}, w.state), h('div', { class: 'muted' }, `restarts: ${w.restarts}`))))
        : h('p', { class: 'muted' }, 'No background workers running.'));
    } catch (e) {
      healthBox.replaceChildren(errorBox(e));
    }
  };
  await refresh();
  const timer = setInterval(refresh, 5000);
  signal.addEventListener('abort', () => clearInterval(timer));
}
