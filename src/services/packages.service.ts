/**
 * GitLab's package-management reads (docs/design/gitlab-compatibility.md#package-management-api): listing a project's or a group tree's packages, one
 * package, its files, and a file's bytes. Each project's packages are shown only to callers with `read_package`,
 * as the access service decides it.
 */
import type { Kysely } from 'kysely';
import type { Readable } from 'node:stream';
import type { ProjectAccessContext } from '../domain/access/abilities.js';
import type { Identity } from '../domain/access/identity.js';
import { errors } from '../domain/errors.js';
import type { BlobStore } from './blob-store.js';
import type { Database, PackageFileRow, PackageRow, ProjectRow } from '../storage/db/schema.js';
import type { PackageFilter, PackageListingRepository, PackageListRow } from '../storage/db/repositories/package-listing.repository.js';
import type { Db, Page, PageOf } from '../storage/db/repositories/types.js';
import type { PackageDeletionRepository } from '../storage/db/repositories/package-deletion.repository.js';
import { helmIndexKey, packumentKey, type DocumentRevisions } from './documents/revisions.js';
import { iso, type Clock } from '../domain/clock.js';
import type { AccessService } from './access.service.js';
import type { ProtectionService } from './protection.service.js';
import { contextOf, type AuditContext } from '../domain/audit.js';
import type { AuditService } from './audit.service.js';

export interface PackagesServiceDeps {
  db: Kysely<Database>;
  listing: PackageListingRepository;
  deletion: PackageDeletionRepository;
  /** Deleting a package or file changes the documents that list it. */
  revisions: DocumentRevisions;
  access: AccessService;
  protection: ProtectionService;
  blobs: BlobStore;
  clock: Clock;
  audit: AuditService;
}

export class PackagesService {
  readonly #d: PackagesServiceDeps;
  constructor(deps: PackagesServiceDeps) {
    this.#d = deps;
  }

  /** The project, when the caller may read its packages: 404 when it is invisible, 403 when only the packages are. */
  async readableProject(identity: Identity, idOrPath: string): Promise<ProjectRow> {
    const { project } = await this.#d.access.authorizePackageAccess(identity, idOrPath, 'read_package', 'plain', () => errors.notFound('Project'));
    return project;
  }

  async listProject(identity: Identity, idOrPath: string, filter: PackageFilter, page: Page): Promise<PageOf<PackageListRow>> {
    const project = await this.readableProject(identity, idOrPath);
    return this.#d.listing.list(this.#d.db, [project.id], filter, page);
  }

  /** Packages of every project in the group's tree whose packages the caller may read. */
  async listGroup(identity: Identity, idOrPath: string, filter: PackageFilter, page: Page): Promise<PageOf<PackageListRow>> {
    const { db, access, listing } = this.#d;
    const { group } = await access.readableGroup(identity, idOrPath);
    const readable = await access.readableProjectsIn(identity, group);
    return listing.list(db, [...readable.keys()], filter, page);
  }

  async get(identity: Identity, idOrPath: string, packageId: number): Promise<{ project: ProjectRow; pkg: PackageRow }> {
    const project = await this.readableProject(identity, idOrPath);
    const pkg = await this.#d.listing.find(this.#d.db, project.id, packageId);
    if (!pkg) throw errors.notFound('Package');
    return { project, pkg };
  }

  async files(identity: Identity, idOrPath: string, packageId: number, page: Page): Promise<PageOf<PackageFileRow>> {
    const { pkg } = await this.get(identity, idOrPath, packageId);
    return this.#d.listing.files(this.#d.db, pkg.id, page);
  }

  async download(identity: Identity, idOrPath: string, packageId: number, fileId: number): Promise<{ file: PackageFileRow; stream: Readable }> {
    const { pkg } = await this.get(identity, idOrPath, packageId);
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
  async delete(identity: Identity, idOrPath: string, packageId: number, audit: AuditContext = contextOf(identity)): Promise<void> {
    const { project, ctx } = await this.#d.access.authorizePackageAccess(identity, idOrPath, 'destroy_package', 'plain', () => errors.notFound('Project'));
    await this.#d.db.transaction().execute(async (trx) => {
      const pkg = await this.#d.listing.find(trx, project.id, packageId);
      if (!pkg) throw errors.notFound('Package');
      await this.#requireDeletable(trx, identity, project, ctx, pkg);
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
  async deleteFile(identity: Identity, idOrPath: string, packageId: number, fileId: number, audit: AuditContext = contextOf(identity)): Promise<void> {
    const { project, ctx } = await this.#d.access.authorizePackageAccess(identity, idOrPath, 'destroy_package', 'plain', () => errors.notFound('Project'));
    await this.#d.db.transaction().execute(async (trx) => {
      const pkg = await this.#d.listing.find(trx, project.id, packageId);
      if (!pkg) throw errors.notFound('Package');
      await this.#requireDeletable(trx, identity, project, ctx, pkg);
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
  async #requireDeletable(trx: Db, identity: Identity, project: ProjectRow, ctx: ProjectAccessContext, pkg: PackageRow): Promise<void> {
    await this.#d.protection.require({ action: 'delete', identity, project, ctx, type: pkg.package_type, name: pkg.name, surface: 'api' }, trx);
  }

  async #invalidate(trx: Db, pkg: PackageRow, files: readonly PackageFileRow[]): Promise<void> {
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
