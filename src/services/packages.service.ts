/**
 * GitLab's package-management API (docs/design/gitlab-compatibility.md#package-management-api): listing a project's
 * or a group tree's packages, one package, its files, a file's bytes, and deletes. The routes decide who may call
 * (`read_package` or `destroy_package` on the project, `read_group` on the group); a group listing shows only the
 * projects whose packages the caller may read, as the access service decides it. Deletes check protection rules
 * inside their transaction.
 */
import type { Readable } from 'node:stream';
import type { Identity } from '../domain/access/identity.js';
import { errors } from '../domain/errors.js';
import type { NamespaceRow, Page, PageOf, PackageFileRow, PackageFilter, PackageListRow, PackageRow } from '../domain/records.js';
import type { BlobStore } from './blob-store.js';
import type { Connection, Executor } from './ports.js';
import { helmIndexKey, packumentKey, type DocumentKey } from './documents/revisions.js';
import { iso, type Clock } from '../domain/clock.js';
import type { AccessService, ProjectAccess } from './access.service.js';
import type { PackageWrite } from './protection.service.js';
import { contextOf, type AuditContext } from '../domain/audit.js';
import type { AuditService } from './audit.service.js';

/** The API's reads (`PackageListingRepository`). */
export interface PackageListingPort {
  list(db: Executor, projectIds: readonly number[], filter: PackageFilter, page: Page): Promise<PageOf<PackageListRow>>;
  find(db: Executor, projectId: number, packageId: number): Promise<PackageRow | undefined>;
  files(db: Executor, packageId: number, page: Page): Promise<PageOf<PackageFileRow>>;
  file(db: Executor, packageId: number, fileId: number): Promise<PackageFileRow | undefined>;
  tagsOf(db: Executor, packageIds: readonly number[]): Promise<Map<number, string[]>>;
}

/** Taking packages and files out of every listing (`PackageDeletionRepository`); rows and blobs stay until `gc`. */
export interface PackageDeletionPort {
  liveFiles(db: Executor, packageId: number): Promise<PackageFileRow[]>;
  retirePackage(db: Executor, pkg: PackageRow, now: string): Promise<void>;
  retireFile(db: Executor, fileId: number): Promise<void>;
}

export interface PackagesServiceDeps {
  db: Connection & Executor;
  listing: PackageListingPort;
  deletion: PackageDeletionPort;
  /** Deleting a package or file changes the documents that list it (`DocumentRevisions`). */
  revisions: { changed(trx: Executor, key: DocumentKey, now: string): Promise<number> };
  access: AccessService;
  /** Package protection rules (`ProtectionService`), checked in the delete's transaction. */
  protection: { require(write: PackageWrite, trx?: Executor): Promise<void> };
  blobs: BlobStore;
  clock: Clock;
  audit: AuditService;
}

export class PackagesService {
  readonly #d: PackagesServiceDeps;
  constructor(deps: PackagesServiceDeps) {
    this.#d = deps;
  }

  async listProject(projectId: number, filter: PackageFilter, page: Page): Promise<PageOf<PackageListRow>> {
    return this.#d.listing.list(this.#d.db, [projectId], filter, page);
  }

  /** Packages of every project in the group's tree whose packages the caller may read. */
  async listGroup(identity: Identity, group: NamespaceRow, filter: PackageFilter, page: Page): Promise<PageOf<PackageListRow>> {
    const { db, access, listing } = this.#d;
    const readable = await access.readableProjectsIn(identity, group);
    return listing.list(db, [...readable.keys()], filter, page);
  }

  async get(projectId: number, packageId: number): Promise<PackageRow> {
    const pkg = await this.#d.listing.find(this.#d.db, projectId, packageId);
    if (!pkg) throw errors.notFound('Package');
    return pkg;
  }

  async files(projectId: number, packageId: number, page: Page): Promise<PageOf<PackageFileRow>> {
    const pkg = await this.get(projectId, packageId);
    return this.#d.listing.files(this.#d.db, pkg.id, page);
  }

