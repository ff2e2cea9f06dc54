/**
 * Blobs as files under `<root>/sha256/ab/cd/<digest>`. A write goes to a temporary file in the same filesystem,
 * is fsynced, then renamed into place and the directory fsynced: a crash leaves either the whole blob or an
 * orphaned temp file (removed by `gc`), never a truncated blob under a real digest.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobInfo, BlobStore, PutOptions, PutResult } from '../../services/blob-store.js';
import { BlobDigestMismatchError, BlobTooLargeError, isSha256 } from '../../domain/blobs.js';

export class FsBlobStore implements BlobStore {
  readonly #root: string;
  readonly #tmp: string;

  constructor(root: string) {
    this.#root = path.resolve(root);
    this.#tmp = path.join(this.#root, 'tmp');
  }

  #pathOf(sha256: string): string {
    if (!isSha256(sha256)) throw new Error(`not a sha256 digest: ${sha256}`);
    return path.join(this.#root, 'sha256', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  async put(source: Readable | Buffer, options: PutOptions = {}): Promise<PutResult> {
    await mkdir(this.#tmp, { recursive: true });
    const tmpFile = path.join(this.#tmp, `${Date.now()}-${randomBytes(8).toString('hex')}`);
    const sha256 = createHash('sha256');
    const sha1 = createHash('sha1');
    const sha512 = createHash('sha512');
    let size = 0;
    const limit = options.maxBytes;
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (limit !== undefined && size > limit) return cb(new BlobTooLargeError(limit));
        sha256.update(chunk);
        sha1.update(chunk);
        sha512.update(chunk);
        cb(null, chunk);
      },
    });
    const input = Buffer.isBuffer(source) ? Readable.from([source]) : source;
    try {
      await pipeline(input, hasher, createWriteStream(tmpFile, { flags: 'wx' }), options.signal ? { signal: options.signal } : {});
      const fh = await open(tmpFile, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      const digest = sha256.digest('hex');
      if (options.expectedSha256 && options.expectedSha256 !== digest) {
        throw new BlobDigestMismatchError(options.expectedSha256, digest);
      }
      const final = this.#pathOf(digest);
      const existing = await stat(final).catch(() => undefined);
      const result = { sha256: digest, size, sha1: sha1.digest('hex'), sha512: sha512.digest('base64') };
      if (existing) {
        await rm(tmpFile, { force: true });
        return { ...result, created: false };
      }
      await mkdir(path.dirname(final), { recursive: true });
      await rename(tmpFile, final);
      await syncDir(path.dirname(final));
      return { ...result, created: true };
    } catch (err) {
      await rm(tmpFile, { force: true });
      throw err;
    }
  }

  async get(sha256: string, signal?: AbortSignal): Promise<Readable | undefined> {
    const file = this.#pathOf(sha256);
    const fh = await open(file, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!fh) return undefined;
    return fh.createReadStream(signal ? { signal } : {});
  }

  async head(sha256: string): Promise<BlobInfo | undefined> {
    const s = await stat(this.#pathOf(sha256)).catch(() => undefined);
    return s ? { sha256, size: s.size, modifiedAt: s.mtime } : undefined;
  }

  async delete(sha256: string): Promise<void> {
    await rm(this.#pathOf(sha256), { force: true });
  }

  async *list(): AsyncIterable<string> {
    const base = path.join(this.#root, 'sha256');
    const level = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).sort();
    for (const a of await level(base)) {
      for (const b of await level(path.join(base, a))) {
        for (const name of await level(path.join(base, a, b))) if (isSha256(name)) yield name;
      }
    }
  }

  /** Temporary files older than `olderThanMs`: leftovers of interrupted uploads. */
  async removeStaleTemp(olderThanMs: number, now = Date.now()): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.#tmp).catch(() => [] as string[])) {
      const p = path.join(this.#tmp, name);
      const s = await stat(p).catch(() => undefined);
      if (s && now - s.mtimeMs > olderThanMs) {
        await rm(p, { force: true });
        removed++;
      }
    }
    return removed;
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Reads a whole blob into memory; for small blobs only (tests, metadata). */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

