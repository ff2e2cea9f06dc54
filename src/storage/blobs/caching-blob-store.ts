/**
 * Keeps small blobs in memory in front of another store. Blobs are content-addressed and never change, so a
 * cached copy is always the right bytes, on every instance: no invalidation is needed. A blob deleted by `gc`
 * may linger here until evicted, but nothing refers to it any more, so nothing asks for it.
 */
import { Readable, Transform } from 'node:stream';
import { LRUCache } from 'lru-cache';
import type { BlobInfo, BlobStore, PutOptions, PutResult } from '../../services/blob-store.js';

export interface CachingOptions {
  /** Largest blob kept, in bytes. */
  maxBlobBytes: number;
  /** Total bytes kept; least recently used blobs go first. */
  maxTotalBytes: number;
}

export class CachingBlobStore implements BlobStore {
  readonly #inner: BlobStore;
  readonly #options: CachingOptions;
  readonly #cache: LRUCache<string, Buffer>;
  readonly downloadUrl?: BlobStore['downloadUrl'];

  constructor(inner: BlobStore, options: CachingOptions) {
    this.#inner = inner;
    this.#options = options;
    this.#cache = new LRUCache<string, Buffer>({
      maxSize: options.maxTotalBytes,
      // lru-cache wants a positive size; an empty blob still costs an entry.
      sizeCalculation: (buf) => Math.max(1, buf.length),
    });
    if (inner.downloadUrl) this.downloadUrl = inner.downloadUrl.bind(inner);
  }

  cached(sha256: string): Buffer | undefined {
    return this.#cache.get(sha256);
  }

  async get(sha256: string, signal?: AbortSignal): Promise<Readable | undefined> {
    const hit = this.cached(sha256);
    if (hit) return Readable.from([hit]);
    const stream = await this.#inner.get(sha256, signal);
    if (!stream) return undefined;
    // Stream through as usual, keeping a copy while the blob is small enough to cache.
    const chunks: Buffer[] = [];
    let size = 0;
    const { maxBlobBytes } = this.#options;
    const remember = (buf: Buffer) => this.#remember(sha256, buf);
    const tee = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        if (size <= maxBlobBytes) {
          size += chunk.length;
          if (size <= maxBlobBytes) chunks.push(chunk);
          else chunks.length = 0;
        }
        cb(null, chunk);
      },
      flush(cb) {
        if (size <= maxBlobBytes) remember(Buffer.concat(chunks, size));
        cb();
      },
    });
    stream.on('error', (err) => tee.destroy(err));
    return stream.pipe(tee);
  }

  #remember(sha256: string, buf: Buffer): void {
    // Larger than the whole cache: lru-cache declines to keep it.
    if (!this.#cache.has(sha256)) this.#cache.set(sha256, buf);
  }

  put(source: Readable | Buffer, options?: PutOptions): Promise<PutResult> {
    return this.#inner.put(source, options);
  }

  head(sha256: string): Promise<BlobInfo | undefined> {
    return this.#inner.head(sha256);
  }

  async delete(sha256: string): Promise<void> {
    this.#cache.delete(sha256);
    await this.#inner.delete(sha256);
  }

  list(): AsyncIterable<string> {
    return this.#inner.list();
  }

  /** The wrapped store (for store-specific maintenance such as removing stale temporary files). */
  get inner(): BlobStore {
    return this.#inner;
  }

  /** Releases the wrapped store's resources (the S3 client's sockets). */
  destroy(): void {
    (this.#inner as { destroy?: () => void }).destroy?.();
  }
}
