/**
 * Read side of the npm registry: packuments, dist-tag maps and tarball downloads for one project.
 *
 * Packuments are revisioned documents (`../documents/`): built once per revision and kept as bytes, in the database
 * (shared by every process) and in the per-process engine. A read costs one indexed query for the current revision
 * (none while the database is unchanged); the document is rebuilt only when a write has moved the revision (or the
 * external URL it embeds has changed).
 */
import type { Readable } from 'node:stream';
import { errors } from '../../domain/errors.js';
import { buildPackuments, distTagsOf, npmEndpointPath, revString, type PackumentVersion } from '../../domain/npm/packument.js';
import { parseSignatures } from '../../domain/npm/signatures.js';
import type { NpmVersionRecord, PackageFileRow, PackageRow, PackageType, TagRecord } from '../../domain/records.js';
import type { BlobStore } from '../blob-store.js';
import { FreshMemo } from '../fresh-memo.js';
import type { ChangeSignal, Executor } from '../ports.js';
import { RevisionedDocuments, validatorTag } from '../documents/revisioned-documents.js';
import { representationOf, type PackumentEntry } from './packument-entry.js';
import { packumentKey, type DocumentRevisions, type PackumentKey, type PackumentState } from '../documents/revisions.js';

export type PackumentKind = 'full' | 'abbreviated';

export interface Representation {
  readonly body: Buffer;
  /** Strong validator: changes whenever the bytes do. */
  readonly etag: string;
  readonly encoding: 'gzip' | undefined;
}

export interface PackumentSet {
  readonly revision: number;
  readonly modified: string;
  /** `modified` as an HTTP date, for `Last-Modified`. */
  readonly lastModified: string;
  readonly versionCount: number;
  /** The bytes to send for `kind`, gzip-compressed when the client accepts it and it is worth it. */
  representation(kind: PackumentKind, acceptsGzip: boolean): Promise<Representation>;
}

/** The bytes (from memory when the blob store holds them, else streamed), or where to fetch them. */
export type TarballDownload = { readonly body: Readable | Buffer; readonly redirect?: undefined } | { readonly redirect: string; readonly body?: undefined };

/** What packuments and downloads read of the packages (`PackagesRepository`): installable rows only. */
export interface PackumentSourcePort {
  /** Installable versions of one name in one project, oldest first, each with its newest installable file. */
  npmVersions(db: Executor, projectId: number, name: string): Promise<NpmVersionRecord[]>;
  /** The same across several projects, oldest package first (a later publish of a version wins the merge). */
  npmVersionsIn(db: Executor, projectIds: readonly number[], name: string): Promise<NpmVersionRecord[]>;
  /** Tags of a name in a project that point at installable packages, oldest tag first. */
  tags(db: Executor, projectId: number, name: string): Promise<TagRecord[]>;
  /** Tags of a name across several projects, least recently updated first (the newest wins the merge). */
  tagsIn(db: Executor, projectIds: readonly number[], name: string): Promise<TagRecord[]>;
  /** The installable package holding this exact file name, newest first. */
  findInstallableFile(
    db: Executor,
    projectId: number,
    type: PackageType,
    name: string,
    fileName: string,
  ): Promise<{ package: PackageRow; file: PackageFileRow } | undefined>;
}

/** A packument's bytes as stored next to its revision, shared by every process. */
export interface StoredPackuments {
  full_doc: string | null;
  abbreviated_doc: string | null;
}

export interface PackumentsToStore {
  /** What else the bytes depend on (the external URL). */
  builtFor: string;
  versionCount: number;
  full: string;
  abbreviated: string;
}

/** Where built packuments are kept for every process (`PackageDocumentsRepository`). */
export interface PackumentStorePort {
  /** The stored documents if they were built for exactly `revision`. */
  documents(db: Executor, key: PackumentKey, revision: number): Promise<StoredPackuments | undefined>;
  /** Stores documents built for `revision`; a no-op when a write has moved the revision on meanwhile. */
  store(db: Executor, key: PackumentKey, revision: number, doc: PackumentsToStore): Promise<void>;
}

export interface NpmMetadataServiceDeps {
  db: Executor;
  packages: PackumentSourcePort;
  documents: PackumentStorePort;
  /** Where packument revisions come from (the invalidation rule). */
  revisions: Pick<DocumentRevisions, 'packumentState' | 'clear'>;
  blobs: BlobStore;
  /** `WHARF_EXTERNAL_URL`, embedded in tarball URLs. */
  externalUrl: string;
  /** Lets file lookups skip the database while nothing was written (SQLite). */
  changes: ChangeSignal;
  /** When set (S3 with direct downloads), tarballs are answered with a pre-signed URL valid this long. */
  directDownloadSeconds?: number | undefined;
  /** Bytes of documents kept per process (plain and gzip together). */
  cacheBytes?: number;
}

