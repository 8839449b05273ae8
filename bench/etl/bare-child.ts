import { Database } from 'bun:sqlite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatePosts } from './posts.ts';

/**
 * The reference: the same rows inserted with one bun:sqlite prepared statement in one transaction, WAL and
 * synchronous=FULL, into a table with the posts columns and no secondary index. Rows are built before the clock
 * starts. Prints { rowsPerSecond, ms } as JSON.
 */
const n = Number(Bun.env.N ?? 100_000);
const loadedAt = new Date().toISOString();
const all = generatePosts(n).map((p) => [p.id, p.userId, p.title, p.body, loadedAt] as const);

function insert(rows: typeof all) {
  const dir = mkdtempSync(join(tmpdir(), 'sillage-bench-bare-'));
  const db = new Database(join(dir, 'bare.db'), { create: true, strict: true });
  try {
    db.run('PRAGMA journal_mode = WAL');
    db.run('PRAGMA synchronous = FULL');
    db.run('CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, loaded_at TEXT NOT NULL)');
    const st = db.prepare('INSERT INTO posts (id, user_id, title, body, loaded_at) VALUES (?, ?, ?, ?, ?)');
    const t0 = performance.now();
    db.transaction(() => {
      for (const r of rows) st.run(r[0], r[1], r[2], r[3], r[4]);
    })();
    return performance.now() - t0;
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

insert(all.slice(0, 10_000));
const ms = insert(all);
console.log(JSON.stringify({ rowsPerSecond: (n / ms) * 1000, ms }));
