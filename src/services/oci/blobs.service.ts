/**
 * OCI blobs and blob uploads (docs/design/helm-oci.md): reads with ranges, monolithic and chunked uploads.
 *
 * A blob is the blob store's blob (its key is the SHA-256, which is the OCI digest); `oci_blobs` says which
 * repositories may read it. An upload session lives in the database and its chunks in the blob store, each a blob of
 * its own: neither S3 nor a content-addressed store can append, and so any instance can continue or finish an upload
 * another began. Completion streams the chunks in order into the store under the digest the client named; bytes
 * that hash otherwise are refused and never stored under it.
 */
import { randomUUID } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import type { Clock } from '../../domain/clock.js';
import { iso } from '../../domain/clock.js';
import { errors } from '../../domain/errors.js';
import { checkDigest, ociDigest, parseContentRange, type ByteRange } from '../../domain/oci/names.js';
import type { Descriptor } from '../../domain/oci/manifest.js';
import type { OciBlobRow, OciUploadChunk, OciUploadSessionRow } from '../../domain/records.js';
import { BlobDigestMismatchError, BlobTooLargeError, type BlobStore, type PutResult } from '../blob-store.js';
import { FreshMemo } from '../fresh-memo.js';
import type { ChangeSignal, Executor } from '../ports.js';
import type { SettingsService } from '../settings.service.js';

/** What the OCI blob API needs of the database (`OciRepository`). */
export interface OciBlobsStore {
  blob(db: Executor, projectId: number, repository: string, sha256: string): Promise<OciBlobRow | undefined>;
  /** Records that the repository may read the blob; nothing happens when it already may. */
  linkBlob(db: Executor, row: OciBlobRow): Promise<void>;
  createSession(db: Executor, row: OciUploadSessionRow): Promise<void>;
  session(db: Executor, uuid: string): Promise<OciUploadSessionRow | undefined>;
  /**
   * Appends a chunk unless another request appended first: true when the session still had `expectedSize` bytes
   * and now has the new chunk list (a compare-and-set, so two instances cannot interleave chunks).
   */
  appendChunk(db: Executor, uuid: string, expectedSize: number, chunks: string, size: number, now: string): Promise<boolean>;
  /** Removes the session; false when it was already gone (completed or cancelled by another request). */
  deleteSession(db: Executor, uuid: string): Promise<boolean>;
  /** A manifest of the repository that references the blob, if any. */
  manifestReferencing(db: Executor, projectId: number, repository: string, sha256: string): Promise<string | undefined>;
  /** Removes the repository's link; false when there was none. */
  unlinkBlob(db: Executor, projectId: number, repository: string, sha256: string): Promise<boolean>;
}

export interface OciBlobsDeps {
  db: Executor;
  oci: OciBlobsStore;
  blobs: BlobStore;
  settings: SettingsService;
  clock: Clock;
  /** Lets blob-link lookups skip the database while nothing was written (SQLite); see docs/performance.md. */
  changes: ChangeSignal;
}

/** The repository a request is about: the project its name resolved to, and the full name. */
export interface OciRepositoryRef {
  projectId: number;
  repository: string;
}

export interface BlobRead {
  sha256: string;
  /** The blob's whole size. */
  size: number;
  /** The bytes asked for: the whole blob, or the range. */
  range?: { start: number; end: number };
  /** A small blob held in memory is sent as one buffer; anything else streams from the blob store. */
  body: Readable | Buffer;
}

/** How far an upload has come: what `Range: 0-<last>` reports. */
export interface UploadState {
  uuid: string;
  size: number;
}

export class OciBlobsService {
  readonly #d: OciBlobsDeps;
  // Every pull asks whether the repository may read each blob: remembered until the next write (SQLite only; on
  // PostgreSQL every pull reads the link, so a push or delete through another instance is seen at once).
  readonly #links: FreshMemo<OciBlobRow | undefined>;

