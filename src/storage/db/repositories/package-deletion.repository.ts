/**
 * Deleting packages the way GitLab does: rows are retired (`pending_destruction`) in the request's transaction,
 * which takes them out of every listing, packument and index at once; `gc` removes the rows and their blobs later.
 */
import { sql } from 'kysely';
import type { PackageFileRow, PackageRow } from '../schema.js';
import type { Db } from './types.js';
import { NpmAttestationsRepository } from './npm-attestations.repository.js';
import { NpmProxyRepository } from './npm-proxy.repository.js';
import { OciRepository } from './oci.repository.js';

export class PackageDeletionRepository {
  async liveFiles(db: Db, packageId: number): Promise<PackageFileRow[]> {
    return db.selectFrom('package_files').selectAll().where('package_id', '=', packageId).where('status', '=', 'default').execute();
  }

  async retirePackage(db: Db, pkg: PackageRow, now: string): Promise<void> {
    // Lock order matters on PostgreSQL: the package row first, then its files, as uploads do; the opposite order
    // could deadlock with a concurrent upload of the same package.
    await db.updateTable('packages').set({ status: 'pending_destruction', updated_at: now }).where('id', '=', pkg.id).execute();
    await db.updateTable('package_files').set({ status: 'pending_destruction' }).where('package_id', '=', pkg.id).execute();
    // Dist-tags pointing at a deleted version disappear with it, as in GitLab.
    await db.deleteFrom('package_tags').where('package_id', '=', pkg.id).execute();
    // So do its OCI manifests and tags (docs/design/helm-oci.md#deletion).
    await new OciRepository().dropManifestsOfPackage(db, pkg.id);
  }

  async retireFile(db: Db, fileId: number): Promise<void> {
    await db.updateTable('package_files').set({ status: 'pending_destruction' }).where('id', '=', fileId).execute();
    await new OciRepository().dropManifestsOfFiles(db, [fileId]);
  }

  /** Removes every retired row (cascading to metadata, tags and Helm file metadata); returns how many. */
  async purgeRetired(db: Db): Promise<{ packages: number; files: number }> {
    const files = await db.deleteFrom('package_files').where('status', '=', 'pending_destruction').executeTakeFirst();
    const packages = await db.deleteFrom('packages').where('status', '=', 'pending_destruction').executeTakeFirst();
    return { packages: Number(packages.numDeletedRows), files: Number(files.numDeletedRows) };
  }

  /** Is the blob still needed by a package file that is not being deleted? */
  async blobReferenced(db: Db, blobKey: string): Promise<boolean> {
    const r = await db
      .selectFrom('package_files')
      .select(sql<number>`1`.as('x'))
      .where('blob_key', '=', blobKey)
      .where('status', '<>', 'pending_destruction')
      .limit(1)
      .executeTakeFirst();
    if (r !== undefined) return true;
    // So is the provenance bundle of a version (docs/design/npm-provenance.md).
    if (await new NpmAttestationsRepository().blobReferenced(db, blobKey)) return true;
    // The npm proxy's cached packuments and tarballs are blobs too; evicting them is the proxy's business.
    if (await new NpmProxyRepository().blobReferenced(db, blobKey)) return true;
    // So are OCI blobs and the chunks of open OCI uploads.
    return new OciRepository().blobReferenced(db, blobKey);
  }
}