interface CacheEntry extends PackumentEntry {
  /** The set handed out for this entry, made once: its ETag is a hash, and reads repeat thousands of times. */
  set?: { seed: string; value: PackumentSet };
}

/** One project's share of a group or instance packument: its document revision for the name. */
export interface MergedProject {
  readonly projectId: number;
  readonly revision: number;
  readonly modified: string;
}

const toPackumentVersion = (r: NpmVersionRecord): PackumentVersion => ({
  version: r.version,
  packageJson: JSON.parse(r.package_json) as Record<string, unknown>,
  fileName: r.file_name,
  projectId: r.project_id,
  createdAt: r.created_at,
  publisher: r.publisher,
  trustedPublisher: r.trusted_publisher ?? null,
  readme: r.readme,
  readmeFilename: r.readme_filename,
  signatures: parseSignatures(r.signatures),
});

export class NpmMetadataService {
  readonly #d: NpmMetadataServiceDeps;
  /** Project and group/instance packuments alike, by cache key. */
  readonly #documents: RevisionedDocuments<CacheEntry>;
  /** Tarball file rows by project, name and file name. */
  readonly #files: FreshMemo<PackageFileRow | undefined>;

  constructor(deps: NpmMetadataServiceDeps) {
    this.#d = deps;
    this.#documents = new RevisionedDocuments({ maxBytes: deps.cacheBytes ?? 64 * 1024 * 1024 });
    this.#files = new FreshMemo(deps.changes);
  }

  /** The project's packuments for `name`, or undefined when it has no installable version of that name. */
  async packuments(projectId: number, name: string): Promise<PackumentSet | undefined> {
    const entry = await this.#fresh(projectId, name);
    if (!entry || entry.versionCount === 0) return undefined;
    return this.#set(entry, `${projectId}\0${name}\0${entry.revision}\0${entry.builtFor}`);
  }

