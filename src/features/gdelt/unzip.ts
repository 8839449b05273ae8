import { Unzip, type UnzipDecoder, type UnzipFile } from 'fflate';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import zlib from 'node:zlib';
import { AppError, errorMessage, terminal } from '../../platform/errors.ts';

/**
 * DEFLATE through Bun's native zlib behind fflate's decoder interface: fflate reads the zip container as a
 * stream, the native inflater does the heavy part (4–6× fflate's JS inflate on GDELT zips, bench/gdelt-choices).
 * A 1 MB output chunk keeps per-chunk overhead low.
 */
class NativeInflate implements UnzipDecoder {
  static compression = 8;
  ondata: UnzipDecoder['ondata'] = () => {};
  /** Set when the container handed over the member's last bytes. */
  ended = false;
  private z = zlib.createInflateRaw({ chunkSize: 1 << 20 });
  constructor() {
    this.z.on('data', (d: Buffer) => this.ondata(null, new Uint8Array(d.buffer as ArrayBuffer, d.byteOffset, d.byteLength), false));
    this.z.on('end', () => this.ondata(null, new Uint8Array(0), true));
    this.z.on('error', (e: Error) => this.ondata(Object.assign(e, { code: 0 }) as never, new Uint8Array(0), true));
  }
  push(chunk: Uint8Array, final: boolean) {
    if (this.z.destroyed || this.z.writableEnded) return;
    // fflate may reuse the buffer it hands us; zlib reads it later, so copy.
    this.z.write(Buffer.from(chunk));
    if (final) {
      this.ended = true;
      this.z.end();
    }
  }
  terminate = () => this.z.destroy();
}

const EOCD = 0x06054b50;

/**
 * The end-of-central-directory record (in the last 64 KB + 22 bytes) gives the number of entries and where the
 * central directory starts; its first entry gives the CRC-32 and size the data must inflate to. A file without
 * that record was cut short (or is no zip): that is reported before any data is inflated.
 */
async function readDirectory(zipPath: string): Promise<{ entries: number; crc32?: number; size?: number }> {
  const file = Bun.file(zipPath);
  const size = file.size;
  const tail = new Uint8Array(await file.slice(Math.max(0, size - 65_557), size).arrayBuffer());
  const view = new DataView(tail.buffer);
  for (let i = tail.length - 22; i >= 0; i--) {
    if (view.getUint32(i, true) !== EOCD) continue;
    const entries = view.getUint16(i + 10, true);
    const cdOffset = view.getUint32(i + 16, true);
    const cd = new DataView(await file.slice(cdOffset, cdOffset + 46).arrayBuffer());
    if (entries !== 1 || cd.byteLength < 46 || cd.getUint32(0, true) !== 0x02014b50) return { entries };
    return { entries, crc32: cd.getUint32(16, true), size: cd.getUint32(24, true) };
  }
  throw terminal('zip_truncated', `${zipPath} (${size} bytes) has no end-of-archive record: it is truncated or not a zip. Nothing was published.`);
}

export type Unzipped = { path: string; member: string; bytes: number };

/**
 * Extracts the one CSV a GDELT zip holds to `outPath`, streaming. A zip with no member or more than one, a
 * truncated archive or corrupt data fails the batch with a reason; the partial output is removed.
 */
export async function unzipSingle(zipPath: string, outPath: string): Promise<Unzipped> {
  const out = createWriteStream(outPath);
  // Write errors surface through end() below; after a failure the stream is destroyed and late errors are moot.
  let writeError: Error | undefined;
  out.on('error', (e) => (writeError ??= e));
  const members: string[] = [];
  let bytes = 0;
  let crc = 0;
  let finished: (() => void) | undefined;
  let failed: ((e: unknown) => void) | undefined;
  const done = new Promise<void>((resolve, reject) => {
    finished = resolve;
    failed = reject;
  });
  // Awaited below; this only keeps an early inflate error from counting as unhandled meanwhile.
  done.catch(() => {});
  try {
    const { entries, crc32, size } = await readDirectory(zipPath);
    if (entries === 0) throw terminal('zip_empty', `${zipPath} holds no file; a GDELT batch zip holds exactly one CSV. Nothing was published.`);
    if (entries > 1) throw terminal('zip_members', `${zipPath} holds ${entries} files; a GDELT batch zip holds exactly one CSV. Nothing was published.`);
    const unzip = new Unzip();
    let decoder: NativeInflate | undefined;
    // A subclass per call, so this call can see its decoder (fflate constructs it).
    unzip.register(class extends NativeInflate {
      constructor() {
        super();
        decoder = this;
      }
    });
    unzip.onfile = (file: UnzipFile) => {
      members.push(file.name);
      if (members.length > 1) return;
      file.ondata = (err, data, final) => {
        if (err) return failed!(terminal('zip_corrupt', `The data of ${file.name} in ${zipPath} cannot be inflated (${err.message}). Nothing was published.`));
        bytes += data.byteLength;
        crc = zlib.crc32(data, crc);
        // Output is written as it comes; a batch CSV is tens of MB at most, so the write queue stays small.
        if (data.byteLength && !out.destroyed) out.write(data);
        if (final) finished!();
      };
      file.start();
    };
    const reader = Bun.file(zipPath).stream();
    for await (const chunk of reader as unknown as AsyncIterable<Uint8Array>) unzip.push(chunk, false);
    unzip.push(new Uint8Array(0), true);
    if (members.length !== 1) throw terminal('zip_members', `${zipPath} holds ${members.length} files; a GDELT batch zip holds exactly one CSV. Nothing was published.`);
    // fflate hands the member's end to the decoder only when the archive is consistent; otherwise inflate waits forever.
    if (!decoder?.ended) throw terminal('zip_corrupt', `${zipPath}: the archive's records do not match its data (corrupt zip). Nothing was published.`);
    await done;
    if ((size !== undefined && bytes !== size) || (crc32 !== undefined && crc !== crc32))
      throw terminal('zip_corrupt', `${members[0]} in ${zipPath} inflates to ${bytes} bytes with CRC-32 ${crc.toString(16)}, not the ${size} bytes and ${crc32?.toString(16)} the archive records: the data is corrupt. Nothing was published.`);
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err || writeError ? reject(err ?? writeError) : resolve())));
    return { path: outPath, member: members[0]!, bytes };
  } catch (e) {
    // Wait for the stream to close, or it could create the file after it was removed.
    if (!out.closed) await new Promise((r) => (out.once('close', r), out.destroy()));
    await rm(outPath, { force: true });
    if (e instanceof AppError) throw e;
    throw terminal('zip_corrupt', `${zipPath} is not a readable zip archive (${errorMessage(e)}). Nothing was published.`, e);
  }
}
