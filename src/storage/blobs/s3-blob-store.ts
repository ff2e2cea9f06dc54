/**
 * Blobs in an S3-compatible object store (AWS S3, MinIO, Ceph, R2, GCS's S3 API) under
 * `<prefix>sha256/ab/cd/<digest>`. Loaded only when `WHARF_BLOB_STORE=s3`, so a single-node install never loads
 * the AWS SDK.
 *
 * The key is the content's digest, which is known only once the upload has been read. Wharf therefore spools an
 * upload while hashing it (in memory up to 8 MiB, then in a local temporary file), checks limits and the expected
 * digest, skips the upload when the object already exists, and only then writes the object under its final key.
 * An object under a digest key is therefore always complete and correct; no copy or temp object is left behind in
 * the bucket.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { BlobInfo, BlobStore, PutOptions, PutResult } from '../../services/blob-store.js';
import { BlobDigestMismatchError, BlobTooLargeError, isSha256 } from '../../domain/blobs.js';

export interface S3BlobStoreOptions {
  bucket: string;
  /** Key prefix, e.g. `wharf/`; empty for the bucket root. */
  prefix: string;
  endpoint?: string | undefined;
  region: string;
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  forcePathStyle: boolean;
  /**
   * `when_required` sends and checks checksums only where the S3 API requires them. Many S3-compatible stores
   * reject the newer default (CRC32 trailers on every request), so it is Wharf's default.
   */
  checksums: 'when_required' | 'when_supported';
  /** Where uploads larger than the in-memory threshold are spooled. */
  spoolDir?: string;
}

const MEMORY_SPOOL_BYTES = 8 * 1024 * 1024;

const isNotFound = (err: unknown): boolean => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
};

export class S3BlobStore implements BlobStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #spoolDir: string;

  constructor(options: S3BlobStoreOptions) {
    const config: S3ClientConfig = {
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      requestChecksumCalculation: options.checksums === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
      responseChecksumValidation: options.checksums === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
    };
    if (options.endpoint) config.endpoint = options.endpoint;
    if (options.accessKeyId && options.secretAccessKey) {
      config.credentials = { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey };
    }
    this.#client = new S3Client(config);
    this.#bucket = options.bucket;
    this.#prefix = options.prefix;
    this.#spoolDir = options.spoolDir ?? path.join(tmpdir(), 'wharf-s3-spool');
  }

  #key(sha256: string): string {
    if (!isSha256(sha256)) throw new Error(`not a sha256 digest: ${sha256}`);
    return `${this.#prefix}sha256/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
  }

  async put(source: Readable | Buffer, options: PutOptions = {}): Promise<PutResult> {
    const sha256 = createHash('sha256');
    const sha1 = createHash('sha1');
    const sha512 = createHash('sha512');
    let size = 0;
    const memory: Buffer[] = [];
    let spoolFile: string | undefined;
    let spool: WriteStream | undefined;
    try {
      const input = Buffer.isBuffer(source) ? [source] : source;
      for await (const raw of input) {
        options.signal?.throwIfAborted();
        const chunk = raw as Buffer;
        size += chunk.length;
        if (options.maxBytes !== undefined && size > options.maxBytes) throw new BlobTooLargeError(options.maxBytes);
        sha256.update(chunk);
        sha1.update(chunk);
        sha512.update(chunk);
        if (spool) {
          if (!spool.write(chunk)) await new Promise<void>((r) => spool!.once('drain', () => r()));
        } else if (size > MEMORY_SPOOL_BYTES) {
          await mkdir(this.#spoolDir, { recursive: true });
          spoolFile = path.join(this.#spoolDir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
          spool = createWriteStream(spoolFile, { flags: 'wx' });
          for (const m of memory) spool.write(m);
          memory.length = 0;
          if (!spool.write(chunk)) await new Promise<void>((r) => spool!.once('drain', () => r()));
        } else {
          memory.push(chunk);
        }
      }
      if (spool) {
        spool.end();
        await finished(spool);
      }
      const digest = sha256.digest('hex');
      if (options.expectedSha256 && options.expectedSha256 !== digest) {
        throw new BlobDigestMismatchError(options.expectedSha256, digest);
      }
      const result = { sha256: digest, size, sha1: sha1.digest('hex'), sha512: sha512.digest('base64') };
      if (await this.head(digest)) return { ...result, created: false };
      const body = spoolFile ? createReadStream(spoolFile) : Buffer.concat(memory);
      const upload = new Upload({
        client: this.#client,
        params: { Bucket: this.#bucket, Key: this.#key(digest), Body: body, ContentType: 'application/octet-stream' },
        queueSize: 4,
        partSize: 8 * 1024 * 1024,
        leavePartsOnError: false,
      });
      await upload.done();
      return { ...result, created: true };
    } finally {
      spool?.destroy();
      if (spoolFile) await rm(spoolFile, { force: true });
    }
  }

  async get(sha256: string, signal?: AbortSignal): Promise<Readable | undefined> {
    try {
      const r = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(sha256) }),
        signal ? { abortSignal: signal } : {},
      );
      return r.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async head(sha256: string): Promise<BlobInfo | undefined> {
    try {
      const r = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#key(sha256) }));
      return { sha256, size: r.ContentLength ?? 0, ...(r.LastModified ? { modifiedAt: r.LastModified } : {}) };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async delete(sha256: string): Promise<void> {
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#key(sha256) }));
  }

  async *list(): AsyncIterable<string> {
    let token: string | undefined;
    do {
      const page = await this.#client.send(
        new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: `${this.#prefix}sha256/`, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        const name = o.Key?.slice(o.Key.lastIndexOf('/') + 1);
        if (name && isSha256(name)) yield name;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * A short-lived pre-signed GET URL (GitLab's "direct download"). The file name makes browsers and `curl -O`
   * save it under the package's name instead of its digest.
   */
  async downloadUrl(sha256: string, options: { expiresInSeconds: number; fileName: string }): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.#bucket,
      Key: this.#key(sha256),
      ResponseContentDisposition: `attachment; filename="${options.fileName.replace(/["\\\r\n]/g, '_')}"`,
      ResponseContentType: 'application/octet-stream',
    });
    return getSignedUrl(this.#client, command, { expiresIn: options.expiresInSeconds });
  }

  destroy(): void {
    this.#client.destroy();
  }
}
