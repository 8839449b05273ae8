import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../../src/platform/errors.ts';
import { ROOT } from '../../src/platform/context.ts';
import { DuckDBWarehouse } from '../../src/features/engagement/warehouse/duckdb.ts';
import { engagementEnvelope } from '../helpers/engagement.ts';
import { tempDir } from '../helpers/index.ts';

setDefaultTimeout(30_000);

const batch = (from: number, n: number) => Array.from({ length: n }, (_, i) => engagementEnvelope(from + i));

async function failure(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    return e as AppError;
  }
  throw new Error('expected the write to fail');
}

const sh = (cmd: string[]) => Bun.spawnSync(cmd, { stderr: 'pipe', stdout: 'pipe' }).exitCode === 0;

/**
 * A directory this process cannot create files in. Permission bits do not stop root, so as root the directory
 * is made immutable instead; undefined when neither is possible here.
 */
function readOnlyDir(path: string): { undo(): void } | undefined {
  mkdirSync(path, { recursive: true });
  if (process.getuid?.() !== 0) {
    chmodSync(path, 0o555);
    return { undo: () => chmodSync(path, 0o755) };
  }
  return sh(['chattr', '+i', path]) ? { undo: () => void sh(['chattr', '-i', path]) } : undefined;
}

/** Mounts a tmpfs of `size` at `path`; false when this process may not mount. */
const mountTmpfs = (path: string, size: string) => sh(['mount', '-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', path]);

/**
 * Why a test cannot run on this machine (undefined = it can), printed so a skip is visible. In CI nothing is
 * skipped, like tests/helpers skipReason: a missing ability fails the test there instead.
 */
function unable(what: string, probe: () => boolean): string | undefined {
  if (Bun.env.SILLAGE_CI) return undefined;
  let able = false;
  try {
    able = probe();
  } catch {
    able = false;
  }
  if (able) return undefined;
  console.log(`skip: ${what}`);
  return what;
}

const noReadOnlyDir = unable('cannot make a directory read-only here (root without chattr, or a filesystem without the immutable flag)', () => {
  using probe = tempDir('sillage-wh-probe-');
  const locked = readOnlyDir(join(probe.path, 'ro'));
  locked?.undo();
  return !!locked;
});
const noTmpfs = unable('cannot mount a small tmpfs here to fill a disk (needs root and mount rights)', () => {
  using probe = tempDir('sillage-wh-probe-');
  const ok = mountTmpfs(probe.path, '1m');
  if (ok) sh(['umount', '-l', probe.path]);
  return ok;
});

describe('DuckDB warehouse file problems', () => {
  test('a file locked by another process is a transient failure that names the fix; the write goes through once the lock is gone', async () => {
    using dir = tempDir('sillage-wh-lock-');
    const path = join(dir.path, 'warehouse.duckdb');
    const holder = Bun.spawn(
      ['bun', '-e', `import { DuckDBInstance } from '@duckdb/node-api'; const i = await DuckDBInstance.create(${JSON.stringify(path)}); const c = await i.connect(); await c.run('CREATE TABLE hold (x INT)'); (globalThis as any).keep = [i, c]; console.log('holding'); setInterval(() => {}, 1000);`],
      { cwd: ROOT, stdout: 'pipe', stderr: 'inherit' },
    );
    try {
      const reader = holder.stdout.getReader();
      const { value } = await reader.read();
      expect(new TextDecoder().decode(value)).toContain('holding');
      const warehouse = new DuckDBWarehouse({ path, flushRows: 10, flushIntervalMs: 5 });
      const error = await failure(warehouse.write(batch(1, 3)));
      expect(error).toBeInstanceOf(AppError);
      expect(error.code).toBe('warehouse_locked');
      expect(error.retryable).toBe(true);
      expect(error.message).toContain('WAREHOUSE=postgres');
      holder.kill(9);
      await holder.exited;
      expect((await warehouse.write(batch(1, 3))).applied).toHaveLength(3);
      expect(await warehouse.count()).toBe(3);
      await warehouse.close();
    } finally {
      holder.kill(9);
    }
  });

  test('a file where the warehouse directory should be is a transient failure naming the path; once it is a directory, the batch applies once', async () => {
    using dir = tempDir('sillage-wh-file-');
    const blocked = join(dir.path, 'data');
    writeFileSync(blocked, 'not a directory');
    // The directory itself is a file (mkdir: EEXIST), and a directory under it cannot exist (ENOTDIR).
    for (const path of [join(blocked, 'warehouse.duckdb'), join(blocked, 'sub', 'warehouse.duckdb')]) {
      const warehouse = new DuckDBWarehouse({ path, flushRows: 10, flushIntervalMs: 5 });
      const error = await failure(warehouse.write(batch(1, 3)));
      expect(error.code).toBe('warehouse_unavailable');
      expect(error.retryable).toBe(true);
      expect(error.message).toContain(path);
      await warehouse.close();
    }
    const warehouse = new DuckDBWarehouse({ path: join(blocked, 'warehouse.duckdb'), flushRows: 10, flushIntervalMs: 5 });
    expect((await failure(warehouse.write(batch(1, 3)))).retryable).toBe(true);
    rmSync(blocked);
    mkdirSync(blocked);
    expect((await warehouse.write(batch(1, 3))).applied).toHaveLength(3);
    expect((await warehouse.write(batch(1, 3))).duplicates).toHaveLength(3);
    expect(await warehouse.count()).toBe(3);
    await warehouse.close();
  });

  test.skipIf(!!noReadOnlyDir)('a read-only directory is a transient failure with nothing written; once writable, the same batch applies once', async () => {
    using dir = tempDir('sillage-wh-ro-');
    const target = join(dir.path, 'ro');
    const locked = readOnlyDir(target);
    expect(locked).toBeDefined();
    const warehouse = new DuckDBWarehouse({ path: join(target, 'warehouse.duckdb'), flushRows: 10, flushIntervalMs: 5 });
    try {
      const error = await failure(warehouse.write(batch(1, 3)));
      expect(error.code).toBe('warehouse_unavailable');
      expect(error.retryable).toBe(true);
      expect(error.message).toContain('make the directory writable');
    } finally {
      locked?.undo();
    }
    expect((await warehouse.write(batch(1, 3))).applied).toHaveLength(3);
    expect((await warehouse.write(batch(1, 3))).duplicates).toHaveLength(3);
    await warehouse.close();
  });

  test.skipIf(!!noTmpfs)('a full disk is a transient failure; the failed batch left nothing, and after space is freed it applies exactly once', async () => {
    using dir = tempDir('sillage-wh-full-');
    const mnt = join(dir.path, 'small');
    mkdirSync(mnt);
    expect(mountTmpfs(mnt, '2m')).toBe(true);
    try {
      const warehouse = new DuckDBWarehouse({ path: join(mnt, 'warehouse.duckdb'), flushRows: 1000, flushIntervalMs: 5 });
      let next = 1;
      let error: AppError | undefined;
      for (let i = 0; i < 100 && !error; i++) {
        try {
          await warehouse.write(batch(next, 1000));
          next += 1000;
        } catch (e) {
          error = e as AppError;
        }
      }
      expect(error?.code).toBe('warehouse_unavailable');
      expect(error?.retryable).toBe(true);
      expect(error?.message).toContain('No space left');
      expect(sh(['mount', '-o', 'remount,size=64m', mnt])).toBe(true);
      const retried = await warehouse.write(batch(next, 1000));
      expect(retried.applied).toHaveLength(1000);
      expect(await warehouse.count()).toBe(next - 1 + 1000);
      await warehouse.close();
    } finally {
      sh(['umount', '-l', mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  });
});
