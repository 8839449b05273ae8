import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export type Migration = { version: number; name: string; sql: string };

/** Reads `NNN_name.sql` files in version order; a file without a number prefix is a mistake, not ignored. */
export function readMigrations(dir: string): Migration[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .map((file) => {
      const m = /^(\d+)_([\w-]+)\.sql$/.exec(file);
      if (!m) throw new Error(`Migration file ${join(dir, file)} must be named NNN_name.sql (e.g. 001_init.sql)`);
      return { version: Number(m[1]), name: m[2]!, sql: readFileSync(join(dir, file), 'utf8') };
    })
    .sort((a, b) => a.version - b.version);
}