  /**
   * A group or instance packument: the versions of `name` merged across the given projects (those the caller may
   * read, docs/design/gitlab-compatibility.md#npm-decision-procedure step 4), tarball URLs still pointing at each version's project (docs/design/gitlab-compatibility.md#tarball-urls).
   *
   * The document is a function of the projects' document revisions, which the caller has just read in one query,
   * so the cache key holds them: a write anywhere in the tree bumps a revision and the next read builds anew; an
   * unchanged tree is answered from memory with the same strong ETag, in every process alike. `endpoint` is where it
   * is served (a top-level group's packument differs between its group and instance endpoints by that URL alone).
   */
  async mergedPackuments(
    namespaceId: number,
    name: string,
    projects: readonly MergedProject[],
    endpoint: { scope: 'group'; id: number } | { scope: 'instance' },
  ): Promise<PackumentSet | undefined> {
    if (projects.length === 0) return undefined;
    const { db, packages, externalUrl } = this.#d;
    const sorted = [...projects].sort((a, b) => a.projectId - b.projectId);
    const endpointPath = npmEndpointPath(endpoint);
    const cacheKey = `m\0${namespaceId}\0${endpointPath}\0${name}\0${sorted.map((p) => `${p.projectId}:${p.revision}`).join(',')}`;
    // The key holds every revision involved, so any version of it is current: the sum only tells versions apart.
    const revision = sorted.reduce((n, p) => n + p.revision, 0);
    const entry = await this.#documents.get(cacheKey, { revision, builtFor: externalUrl }, async () => {
      const ids = sorted.map((p) => p.projectId);
      const records = await packages.npmVersionsIn(db, ids, name);
      const tags = await packages.tagsIn(db, ids, name);
      const modified = sorted.reduce((m, p) => (p.modified > m ? p.modified : m), sorted[0]!.modified);
      const built = buildPackuments({
        name,
        versions: records.map(toPackumentVersion),
        tags,
        externalUrl,
        modified,
        rev: revString(cacheKey, revision),
        endpointUrl: `${externalUrl}${endpointPath}`,
      });
      return this.#entry(cacheKey, revision, modified, built.versionCount, Buffer.from(JSON.stringify(built.full)), Buffer.from(JSON.stringify(built.abbreviated)));
    });
    if (entry.versionCount === 0) return undefined;
    return this.#set(entry, `${cacheKey}\0${entry.builtFor}`);
  }

  /** The representations of a cache entry, with a strong ETag derived from `seed` (what the bytes depend on). */
  #set(entry: CacheEntry, seed: string): PackumentSet {
    if (entry.set?.seed === seed) return entry.set.value;
    const tag = validatorTag(seed);
    const value: PackumentSet = {
      revision: entry.revision,
      modified: entry.modified,
      lastModified: new Date(entry.modified).toUTCString(),
      versionCount: entry.versionCount,
      // Counted only if the engine still holds this entry (it may have been replaced or evicted meanwhile).
      representation: (kind, acceptsGzip) => representationOf(entry, kind, acceptsGzip, tag, () => this.#documents.grown(entry.key, entry)),
    };
    entry.set = { seed, value };
    return value;
  }

  /** The dist-tag map (with the automatic `latest`), or undefined when no installable version exists. */
  async distTags(projectId: number, name: string): Promise<Record<string, string> | undefined> {
    const { db, packages } = this.#d;
    const versions = await packages.npmVersions(db, projectId, name);
    if (versions.length === 0) return undefined;
    const tags = await packages.tags(db, projectId, name);
    return distTagsOf(
      versions.map((v) => v.version),
      tags,
    );
  }

  /** The tarball's file record by its exact stored file name (GitLab's `by_name_and_file_name.last!`). */
  async tarballFile(projectId: number, name: string, fileName: string): Promise<PackageFileRow> {
    const { db, packages } = this.#d;
    const file = await this.#files.get(`${projectId}\0${name}\0${fileName}`, async () => {
      const found = await packages.findInstallableFile(db, projectId, 'npm', name, fileName);
      return found && Object.freeze(found.file);
    });
    if (!file) throw errors.npmRecordNotFound('Package file');
    return file;
  }

  /**
   * The stored bytes of a tarball: a pre-signed URL when the blob store offers direct downloads (GitLab's
   * object-storage `302`), else a stream.
   */
  async openTarball(file: PackageFileRow, signal?: AbortSignal): Promise<TarballDownload> {
    const { blobs, directDownloadSeconds } = this.#d;
    if (directDownloadSeconds !== undefined && blobs.downloadUrl) {
      const baseName = file.file_name.slice(file.file_name.lastIndexOf('/') + 1);
      return { redirect: await blobs.downloadUrl(file.blob_key, { expiresInSeconds: directDownloadSeconds, fileName: baseName }) };
    }
    const bytes = blobs.cached?.(file.blob_key);
    if (bytes) return { body: bytes };
    const stream = await blobs.get(file.blob_key, signal);
    if (!stream) throw errors.npmRecordNotFound('Package file');
    return { body: stream };
  }

  /** Drops every cached document of this process (tests, and an operator's `gc`). */
  clearCache(): void {
    this.#documents.clear();
    this.#d.revisions.clear();
    this.#files.clear();
  }

  async #fresh(projectId: number, name: string): Promise<CacheEntry | undefined> {
    const { db, documents, externalUrl } = this.#d;
    const key = packumentKey(projectId, name);
    const state = await this.#d.revisions.packumentState(key);
    if (!state) return undefined;
    const cacheKey = `${projectId}\0npm\0${name}`;
    return this.#documents.get(cacheKey, { revision: state.revision, builtFor: externalUrl }, async () => {
      // Another process (or an earlier life of this one) may have built and stored this revision already.
      if (state.built_revision === state.revision && state.built_for === externalUrl) {
        const stored = await documents.documents(db, key, state.revision);
        if (stored?.full_doc != null && stored.abbreviated_doc != null) {
          return this.#entry(cacheKey, state.revision, state.modified_at, state.version_count, Buffer.from(stored.full_doc), Buffer.from(stored.abbreviated_doc));
        }
      }
      return this.#build(key, cacheKey, state);
    });
  }

  async #build(key: PackumentKey, cacheKey: string, { revision, modified_at: modified }: PackumentState): Promise<CacheEntry> {
    const { db, packages, documents, externalUrl } = this.#d;
    const records = await packages.npmVersions(db, key.projectId, key.name);
    const tags = await packages.tags(db, key.projectId, key.name);
    const versions = records.map(toPackumentVersion);
    const built = buildPackuments({
      name: key.name,
      versions,
      tags,
      externalUrl,
      modified,
      rev: revString(`${key.projectId}/${key.name}`, revision),
      endpointUrl: `${externalUrl}${npmEndpointPath({ scope: 'project', id: key.projectId })}`,
    });
    const full = JSON.stringify(built.full);
    const abbreviated = JSON.stringify(built.abbreviated);
    await documents.store(db, key, revision, { builtFor: externalUrl, versionCount: built.versionCount, full, abbreviated });
    return this.#entry(cacheKey, revision, modified, built.versionCount, Buffer.from(full), Buffer.from(abbreviated));
  }

  #entry(key: string, revision: number, modified: string, versionCount: number, full: Buffer, abbreviated: Buffer): CacheEntry {
    const { externalUrl } = this.#d;
    return { key, revision, builtFor: externalUrl, modified, versionCount, full, abbreviated, gzipped: {}, bytes: full.length + abbreviated.length };
  }
}
