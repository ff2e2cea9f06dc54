/**
 * The npm services' ports in memory, for the service tier (`test/service/npm-*.test.ts`): packages, files,
 * metadata, dist-tags and packument revisions as plain arrays, with the real `DocumentRevisions` on top.
 *
 * They keep what the services rely on and nothing more: ids handed out in order, installable statuses filtered as
 * the repositories filter them, the unique index of a version (throwing, and recognised by `isUniqueViolation`),
 * conditional revision bumps, and transactions that roll every table back when their work throws. Whether the SQL
 * gets the same right (and locks) stays the integration tier's to show.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ProjectAccessContext } from '../../src/domain/access/abilities.js';
import type { Identity, UserIdentity } from '../../src/domain/access/identity.js';
import type { Clock } from '../../src/domain/clock.js';
import { errors } from '../../src/domain/errors.js';
import type {
  NamespaceRow,
  NpmMetadataRow,
  PackageFileRow,
  PackageRow,
  PackageStatus,
  PackageType,
  ProjectRow,
} from '../../src/domain/records.js';
import type { BlobStore, PutResult } from '../../src/services/blob-store.js';
import { DocumentRevisions, type DocumentKey, type PackumentKey, type RevisionStore } from '../../src/services/documents/revisions.js';
import type { NpmProtectionPort } from '../../src/services/npm/ports.js';
import type { NpmDeletionPort, NpmUnpublishPackagesPort } from '../../src/services/npm/unpublish.service.js';
import type { NpmPublishNamespacesPort, NpmPublishPackagesPort } from '../../src/services/npm/publish.service.js';
import type { NpmTagsPackagesPort } from '../../src/services/npm/tags.service.js';
import type { PackageWrite } from '../../src/services/protection.service.js';
import type { ChangeSignal, Connection, Executor } from '../../src/services/ports.js';
import type { SigningKeyRecord, SigningKeysPort } from '../../src/services/npm/signing-keys.service.js';
import { generateSigningKey } from '../../src/domain/npm/signatures.js';

export class MemoryUniqueViolation extends Error {}

/** What packuments, tags and downloads see (the repositories' `INSTALLABLE_STATUSES`). */
const INSTALLABLE: readonly PackageStatus[] = ['default', 'hidden', 'deprecated'];

interface TagRow {
  id: number;
  project_id: number;
  package_name: string;
  tag: string;
  package_id: number;
  created_at: string;
  updated_at: string;
}

interface RevisionRow {
  project_id: number;
  name: string;
  revision: number;
  modified_at: string;
}

interface Tables {
  packages: PackageRow[];
  files: PackageFileRow[];
  metadata: NpmMetadataRow[];
  tags: TagRow[];
  revisions: RevisionRow[];
  namespaces: NamespaceRow[];
  ids: Record<string, number>;
}

const empty = (): Tables => ({ packages: [], files: [], metadata: [], tags: [], revisions: [], namespaces: [], ids: {} });

/** A fixed clock that moves only when told to. */
export class FixedClock implements Clock {
  #at: number;
  constructor(at = '2026-01-01T00:00:00.000Z') {
    this.#at = Date.parse(at);
  }
  now(): Date {
    return new Date(this.#at);
  }
  advance(ms: number): void {
    this.#at += ms;
  }
}

/** The memory database: every npm port, one transaction model. */
export class MemoryNpmStore
  implements NpmTagsPackagesPort, NpmPublishPackagesPort, NpmUnpublishPackagesPort, NpmDeletionPort, NpmPublishNamespacesPort, RevisionStore
{
  t: Tables = empty();
  /** Moves on every write, as SQLite's change signal does (so `DocumentRevisions` may remember reads). */
  #version = 0;
  readonly changes: ChangeSignal = { current: () => this.#version };
  /** Transactions opened (committed or not). */
  transactions = 0;

  readonly db: Connection & Executor = {
    transaction: () => ({
      execute: async <T>(work: (trx: Executor) => Promise<T>): Promise<T> => {
        this.transactions++;
        const saved = structuredClone(this.t);
        const trx: Executor = { inTransaction: true };
        try {
          return await work(trx);
        } catch (err) {
          this.t = saved;
          this.#version++;
          throw err;
        }
      },
    }),
  };

  #id(table: string): number {
    this.t.ids[table] = (this.t.ids[table] ?? 0) + 1;
    return this.t.ids[table]!;
  }

  #wrote(): void {
    this.#version++;
  }

