import { S3Client } from 'bun';
import { access, constants, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config.ts';

export type LakeLocation =
  | { kind: 'file'; root: string }
  | { kind: 's3'; bucket: string; prefix: string; client: S3Client };

/** Where the lake lives, parsed once from LAKE_URL (validated by config). */
export function lakeLocation(config: Config): LakeLocation {
  const url = new URL(config.lakeUrl);
  if (url.protocol === 'file:') return { kind: 'file', root: fileURLToPath(url) };
  const bucket = url.hostname;
  const prefix = url.pathname.replace(/^\/+|\/+$/g, '');
  const client = new S3Client({
    bucket,
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    accessKeyId: config.S3_ACCESS_KEY_ID,
    secretAccessKey: config.S3_SECRET_ACCESS_KEY,
  });
  return { kind: 's3', bucket, prefix, client };
}

/** Health of the lake: the folder is writable, or the bucket answers a listing. */
export async function checkLake(lake: LakeLocation): Promise<Record<string, unknown>> {
  if (lake.kind === 'file') {
    await mkdir(lake.root, { recursive: true });
    await access(lake.root, constants.W_OK);
    return { kind: 'file', root: lake.root };
  }
  await lake.client.list({ prefix: lake.prefix, maxKeys: 1 });
  return { kind: 's3', bucket: lake.bucket, prefix: lake.prefix };
}
