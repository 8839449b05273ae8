import { describe, expect, test } from 'bun:test';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_ROWS, runJob, startGdeltMirror } from '../helpers/gdelt.ts';
import { tempDir, testApp, waitFor } from '../helpers/index.ts';

const ALL_EVENTS = Object.values(EVENT_ROWS).reduce((a, b) => a + b);

describe('the search index is derived from the lake', () => {
  test('a lost index file shows as lag in /health and the batch list, and is rebuilt from the lake without downloading', async () => {
    using data = tempDir('sillage-gdelt-index-');
    const mirror = startGdeltMirror();
    try {
      const first = await testApp({ GDELT_BASE_URL: mirror.url, DATA_DIR: data.path });
      expect((await runJob(first, '/api/v1/ingest/trigger?n_batches=4')).state).toBe('succeeded');
      const protest = (await first.json('/api/v1/events/search?query=protest&limit=5')).body;
      await first.close();
      for (const suffix of ['', '-wal', '-shm']) rmSync(join(data.path, `gdelt-index.db${suffix}`), { force: true });
      const downloads = JSON.stringify([...mirror.hits]);

      // ROLE=api never runs the ingestion worker, so the lag stays visible.
      const api = await testApp({ GDELT_BASE_URL: mirror.url, DATA_DIR: data.path, ROLE: 'api' });
      try {
        expect((await api.json('/health')).body.details.lake.search_index).toEqual({ indexed_batches: 0, pending_batches: 4, newest_indexed_batch: null });
        expect((await api.json('/api/v1/ingest/batches?table=events')).body.items.map((b: any) => b.indexed_at)).toEqual([null, null, null, null]);
        expect((await api.json('/api/v1/events/search?limit=1')).body.total).toBe(0);
      } finally {
        await api.close();
      }

      const all = await testApp({ GDELT_BASE_URL: mirror.url, DATA_DIR: data.path });
      try {
        const health = await waitFor(
          async () => {
            const h = (await all.json('/health')).body.details.lake.search_index;
            return h.pending_batches === 0 ? h : undefined;
          },
          { what: 'the index to catch up with the lake' },
        );
        expect(health).toEqual({ indexed_batches: 4, pending_batches: 0, newest_indexed_batch: '20150218234500' });
        expect((await all.json('/api/v1/events/search?limit=1')).body.total).toBe(ALL_EVENTS);
        expect((await all.json('/api/v1/events/search?query=protest&limit=5')).body).toEqual(protest);
        expect((await all.json('/api/v1/ingest/batches?table=events')).body.items.every((b: any) => typeof b.indexed_at === 'string')).toBe(true);
        expect(JSON.stringify([...mirror.hits])).toBe(downloads);
      } finally {
        await all.close();
      }
    } finally {
      mirror.stop();
    }
  });
});
