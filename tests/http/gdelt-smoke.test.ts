import { afterAll, beforeAll, expect, test } from 'bun:test';
import { testApp, waitFor, type TestApp } from '../helpers/index.ts';
import { startGdeltMirror } from '../helpers/gdelt.ts';

let t0: TestApp;
const mirror = startGdeltMirror();
beforeAll(async () => (t0 = await testApp({ GDELT_BASE_URL: mirror.url })));
afterAll(async () => { await t0.close(); mirror.stop(); });

test('smoke', async () => {
  const r = await t0.json('/api/v1/ingest/trigger?n_batches=4', { method: 'POST' });
  console.log(r);
  const job = await waitFor(async () => { const j = await t0.json(`/api/v1/ingest/jobs/${r.body.job_id}`); return j.body.state === 'succeeded' || j.body.state === 'failed' ? j.body : undefined; }, { timeoutMs: 60000 });
  console.log(job);
  console.log((await t0.json('/api/v1/ingest/batches')).body.items.slice(0, 3));
  console.log(JSON.stringify((await t0.json('/api/v1/events/search?query=protest&limit=2')).body, null, 1));
  console.log((await t0.json('/api/v1/events/stats?group_by=root_code')).body.items.slice(0, 5));
  console.log((await t0.json('/health')).body.details.lake);
  console.log(t0.log.lines.filter((l) => l.level !== 'debug').slice(-10));
});
