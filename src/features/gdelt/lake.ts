import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Client } from 'bun';
import type { LakeLocation } from '../../platform/stores/lake.ts';

/**
 * Where batches are published. Every object is written so that a reader sees all of it or nothing: the local
 * lake writes a hidden temporary file and renames it; S3 objects appear whole on upload and a batch only counts
 * once its manifest object is written after its data.
 */
export interface Lake {
  readonly kind: 'file' | 's3';
  /** Publishes a local file under `key` (moving it when it can); returns its size. */
  put(key: string, localPath: string): Promise<{ bytes: number }>;
  putText(key: string, text: string): Promise<void>;
  getText(key: string): Promise<string | undefined>;
  exists(key: string): Promise<boolean>;
  /** Keys under a prefix (published objects only: temporary files are never listed). */
  list(prefix: string): Promise<string[]>;
  /** A local file DuckDB can read for `key`: the file itself, or the read-through cache copy of an S3 object. */
  localPath(key: string): Promise<string>;
  /** Removes temporary files a crash may have left; returns how many. */
  sweep(): Promise<number>;
  describe(): Record<string, unknown>;
}

const TMP = /\.tmp-[a-z0-9]+$/;
const tmpName = (path: string) => join(dirname(path), `.${path.slice(dirname(path).length + 1)}.tmp-${Math.random().toString(36).slice(2, 10)}`);

/** Writes `path` atomically: a hidden temp file in the same folder, fsync, rename. */
async function publishFile(path: string, write: (tmp: string) => Promise<void>) {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tmpName(path);
  try {
    await write(tmp);
    const fh = await open(tmp, 'r');
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

async function walk(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: string[] = [];
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

function safeKey(key: string): string {
  if (!/^[A-Za-z0-9_=./-]+$/.test(key) || key.split('/').some((p) => p === '..' || p === '.' || p === '') || key.startsWith('/'))
    throw new Error(`Lake key ${JSON.stringify(key)} is not a plain relative path`);
  return key;
}

export class FileLake implements Lake {
  readonly kind = 'file' as const;
  constructor(readonly root: string) {}
  private path(key: string) {
    return join(this.root, safeKey(key));
  }
  async put(key: string, localPath: string) {
    const path = this.path(key);
    await publishFile(path, async (tmp) => {
      try {
        await rename(localPath, tmp);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
        await copyFile(localPath, tmp);
      }
    });
    return { bytes: (await stat(path)).size };
  }
  async putText(key: string, text: string) {
    await publishFile(this.path(key), (tmp) => Bun.write(tmp, text).then(() => {}));
  }
  async getText(key: string) {
    try {
      return await readFile(this.path(key), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }
  exists(key: string) {
    return Bun.file(this.path(key)).exists();
  }
  async list(prefix: string) {
    const files = await walk(join(this.root, prefix));
    return files
      .filter((f) => !TMP.test(f))
      .map((f) => relative(this.root, f).split(sep).join('/'))
      .sort();
  }
  async localPath(key: string) {
    return this.path(key);
  }
  async sweep() {
    const stale = (await walk(this.root)).filter((f) => TMP.test(f));
    await Promise.all(stale.map((f) => rm(f, { force: true })));
    return stale.length;
  }
  describe() {
    return { kind: 'file', root: this.root };
  }
}

/**
 * S3 via Bun's client. Queries read Parquet with DuckDB's httpfs when it loads (`url`), otherwise through a local
 * read-through cache under DATA_DIR (`localPath`); objects are immutable once published, so a cached copy never
 * goes stale. Uploads also fill the cache (write-through), so fresh batches are queryable at once.
 */
export class S3Lake implements Lake {
  readonly kind = 's3' as const;
  constructor(
    private location: Extract<LakeLocation, { kind: 's3' }>,
    readonly cacheDir: string,
  ) {}
  get bucket() {
    return this.location.bucket;
  }
  get prefix() {
    return this.location.prefix;
  }
  private key(key: string) {
    return this.location.prefix ? `${this.location.prefix}/${safeKey(key)}` : safeKey(key);
  }
  /** The object's `s3://` URL, for a reader that talks S3 itself (DuckDB's httpfs). */
  url(key: string) {
    return `s3://${this.location.bucket}/${this.key(key)}`;
  }
  private cachePath(key: string) {
    return join(this.cacheDir, safeKey(key));
  }
  async put(key: string, localPath: string) {
    const bytes = Bun.file(localPath).size;
    await this.location.client.write(this.key(key), Bun.file(localPath));
    await publishFile(this.cachePath(key), async (tmp) => {
      try {
        await rename(localPath, tmp);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
        await copyFile(localPath, tmp);
      }
    });
    return { bytes };
  }
  async putText(key: string, text: string) {
    await this.location.client.write(this.key(key), text);
  }
  async getText(key: string) {
    const f = this.location.client.file(this.key(key));
    if (!(await f.exists())) return undefined;
    return f.text();
  }
  exists(key: string) {
    return this.location.client.file(this.key(key)).exists();
  }
  async list(prefix: string) {
    const full = this.key(prefix.replace(/\/+$/, '')) + '/';
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.location.client.list({ prefix: full, continuationToken: token, maxKeys: 1000 });
      for (const o of page.contents ?? []) keys.push(this.location.prefix ? o.key.slice(this.location.prefix.length + 1) : o.key);
      token = page.isTruncated ? page.nextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }
  async localPath(key: string) {
    const path = this.cachePath(key);
    if (await Bun.file(path).exists()) return path;
    await publishFile(path, async (tmp) => {
      await Bun.write(tmp, this.location.client.file(this.key(key)));
    });
    return path;
  }
  async sweep() {
    const stale = (await walk(this.cacheDir)).filter((f) => TMP.test(f));
    await Promise.all(stale.map((f) => rm(f, { force: true })));
    return stale.length;
  }
  describe() {
    return { kind: 's3', bucket: this.location.bucket, prefix: this.location.prefix, cache_dir: this.cacheDir };
  }
}

/** What a worker needs to open the lake in its own realm (it cannot receive the parent's S3 client). */
export type LakeOptions = {
  lakeUrl: string;
  cacheDir: string;
  s3?: { endpoint?: string; region?: string; accessKeyId?: string; secretAccessKey?: string };
};

export function openLake(options: LakeOptions): Lake {
  const url = new URL(options.lakeUrl);
  if (url.protocol === 'file:') return new FileLake(fileURLToPath(url));
  const bucket = url.hostname;
  const client = new S3Client({ bucket, ...options.s3 });
  return new S3Lake({ kind: 's3', bucket, prefix: url.pathname.replace(/^\/+|\/+$/g, ''), client }, options.cacheDir);
}
