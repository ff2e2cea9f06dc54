/**
 * Where package bytes live. Content-addressed by SHA-256: the key of a blob is its digest, so identical uploads
 * share storage and a blob, once written, never changes. Services depend on this interface only; the filesystem
 * and (later) S3 implementations are chosen in `compose.ts`.
 */
import type { Readable } from 'node:stream';

export interface BlobInfo {
  /** Lower-case hex SHA-256 of the content. */
  sha256: string;
  size: number;
  /** When the blob was written, where the store knows it; `gc` spares young blobs of in-flight uploads. */
  modifiedAt?: Date;
}

export interface PutResult extends BlobInfo {
  sha1: string;
  sha512: string;
  /** False when a blob with this digest already existed (the new copy was discarded). */
  created: boolean;
}

export interface PutOptions {
  /** Refuse (and discard) the upload when it grows past this many bytes. */
  maxBytes?: number;
  /** Refuse the upload unless its SHA-256 equals this. */
  expectedSha256?: string;
  signal?: AbortSignal;
}

export interface BlobStore {
  /** Streams `source` to storage, hashing as it goes; visible under its digest only once complete and durable. */
  put(source: Readable | Buffer, options?: PutOptions): Promise<PutResult>;
  /** A stream of the blob's bytes, or undefined when there is no such blob. */
  get(sha256: string, signal?: AbortSignal): Promise<Readable | undefined>;
  /**
   * The blob's bytes if this store already holds them in memory, else undefined; never does I/O. A download sent
   * as one buffer costs a fraction of a stream's bookkeeping.
   */
  cached?(sha256: string): Buffer | undefined;
  head(sha256: string): Promise<BlobInfo | undefined>;
  delete(sha256: string): Promise<void>;
  /** Every stored digest (for garbage collection and transfers). */
  list(): AsyncIterable<string>;
  /**
   * A short-lived URL the client can fetch the blob from directly, for stores that can sign one (S3). Stores
   * without it stream every download through Wharf.
   */
  downloadUrl?(sha256: string, options: { expiresInSeconds: number; fileName: string }): Promise<string>;
}

// The refusals a store throws live in the domain, so storage can throw them without importing services.
export { BlobDigestMismatchError, BlobTooLargeError, isSha256 } from '../domain/blobs.js';