  async download(projectId: number, packageId: number, fileId: number): Promise<{ file: PackageFileRow; stream: Readable }> {
    const pkg = await this.get(projectId, packageId);
    const file = await this.#d.listing.file(this.#d.db, pkg.id, fileId);
    if (!file) throw errors.notFound('Package file');
    const stream = await this.#d.blobs.get(file.blob_key);
    // A row without its blob means storage was damaged or restored inconsistently: say so, do not pretend 404.
    if (!stream) throw errors.blobMissing(file.file_name);
    return { file, stream };
  }

  /**
   * Deletes a package (Maintainer, or a deploy token with write scope). In the same transaction its npm packument
   * revision and every Helm channel that listed it move on, so no reader sees a deleted version afterwards.
   */
  async delete(target: ProjectAccess, packageId: number, audit: AuditContext = contextOf(target.identity)): Promise<void> {
    const { project } = target;
    await this.#d.db.transaction().execute(async (trx) => {
      const pkg = await this.#d.listing.find(trx, project.id, packageId);
      if (!pkg) throw errors.notFound('Package');
      await this.#requireDeletable(trx, target, pkg);
      const files = await this.#d.deletion.liveFiles(trx, pkg.id);
      await this.#d.deletion.retirePackage(trx, pkg, iso(this.#d.clock.now()));
      await this.#invalidate(trx, pkg, files);
      await this.#d.audit.record(trx, audit, {
        name: 'package_deleted',
        entity: { type: 'Project', id: project.id, path: project.full_path },
        target: { type: 'Packages::Package', id: pkg.id, details: `${pkg.name}@${pkg.version}` },
        message: `Deleted ${pkg.package_type} package ${pkg.name}@${pkg.version}`,
      });
    });
  }

  /** Deletes one file of a package; a package left without files is deleted with it. */
  async deleteFile(target: ProjectAccess, packageId: number, fileId: number, audit: AuditContext = contextOf(target.identity)): Promise<void> {
    const { project } = target;
    await this.#d.db.transaction().execute(async (trx) => {
      const pkg = await this.#d.listing.find(trx, project.id, packageId);
      if (!pkg) throw errors.notFound('Package');
      await this.#requireDeletable(trx, target, pkg);
      const files = await this.#d.deletion.liveFiles(trx, pkg.id);
      const file = files.find((f) => f.id === fileId);
      if (!file) throw errors.notFound('Package file');
      if (files.length === 1) await this.#d.deletion.retirePackage(trx, pkg, iso(this.#d.clock.now()));
      else await this.#d.deletion.retireFile(trx, file.id);
      await this.#invalidate(trx, pkg, [file]);
      await this.#d.audit.record(trx, audit, {
        name: 'package_file_deleted',
        entity: { type: 'Project', id: project.id, path: project.full_path },
        target: { type: 'Packages::PackageFile', id: file.id, details: file.file_name },
        message: `Deleted file ${file.file_name} of ${pkg.package_type} package ${pkg.name}@${pkg.version}${files.length === 1 ? ' (its last: the package went with it)' : ''}`,
      });
    });
  }

  /** GitLab's `403 Package is deletion protected.` when a protection rule keeps this caller from deleting it. */
  async #requireDeletable(trx: Executor, target: ProjectAccess, pkg: PackageRow): Promise<void> {
    await this.#d.protection.require({ action: 'delete', ...target, type: pkg.package_type, name: pkg.name, surface: 'api' }, trx);
  }

  async #invalidate(trx: Executor, pkg: PackageRow, files: readonly PackageFileRow[]): Promise<void> {
    const now = iso(this.#d.clock.now());
    if (pkg.package_type === 'npm') {
      await this.#d.revisions.changed(trx, packumentKey(pkg.project_id, pkg.name), now);
    }
    const channels = new Set(files.map((f) => f.channel).filter((c): c is string => c !== null));
    for (const channel of channels) await this.#d.revisions.changed(trx, helmIndexKey(pkg.project_id, channel), now);
  }

  async tagsOf(packageIds: readonly number[]): Promise<Map<number, string[]>> {
    return this.#d.listing.tagsOf(this.#d.db, packageIds);
  }
}
