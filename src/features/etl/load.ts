import type { Database } from 'bun:sqlite';
import type { Post } from './model.ts';

/**
 * The load stage: upserts a run's posts by id in one transaction, together with whatever `commit` writes (the
 * run's final record). Either all of it lands or none: a failure part-way leaves the previous posts untouched.
 * The transaction is synchronous, so no other write on the shared connection can slip into it.
 */
const UPSERT = `INSERT INTO posts (id, user_id, title, body, loaded_at) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, title = excluded.title, body = excluded.body, loaded_at = excluded.loaded_at`;

export function loadPosts<T>(db: Database, posts: readonly Post[], commit: () => T): T {
  const upsert = db.query<unknown, [number, number, string, string, string]>(UPSERT);
  return db
    .transaction(() => {
      for (const p of posts) upsert.run(p.id, p.user_id, p.title, p.body, p.loaded_at);
      return commit();
    })
    .immediate();
}