  constructor(deps: OciBlobsDeps) {
    this.#d = deps;
    this.#links = new FreshMemo(deps.changes);
  }

  /** The blob's digest and size when the repository may read it (HEAD). */
  async stat(ref: OciRepositoryRef, digest: string): Promise<{ sha256: string; size: number }> {
    const sha256 = requireDigest(digest);
    const { db, oci } = this.#d;
    const row = await this.#links.get(`${ref.projectId}\0${ref.repository}\0${sha256}`, async () => {
      const found = await oci.blob(db, ref.projectId, ref.repository, sha256);
      return found && Object.freeze(found);
    });
    if (!row) throw blobUnknown(digest);
    return { sha256, size: Number(row.size) };
  }

  /** The blob's bytes, or the range of them asked for (GET). */
  async read(ref: OciRepositoryRef, digest: string, range: (size: number) => ByteRange | undefined): Promise<BlobRead> {
    const { sha256, size } = await this.stat(ref, digest);
    const wanted = range(size);
    if (wanted === 'unsatisfiable') throw errors.oci('RANGE_INVALID', `the range is outside the blob's ${size} bytes`, { size });
    // Content-addressed, so the copy in memory is the stored bytes on every instance (caching-blob-store.ts).
    const bytes = this.#d.blobs.cached?.(sha256);
    if (bytes) return { sha256, size, ...(wanted ? { range: wanted } : {}), body: wanted ? bytes.subarray(wanted.start, wanted.end + 1) : bytes };
    const stream = await this.#d.blobs.get(sha256);
    if (!stream) throw errors.blobMissing(digest);
    if (!wanted) return { sha256, size, body: stream };
    return { sha256, size, range: wanted, body: stream.pipe(slice(wanted.start, wanted.end)) };
  }

  /** `POST …/blobs/uploads/?digest=`: the whole blob in one request. */
  async uploadWhole(ref: OciRepositoryRef, digest: string, body: Readable): Promise<string> {
    const sha256 = requireDigest(digest);
    const blob = await this.#put(body, { expectedSha256: sha256 });
    await this.#link(ref, blob);
    return sha256;
  }

  /**
   * `POST …/blobs/uploads/?mount=&from=`: links a blob `from` has into `ref`, without a byte sent. `from` is a
   * repository the caller may read (the route decided); undefined when it does not have the blob, or the digest
   * is none Wharf stores — the caller then gets an ordinary upload session, as the spec says, the same answer
   * whatever the reason.
   */
  async mount(ref: OciRepositoryRef, digest: string, from: OciRepositoryRef): Promise<string | undefined> {
    const check = checkDigest(digest);
    if (!check.ok) return undefined;
    const row = await this.#d.oci.blob(this.#d.db, from.projectId, from.repository, check.sha256);
    if (!row) return undefined;
    await this.#link(ref, { sha256: row.sha256, size: Number(row.size) });
    return row.sha256;
  }

  /** `POST …/blobs/uploads/`: a new session. */
  async startUpload(ref: OciRepositoryRef): Promise<UploadState> {
    const now = iso(this.#d.clock.now());
    const uuid = randomUUID();
    await this.#d.oci.createSession(this.#d.db, { uuid, project_id: ref.projectId, repository: ref.repository, size: 0, chunks: '[]', created_at: now, updated_at: now });
    return { uuid, size: 0 };
  }

  async uploadState(ref: OciRepositoryRef, uuid: string): Promise<UploadState> {
    const session = await this.#session(ref, uuid);
    return { uuid, size: Number(session.size) };
  }

  /**
   * `PATCH …/blobs/uploads/<uuid>`: the next chunk. With `Content-Range`, it must start where the session ends
   * (416 otherwise, as the spec says); without one, it is appended (the "streamed" upload).
   */
  async appendChunk(ref: OciRepositoryRef, uuid: string, body: Readable, contentRange: string | undefined): Promise<UploadState> {
    const session = await this.#session(ref, uuid);
    const size = Number(session.size);
    let range: { start: number; end: number } | undefined;
    if (contentRange !== undefined) {
      range = parseContentRange(contentRange);
      if (!range) throw errors.oci('BLOB_UPLOAD_INVALID', `Content-Range ${contentRange} is malformed: send <start>-<end>`);
      if (range.start !== size) throw errors.oci('RANGE_INVALID', `the chunk starts at ${range.start}, the upload has ${size} bytes`, { size });
    }
    const max = (await this.#d.settings.get()).helm_max_file_size;
    const chunk = await this.#put(body, { maxBytes: max - size });
    if (range && range.end - range.start + 1 !== chunk.size) {
      throw errors.oci('BLOB_UPLOAD_INVALID', `Content-Range announced ${range.end - range.start + 1} bytes, the body had ${chunk.size}`);
    }
    return { uuid, size: await this.#append(session, chunk) };
  }

  /** `PUT …/blobs/uploads/<uuid>?digest=`: the last chunk, if any, then the blob is stored under its digest. */
  async completeUpload(ref: OciRepositoryRef, uuid: string, digest: string, body: Readable | undefined): Promise<string> {
    const sha256 = requireDigest(digest);
    let session = await this.#session(ref, uuid);
    if (body) {
      const max = (await this.#d.settings.get()).helm_max_file_size;
      const chunk = await this.#put(body, { maxBytes: max - Number(session.size) });
      const size = await this.#append(session, chunk);
      session = { ...session, size, chunks: JSON.stringify([...chunksOf(session), { sha256: chunk.sha256, size: chunk.size }]) };
    }
    const chunks = chunksOf(session);
    // One chunk that already is the blob (the common case: a client that PATCHes everything at once) is not copied.
    const blob =
      chunks.length === 1 && chunks[0]!.sha256 === sha256
        ? { sha256, size: chunks[0]!.size }
        : await this.#put(Readable.from(this.#concat(chunks)), { expectedSha256: sha256 });
    if (!(await this.#d.oci.deleteSession(this.#d.db, uuid))) throw uploadUnknown(uuid);
    await this.#link(ref, blob);
    return sha256;
  }

  /**
   * `DELETE …/blobs/<digest>`: the repository's link goes, so the blob is unknown here at once; its bytes are
   * `gc`'s (another repository or a package file may share them). A blob a manifest of the repository references is
   * refused (405 `UNSUPPORTED`): the manifest, that is the chart version, goes first.
   */
  async deleteBlob(ref: OciRepositoryRef, digest: string): Promise<void> {
    const sha256 = requireDigest(digest);
    const { oci } = this.#d;
    const manifest = await oci.manifestReferencing(this.#d.db, ref.projectId, ref.repository, sha256);
    if (manifest) throw errors.ociBlobInUse(digest, ociDigest(manifest));
    if (!(await oci.unlinkBlob(this.#d.db, ref.projectId, ref.repository, sha256))) throw blobUnknown(digest);
  }

  /** `DELETE …/blobs/uploads/<uuid>`: the session goes; its chunks are left to `gc` (they may be shared). */
  async cancelUpload(ref: OciRepositoryRef, uuid: string): Promise<void> {
    await this.#session(ref, uuid);
    if (!(await this.#d.oci.deleteSession(this.#d.db, uuid))) throw uploadUnknown(uuid);
  }

  async #session(ref: OciRepositoryRef, uuid: string): Promise<OciUploadSessionRow> {
    const session = await this.#d.oci.session(this.#d.db, uuid);
    // Another repository's session is as unknown here as a missing one.
    if (!session || session.project_id !== ref.projectId || session.repository !== ref.repository) throw uploadUnknown(uuid);
    return session;
  }

  async #append(session: OciUploadSessionRow, chunk: PutResult): Promise<number> {
    const size = Number(session.size) + chunk.size;
    const chunks = JSON.stringify([...chunksOf(session), { sha256: chunk.sha256, size: chunk.size }]);
    const now = iso(this.#d.clock.now());
    if (!(await this.#d.oci.appendChunk(this.#d.db, session.uuid, Number(session.size), chunks, size, now))) {
      throw errors.oci('RANGE_INVALID', 'another chunk was appended to this upload at the same time', null);
    }
    return size;
  }

  async *#concat(chunks: readonly OciUploadChunk[]): AsyncGenerator<Buffer> {
    for (const chunk of chunks) {
      const stream = await this.#d.blobs.get(chunk.sha256);
      if (!stream) throw errors.oci('BLOB_UPLOAD_INVALID', 'a chunk of this upload is missing from the blob store: start the upload again');
      for await (const part of stream) yield part as Buffer;
    }
  }

  /** Stores bytes, within the instance's limit; the store's refusals become the spec's. */
  async #put(body: Readable, options: { expectedSha256?: string; maxBytes?: number }): Promise<PutResult> {
    const maxBytes = Math.min(options.maxBytes ?? Infinity, (await this.#d.settings.get()).helm_max_file_size);
    try {
      return await this.#d.blobs.put(body, { ...options, maxBytes });
    } catch (err) {
      if (err instanceof BlobDigestMismatchError) throw errors.oci('DIGEST_INVALID', 'the content does not match the digest');
      if (err instanceof BlobTooLargeError) throw errors.oci('SIZE_INVALID', `the blob is larger than this instance accepts (${maxBytes} bytes)`);
      throw err;
    }
  }

  async #link(ref: OciRepositoryRef, blob: { sha256: string; size: number }): Promise<void> {
    await this.#d.oci.linkBlob(this.#d.db, {
      project_id: ref.projectId,
      repository: ref.repository,
      sha256: blob.sha256,
      size: blob.size,
      created_at: iso(this.#d.clock.now()),
    });
  }
}

function requireDigest(digest: string): string {
  const check = checkDigest(digest);
  if (check.ok) return check.sha256;
  throw errors.oci('DIGEST_INVALID', check.reason === 'unsupported' ? `only sha256 digests are supported, not ${digest}` : `${digest} is not a digest`);
}

const blobUnknown = (digest: string) => errors.oci('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
const uploadUnknown = (uuid: string) => errors.oci('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { uuid });

function chunksOf(session: OciUploadSessionRow): OciUploadChunk[] {
  return JSON.parse(session.chunks) as OciUploadChunk[];
}

/** Passes bytes `start`..`end` (inclusive) of what flows through, and drops the rest. */
function slice(start: number, end: number): Transform {
  let offset = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const from = Math.max(0, start - offset);
      const to = Math.min(chunk.length, end + 1 - offset);
      offset += chunk.length;
      callback(null, from < to ? chunk.subarray(from, to) : undefined);
    },
  });
}

/**
 * A manifest may name only blobs its repository has, at the size they have (manifest and referrer pushes alike):
 * `MANIFEST_BLOB_UNKNOWN` for a blob never pushed or mounted here, `MANIFEST_INVALID` for a wrong size.
 */
export async function requireLinkedBlob(
  store: { blob(db: Executor, projectId: number, repository: string, sha256: string): Promise<OciBlobRow | undefined> },
  db: Executor,
  ref: OciRepositoryRef,
  d: Descriptor,
): Promise<void> {
  const check = checkDigest(d.digest);
  if (!check.ok) throw errors.oci('DIGEST_INVALID', `the manifest names ${d.digest}, which is not a supported digest`);
  const row = await store.blob(db, ref.projectId, ref.repository, check.sha256);
  if (!row) throw errors.oci('MANIFEST_BLOB_UNKNOWN', `the manifest names ${d.digest}, which this repository does not have: push it first`, { digest: d.digest });
  if (Number(row.size) !== d.size) throw errors.oci('MANIFEST_INVALID', `the manifest gives ${d.digest} a size of ${d.size}, it has ${row.size} bytes`);
}
