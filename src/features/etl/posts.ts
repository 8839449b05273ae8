import type { Database } from 'bun:sqlite';
import type { Post, Stats } from './model.ts';
import type { RunStore } from './runs.ts';

/** Read side of the `posts` table for the API. */

export type PostFilter = { limit: number; offset: number; userId?: number; q?: string };

const likePattern = (q: string) => `%${q.replace(/[\\%_]/g, '\\$&')}%`;

export function listPosts(db: Database, f: PostFilter): { items: Post[]; total: number } {
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (f.userId !== undefined) {
    where.push('user_id = ?');
    params.push(f.userId);
  }
  const q = f.q?.trim();
  if (q) {
    // LIKE is case-insensitive for ASCII; the escape keeps % and _ in the search text literal.
    where.push("(title LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\')");
    params.push(likePattern(q), likePattern(q));
  }
  const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const items = db.query<Post, (string | number)[]>(`SELECT id, user_id, title, body, loaded_at FROM posts ${clause} ORDER BY id LIMIT ? OFFSET ?`).all(...params, f.limit, f.offset);
  const total = db.query<{ n: number }, (string | number)[]>(`SELECT count(*) AS n FROM posts ${clause}`).get(...params)!.n;
  return { items, total };
}

export function getPost(db: Database, id: number): Post | null {
  return db.query<Post, [number]>('SELECT id, user_id, title, body, loaded_at FROM posts WHERE id = ?').get(id);
}

export function postFigures(db: Database) {
  const row = db
    .query<{ post_count: number; distinct_users: number; avg_title_length: number | null; avg_body_length: number | null }, []>(
      `SELECT count(*) AS post_count, count(DISTINCT user_id) AS distinct_users,
              round(avg(length(title)), 2) AS avg_title_length, round(avg(length(body)), 2) AS avg_body_length
       FROM posts`,
    )
    .get()!;
  return row;
}

export function readStats(db: Database, runs: RunStore): Stats {
  return { ...postFigures(db), last_run: runs.last(), runs_by_status: runs.countsByStatus() };
}