  isUniqueViolation(err: unknown): boolean {
    return err instanceof MemoryUniqueViolation;
  }

  // --- packages ------------------------------------------------------------------------------------------

  async findActive(_db: Executor, projectId: number, type: PackageType, name: string, version: string): Promise<PackageRow | undefined> {
    return this.t.packages.find(
      (p) => p.project_id === projectId && p.package_type === type && p.name === name && p.version === version && p.status !== 'pending_destruction',
    );
  }

  async findInstallable(_db: Executor, projectId: number, type: PackageType, name: string, version: string): Promise<PackageRow | undefined> {
    return this.t.packages
      .filter((p) => p.project_id === projectId && p.package_type === type && p.name === name && p.version === version && INSTALLABLE.includes(p.status))
      .at(-1);
  }

  async existsElsewhereInRoot(_db: Executor, rootNamespaceId: number, projectId: number, type: PackageType, name: string, version: string): Promise<boolean> {
    return this.t.packages.some(
      (p) =>
        p.project_id !== projectId &&
        p.package_type === type &&
        p.name === name &&
        p.version === version &&
        p.status !== 'pending_destruction' &&
        this.rootOfProject(p.project_id) === rootNamespaceId,
    );
  }

  /** Which root namespace a project lives under (tests say so with `projectRoots`). */
  projectRoots = new Map<number, number>();
  rootOfProject(projectId: number): number | undefined {
    return this.projectRoots.get(projectId);
  }

  async newestFile(_db: Executor, packageId: number): Promise<PackageFileRow | undefined> {
    return this.t.files.filter((f) => f.package_id === packageId && f.status === 'default').at(-1);
  }

