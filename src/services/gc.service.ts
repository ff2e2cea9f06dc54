/**
 * Garbage collection: removes the rows of deleted packages, evicts the npm proxy's least recently used files down
 * to `npm_proxy_max_cache_bytes`, expires abandoned OCI uploads and drops OCI repository links no manifest needs,
 * and deletes every blob no package file, proxy cache row, OCI link, manifest or open upload references any more.
 *
 * Safe with several instances and during uploads: a publish writes its blob before its rows, so a blob younger than
 * the grace period may belong to a publish still in flight and is left alone; deleting an already deleted blob is a
 * no-op.
 */
import type { Clock } from '../domain/clock.js';
import type { BlobStore } from './blob-store.js';
import type { Connection, Executor } from './ports.js';
import type { AuditService } from './audit.service.js';
import type { SettingsService } from './settings.service.js';

export interface GcResult {
  packagesPurged: number;
  filesPurged: number;
  blobsDeleted: number;
  bytesFreed: number;
  blobsKept: number;
  tempFilesRemoved: number;
  /** Audit events past `audit_events_retention_days` (counted, not deleted, in a dry run). */
  auditEventsPruned: number;
  /** npm proxy cache rows evicted down to `npm_proxy_max_cache_bytes` (would be, in a dry run), and their bytes. */
  proxyTarballsEvicted: number;
  proxyPackumentsEvicted: number;
  proxyBytesEvicted: number;
  /** OCI upload sessions untouched for `OCI_UPLOAD_MAX_AGE_MS` (their chunks then go like any unreferenced blob). */
  ociUploadsExpired: number;
  /** OCI repository links to blobs no manifest of the repository references, older than the grace period. */
  ociBlobLinksDropped: number;
}

/** What gc does to the OCI API's rows (`OciRepository`); `before` is an ISO time. */
export interface OciGcPort {
  expireUploads(db: Executor, before: string, dryRun: boolean): Promise<number>;
  dropUnreferencedLinks(db: Executor, before: string, dryRun: boolean): Promise<number>;
}

/**
 * An OCI upload session untouched this long is abandoned: clients finish an upload within minutes (the reference
 * registry purges after a week; Wharf keeps a day, since the chunks are stored blobs).
 */
export const OCI_UPLOAD_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** The npm proxy cache's eviction (`NpmProxyCacheService.evict`). */
export interface ProxyEviction {
  evict(options: { dryRun?: boolean }): Promise<{ tarballs: number; packuments: number; bytes: number }>;
}

/** Where the audit log's retention comes from: the setting, applied by the audit service. */
export interface AuditRetention {
  audit: AuditService;
  settings: SettingsService;
}

/** Deleted packages and the blobs still in use (`PackageDeletionRepository`). */
export interface GcDeletionPort {
  /** Removes the rows of packages and files marked for destruction; how many of each. */
  purgeRetired(db: Executor): Promise<{ packages: number; files: number }>;
  /** Whether any package file still references the blob. */
  blobReferenced(db: Executor, blobKey: string): Promise<boolean>;
}

export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;

export class GcService {
  readonly #db: Connection & Executor;
  readonly #blobs: BlobStore;
  readonly #deletion: GcDeletionPort;
  readonly #clock: Clock;
  readonly #retention: AuditRetention | undefined;
  readonly #proxy: ProxyEviction | undefined;
  readonly #oci: OciGcPort | undefined;
  constructor(
    db: Connection & Executor,
    blobs: BlobStore,
    deletion: GcDeletionPort,
    clock: Clock,
    retention?: AuditRetention,
    proxy?: ProxyEviction,
    oci?: OciGcPort,
  ) {
    this.#oci = oci;
    this.#retention = retention;
    this.#proxy = proxy;
    this.#db = db;
    this.#blobs = blobs;
    this.#deletion = deletion;
    this.#clock = clock;
  }

  async run(options: { graceMs?: number; dryRun?: boolean } = {}): Promise<GcResult> {
    const grace = options.graceMs ?? DEFAULT_GC_GRACE_MS;
    const now = this.#clock.now().getTime();
    const purged = options.dryRun ? { packages: 0, files: 0 } : await this.#db.transaction().execute((trx) => this.#deletion.purgeRetired(trx));
    const result: GcResult = {
      packagesPurged: purged.packages,
      filesPurged: purged.files,
      blobsDeleted: 0,
      bytesFreed: 0,
      blobsKept: 0,
      tempFilesRemoved: 0,
      auditEventsPruned: 0,
      proxyTarballsEvicted: 0,
      proxyPackumentsEvicted: 0,
      proxyBytesEvicted: 0,
      ociUploadsExpired: 0,
      ociBlobLinksDropped: 0,
    };
    if (this.#retention) {
      const { audit, settings } = this.#retention;
      result.auditEventsPruned = await audit.prune((await settings.get()).audit_events_retention_days, options.dryRun);
    }
    // Before the sweep, so the evicted files' blobs (unreferenced from now on) go in this same run, grace permitting.
    if (this.#proxy) {
      const evicted = await this.#proxy.evict({ dryRun: options.dryRun ?? false });
      result.proxyTarballsEvicted = evicted.tarballs;
      result.proxyPackumentsEvicted = evicted.packuments;
      result.proxyBytesEvicted = evicted.bytes;
    }
    // Before the sweep too: the chunks of expired uploads and the blobs of dropped links go in this run, grace permitting.
    if (this.#oci) {
      const dryRun = options.dryRun ?? false;
      result.ociUploadsExpired = await this.#oci.expireUploads(this.#db, new Date(now - OCI_UPLOAD_MAX_AGE_MS).toISOString(), dryRun);
      result.ociBlobLinksDropped = await this.#oci.dropUnreferencedLinks(this.#db, new Date(now - grace).toISOString(), dryRun);
    }
    for await (const digest of this.#blobs.list()) {
      if (await this.#deletion.blobReferenced(this.#db, digest)) {
        result.blobsKept++;
        continue;
      }
      const info = await this.#blobs.head(digest);
      if (!info) continue;
      if (info.modifiedAt && now - info.modifiedAt.getTime() < grace) {
        result.blobsKept++;
        continue;
      }
      if (!options.dryRun) await this.#blobs.delete(digest);
      result.blobsDeleted++;
      result.bytesFreed += info.size;
    }
    const store = (this.#blobs as { inner?: BlobStore }).inner ?? this.#blobs;
    const fs = store as { removeStaleTemp?: (olderThanMs: number, now?: number) => Promise<number> };
    if (!options.dryRun && fs.removeStaleTemp) result.tempFilesRemoved = await fs.removeStaleTemp(grace, now);
    return result;
  }
}
