import type { Database } from 'bun:sqlite';
import type { Post } from './model.ts';

/**
 * The load stage: upserts a run's posts by id in one transaction, together with whatever `commit` writes (the
 * run's final record). Either all of it lands or none: a failure part-way leaves the previous posts untouched.
 * The transaction is synchronous, so no other write on the shared connection can slip into it.
 */
const COLUMNS = 5;
const upsertSql = (rows: number) =>
  `INSERT INTO posts (id, user_id, title, body, loaded_at) VALUES ${Array(rows).fill('(?, ?, ?, ?, ?)').join(', ')}
  ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, title = excluded.title, body = excluded.body, loaded_at = excluded.loaded_at`;
/** Rows per statement: one call into SQLite per 100 posts instead of per post (~20% faster loads, bench/etl). */
const CHUNK = 100;

export function loadPosts<T>(db: Database, posts: readonly Post[], commit: () => T): T {
  const many = db.query(upsertSql(CHUNK));
  const one = db.query(upsertSql(1));
  const args: (string | number)[] = new Array(CHUNK * COLUMNS);
  return db
    .transaction(() => {
      let i = 0;
      for (; i + CHUNK <= posts.length; i += CHUNK) {
        for (let k = 0; k < CHUNK; k++) {
          const p = posts[i + k]!;
          const o = k * COLUMNS;
          args[o] = p.id;
          args[o + 1] = p.user_id;
          args[o + 2] = p.title;
          args[o + 3] = p.body;
          args[o + 4] = p.loaded_at;
        }
        many.run(...args);
      }
      for (; i < posts.length; i++) {
        const p = posts[i]!;
        one.run(p.id, p.user_id, p.title, p.body, p.loaded_at);
      }
      return commit();
    })
    .immediate();
}