  async insertPackage(_db: Executor, row: Omit<PackageRow, 'id'>): Promise<PackageRow> {
    // The partial unique index of a live version.
    if (this.t.packages.some((p) => p.project_id === row.project_id && p.package_type === row.package_type && p.name === row.name && p.version === row.version && p.status !== 'pending_destruction')) {
      throw new MemoryUniqueViolation('packages: duplicate live version');
    }
    const stored = { ...row, id: this.#id('packages') };
    this.t.packages.push(stored);
    this.#wrote();
    return { ...stored };
  }

  async insertFile(_db: Executor, row: Omit<PackageFileRow, 'id'>): Promise<PackageFileRow> {
    const stored = { ...row, id: this.#id('files') };
    this.t.files.push(stored);
    this.#wrote();
    return { ...stored };
  }

  async insertNpmMetadata(_db: Executor, row: NpmMetadataRow): Promise<void> {
    this.t.metadata.push({ ...row });
    this.#wrote();
  }

  async npmMetadata(_db: Executor, packageId: number): Promise<NpmMetadataRow | undefined> {
    const found = this.t.metadata.find((m) => m.package_id === packageId);
    return found && { ...found };
  }

  async updateNpmPackageJson(_db: Executor, packageId: number, packageJson: string): Promise<void> {
    for (const m of this.t.metadata) if (m.package_id === packageId) m.package_json = packageJson;
    this.#wrote();
  }

  async updatePackage(_db: Executor, id: number, patch: { status?: PackageStatus; updated_at: string }): Promise<void> {
    const p = this.t.packages.find((x) => x.id === id);
    if (p) Object.assign(p, patch);
    this.#wrote();
  }

  async npmPackagesOf(_db: Executor, projectId: number, name: string): Promise<PackageRow[]> {
    return this.t.packages
      .filter((p) => p.project_id === projectId && p.package_type === 'npm' && p.name === name && INSTALLABLE.includes(p.status))
      .map((p) => ({ ...p }));
  }

  async findInstallableFile(_db: Executor, projectId: number, type: PackageType, name: string, fileName: string) {
    for (const f of [...this.t.files].reverse()) {
      if (f.file_name !== fileName || f.status !== 'default') continue;
      const p = this.t.packages.find((x) => x.id === f.package_id);
      if (p && p.project_id === projectId && p.package_type === type && p.name === name && INSTALLABLE.includes(p.status)) {
        return { package: { ...p }, file: { ...f } };
      }
    }
    return undefined;
  }

  // --- dist-tags -----------------------------------------------------------------------------------------

  async upsertTag(_db: Executor, projectId: number, name: string, tag: string, packageId: number, now: string): Promise<void> {
    const found = this.t.tags.find((t) => t.project_id === projectId && t.package_name === name && t.tag === tag);
    if (found) Object.assign(found, { package_id: packageId, updated_at: now });
    else this.t.tags.push({ id: this.#id('tags'), project_id: projectId, package_name: name, tag, package_id: packageId, created_at: now, updated_at: now });
    this.#wrote();
  }

  async findTag(_db: Executor, projectId: number, name: string, tag: string): Promise<{ id: number; package_id: number } | undefined> {
    const found = this.t.tags.find((t) => t.project_id === projectId && t.package_name === name && t.tag === tag);
    return found && { id: found.id, package_id: found.package_id };
  }

  async deleteTag(_db: Executor, id: number): Promise<void> {
    this.t.tags = this.t.tags.filter((t) => t.id !== id);
    this.#wrote();
  }

  /** `name → version` of the project's tags (what `npm dist-tag ls` would show, without the automatic `latest`). */
  tagMap(projectId: number, name: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const t of this.t.tags.filter((x) => x.project_id === projectId && x.package_name === name)) {
      out[t.tag] = this.t.packages.find((p) => p.id === t.package_id)!.version;
    }
    return out;
  }

  // --- deletion ------------------------------------------------------------------------------------------

  async retirePackage(_db: Executor, pkg: PackageRow, now: string): Promise<void> {
    const p = this.t.packages.find((x) => x.id === pkg.id);
    if (p) Object.assign(p, { status: 'pending_destruction', updated_at: now });
    for (const f of this.t.files) if (f.package_id === pkg.id) f.status = 'pending_destruction';
    this.t.tags = this.t.tags.filter((t) => t.package_id !== pkg.id);
    this.#wrote();
  }

  // --- namespaces ----------------------------------------------------------------------------------------

  async findById(_db: Executor, id: number): Promise<NamespaceRow | undefined> {
    return this.t.namespaces.find((n) => n.id === id);
  }

  // --- revisions (RevisionStore) -------------------------------------------------------------------------

  async bump(_db: Executor, key: DocumentKey, now: string): Promise<number> {
    if (key.kind !== 'packument') throw new Error('only packuments live here');
    this.#wrote();
    const row = this.t.revisions.find((r) => r.project_id === key.projectId && r.name === key.name);
    if (!row) {
      this.t.revisions.push({ project_id: key.projectId, name: key.name, revision: 1, modified_at: now });
      return 1;
    }
    row.revision++;
    row.modified_at = now;
    return row.revision;
  }

  async bumpIfRevision(_db: Executor, key: PackumentKey, expected: number, now: string): Promise<boolean> {
    const row = this.t.revisions.find((r) => r.project_id === key.projectId && r.name === key.name);
    if (!row || row.revision !== expected) return false;
    row.revision++;
    row.modified_at = now;
    this.#wrote();
    return true;
  }

  async packumentState(_db: Executor, key: PackumentKey) {
    const row = this.t.revisions.find((r) => r.project_id === key.projectId && r.name === key.name);
    return row && { revision: row.revision, modified_at: row.modified_at, built_revision: null, built_for: null, version_count: 0 };
  }

  async helmIndexState(): Promise<undefined> {
    return undefined;
  }

  revisionOf(projectId: number, name: string): number | undefined {
    return this.t.revisions.find((r) => r.project_id === projectId && r.name === name)?.revision;
  }

  /** A published version as publish leaves it: package, file, metadata, and the tag; moves the revision. */
  async seedVersion(projectId: number, name: string, version: string, opts: { tag?: string; status?: PackageStatus; sha512?: string } = {}): Promise<PackageRow> {
    const now = '2025-12-31T00:00:00.000Z';
    const pkg = await this.insertPackage(this.db, {
      project_id: projectId, package_type: 'npm', name, version, status: opts.status ?? 'default', creator_id: 1, created_at: now, updated_at: now,
    });
    const sha = createHash('sha256').update(`${name}@${version}`).digest('hex');
    await this.insertFile(this.db, {
      package_id: pkg.id, file_name: `${name}-${version}.tgz`, size: 1, sha1: 'x', sha256: sha, sha512: opts.sha512 ?? 'y', blob_key: sha, channel: null,
      status: 'default', created_at: now,
    });
    await this.insertNpmMetadata(this.db, { package_id: pkg.id, package_json: JSON.stringify({ name, version }), readme: null, readme_filename: null, publisher: 'seed' });
    if (opts.tag) await this.upsertTag(this.db, projectId, name, opts.tag, pkg.id, now);
    await this.bump(this.db, { kind: 'packument', projectId, name }, now);
    return pkg;
  }
}

/** Revisions on the memory store, through the real rule (`DocumentRevisions`). */
export const memoryRevisions = (store: MemoryNpmStore): DocumentRevisions => new DocumentRevisions({ db: store.db, store, changes: store.changes });

/**
 * Protection rules as a set of protected names per action; every call is recorded with whether it ran inside a
 * transaction, since the write paths must ask there.
 */
export class MemoryProtection implements NpmProtectionPort {
  readonly protectedPush = new Set<string>();
  readonly protectedDelete = new Set<string>();
  readonly calls: { action: PackageWrite['action']; name: string; inTransaction: boolean }[] = [];

  async require(write: PackageWrite, db?: Executor): Promise<void> {
    this.calls.push({ action: write.action, name: write.name, inTransaction: (db as { inTransaction?: boolean } | undefined)?.inTransaction === true });
    const rules = write.action === 'push' ? this.protectedPush : this.protectedDelete;
    if (rules.has(write.name)) throw errors.packageProtected(write.action, write.surface);
  }
}

/** A blob store that keeps what was put, by SHA-256. */
export class MemoryBlobs implements Pick<BlobStore, 'put'> {
  readonly blobs = new Map<string, Buffer>();
  async put(source: Readable | Buffer, options: { expectedSha256?: string } = {}): Promise<PutResult> {
    const bytes = Buffer.isBuffer(source) ? source : Buffer.concat(await source.toArray());
    const digest = (alg: string) => createHash(alg).update(bytes).digest('hex');
    const sha256 = digest('sha256');
    if (options.expectedSha256 && options.expectedSha256 !== sha256) throw new Error('digest mismatch');
    const created = !this.blobs.has(sha256);
    this.blobs.set(sha256, bytes);
    return { sha256, sha1: digest('sha1'), sha512: digest('sha512'), size: bytes.length, created };
  }
}

export const project = (id: number, fullPath: string, namespaceId: number): ProjectRow => ({
  id,
  namespace_id: namespaceId,
  name: fullPath.split('/').at(-1)!,
  path: fullPath.split('/').at(-1)!,
  full_path: fullPath,
  description: '',
  visibility: 'private',
  package_registry_access_level: 'enabled',
  creator_id: 1,
  created_at: '2025-01-01T00:00:00.000Z',
  updated_at: '2025-01-01T00:00:00.000Z',
});

export const group = (id: number, path: string): NamespaceRow => ({
  id, kind: 'group', name: path, path, full_path: path, parent_id: null, traversal_ids: `${id}/`, owner_id: null, visibility: 'private',
  description: '', created_at: '2025-01-01T00:00:00.000Z', updated_at: '2025-01-01T00:00:00.000Z',
});

export const developer: UserIdentity = Object.freeze({ kind: 'user', userId: 1, username: 'dev', isAdmin: false, scopes: ['api'] as const, tokenId: 1 });

/** The caller's context on a project of `root` (the protection port here decides by name, not by role). */
export const contextOn = (p: ProjectRow, rootId: number, memberLevel: 30 | 40 | 50 = 30): ProjectAccessContext => ({
  projectId: p.id,
  visibility: p.visibility,
  registryAccessLevel: p.package_registry_access_level,
  namespaceIds: [rootId],
  memberLevel,
});

export const writer = (identity: Identity, p: ProjectRow, rootId: number) => ({ identity, project: p, ctx: contextOn(p, rootId) });

/** `registry_signing_keys` in memory, starting with one active key as migration 014 leaves it. */
export class MemorySigningKeys implements SigningKeysPort {
  readonly rows: SigningKeyRecord[] = [{ ...generateSigningKey(), created_at: '2025-01-01T00:00:00.000Z', expires_at: null }];
  async list(): Promise<SigningKeyRecord[]> {
    return this.rows.map((r) => ({ ...r }));
  }
  async active(): Promise<SigningKeyRecord | undefined> {
    const open = this.rows.filter((r) => r.expires_at === null);
    return open.length ? { ...open[open.length - 1]! } : undefined;
  }
  async insert(_db: Executor, row: SigningKeyRecord): Promise<void> {
    this.rows.push({ ...row });
  }
  async expireActive(_db: Executor, expiresAt: string): Promise<void> {
    for (const r of this.rows) if (r.expires_at === null) r.expires_at = expiresAt;
  }
}
