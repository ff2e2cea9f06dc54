import { sql, type Insertable } from 'kysely';
import type {
  NpmMetadataRow,
  NpmMetadataTable,
  PackageFileRow,
  PackageFilesTable,
  PackageRow,
  PackagesTable,
  PackageStatus,
  PackageType,
} from '../schema.js';
import type { Db } from './types.js';

/** `INSTALLABLE_STATUSES` (gitlab-api.md Appendix B): what packuments, tags and downloads see. */
export const INSTALLABLE_STATUSES: readonly PackageStatus[] = ['default', 'hidden', 'deprecated'];

/** One installable npm version with its newest installable file and its stored metadata. */
export interface NpmVersionRecord {
  package_id: number;
  project_id: number;
  version: string;
  status: PackageStatus;
  created_at: string;
  file_name: string;
  package_json: string;
  readme: string | null;
  readme_filename: string | null;
  publisher: string | null;
}

export interface TagRecord {
  id: number;
  tag: string;
  package_id: number;
  version: string;
  updated_at: string;
}

export class PackagesRepository {
  /** The version as the duplicate checks see it: anything but `pending_destruction` counts. */
  async findActive(db: Db, projectId: number, type: PackageType, name: string, version: string): Promise<PackageRow | undefined> {
    return db
      .selectFrom('packages')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('package_type', '=', type)
      .where('name', '=', name)
      .where('version', '=', version)
      .where('status', '<>', 'pending_destruction')
      .executeTakeFirst();
  }

  async findInstallable(db: Db, projectId: number, type: PackageType, name: string, version: string): Promise<PackageRow | undefined> {
    return db
      .selectFrom('packages')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('package_type', '=', type)
      .where('name', '=', name)
      .where('version', '=', version)
      .where('status', 'in', INSTALLABLE_STATUSES)
      .orderBy('id', 'desc')
      .executeTakeFirst();
  }

  async insertPackage(db: Db, row: Insertable<PackagesTable>): Promise<PackageRow> {
    return db.insertInto('packages').values(row).returningAll().executeTakeFirstOrThrow();
  }

  async insertFile(db: Db, row: Insertable<PackageFilesTable>): Promise<PackageFileRow> {
    return db.insertInto('package_files').values(row).returningAll().executeTakeFirstOrThrow();
  }

  async insertNpmMetadata(db: Db, row: Insertable<NpmMetadataTable>): Promise<void> {
    await db.insertInto('npm_metadata').values(row).execute();
  }

  async updatePackage(db: Db, id: number, patch: { status?: PackageStatus; updated_at: string }): Promise<void> {
    await db.updateTable('packages').set(patch).where('id', '=', id).execute();
  }

  async npmMetadata(db: Db, packageId: number): Promise<NpmMetadataRow | undefined> {
    return db.selectFrom('npm_metadata').selectAll().where('package_id', '=', packageId).executeTakeFirst();
  }

  async updateNpmPackageJson(db: Db, packageId: number, packageJson: string): Promise<void> {
    await db.updateTable('npm_metadata').set({ package_json: packageJson }).where('package_id', '=', packageId).execute();
  }

  /** The newest installable file of a package (a publish writes one; re-uploads may add more). */
  async newestFile(db: Db, packageId: number): Promise<PackageFileRow | undefined> {
    return db
      .selectFrom('package_files')
      .selectAll()
      .where('package_id', '=', packageId)
      .where('status', '=', 'default')
      .orderBy('id', 'desc')
      .executeTakeFirst();
  }

  /**
   * GitLab's naming-convention uniqueness (§5.1.3 8c): does a live package with this name and version exist in
   * another project under the same root namespace? Traversal ids hold only digits and `/`, so the prefix match
   * needs no LIKE escaping.
   */
  async existsElsewhereInRoot(db: Db, rootNamespaceId: number, projectId: number, type: PackageType, name: string, version: string): Promise<boolean> {
    const row = await db
      .selectFrom('packages')
      .innerJoin('projects', 'projects.id', 'packages.project_id')
      .innerJoin('namespaces', 'namespaces.id', 'projects.namespace_id')
      .select('packages.id')
      .where('packages.package_type', '=', type)
      .where('packages.name', '=', name)
      .where('packages.version', '=', version)
      .where('packages.status', '<>', 'pending_destruction')
      .where('packages.project_id', '<>', projectId)
      .where('namespaces.traversal_ids', 'like', `${rootNamespaceId}/%`)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Installable npm versions of one name in one project, oldest first, each with its newest installable file. */
  async npmVersions(db: Db, projectId: number, name: string): Promise<NpmVersionRecord[]> {
    const rows = await db
      .selectFrom('packages as p')
      .innerJoin('package_files as f', 'f.package_id', 'p.id')
      .innerJoin('npm_metadata as m', 'm.package_id', 'p.id')
      .select([
        'p.id as package_id',
        'p.project_id',
        'p.version',
        'p.status',
        'p.created_at',
        'f.file_name',
        'm.package_json',
        'm.readme',
        'm.readme_filename',
        'm.publisher',
      ])
      .where('p.project_id', '=', projectId)
      .where('p.package_type', '=', 'npm')
      .where('p.name', '=', name)
      .where('p.status', 'in', INSTALLABLE_STATUSES)
      .where('f.status', '=', 'default')
      .orderBy('p.id', 'asc')
      .orderBy('f.id', 'asc')
      .execute();
    // Rows come per file; the last one of each package is its newest file.
    const byPackage = new Map<number, NpmVersionRecord>();
    for (const r of rows) byPackage.set(r.package_id, r);
    return [...byPackage.values()];
  }

  /** The installable package holding this exact file name, newest first (GitLab's `by_name_and_file_name.last!`). */
  async findInstallableFile(
    db: Db,
    projectId: number,
    type: PackageType,
    name: string,
    fileName: string,
  ): Promise<{ package: PackageRow; file: PackageFileRow } | undefined> {
    const row = await db
      .selectFrom('packages as p')
      .innerJoin('package_files as f', 'f.package_id', 'p.id')
      .select(['p.id as package_id', 'f.id as file_id'])
      .where('p.project_id', '=', projectId)
      .where('p.package_type', '=', type)
      .where('p.name', '=', name)
      .where('p.status', 'in', INSTALLABLE_STATUSES)
      .where('f.file_name', '=', fileName)
      .where('f.status', '=', 'default')
      .orderBy('p.id', 'desc')
      .orderBy('f.id', 'desc')
      .executeTakeFirst();
    if (!row) return undefined;
    const pkg = await db.selectFrom('packages').selectAll().where('id', '=', row.package_id).executeTakeFirstOrThrow();
    const file = await db.selectFrom('package_files').selectAll().where('id', '=', row.file_id).executeTakeFirstOrThrow();
    return { package: pkg, file };
  }

  // --- dist-tags -------------------------------------------------------------------------------------------

  /** Tags of a name in a project that point at installable packages, oldest tag first. */
  async tags(db: Db, projectId: number, name: string): Promise<TagRecord[]> {
    return db
      .selectFrom('package_tags as t')
      .innerJoin('packages as p', 'p.id', 't.package_id')
      .select(['t.id', 't.tag', 't.package_id', 'p.version', 't.updated_at'])
      .where('t.project_id', '=', projectId)
      .where('t.package_name', '=', name)
      .where('p.status', 'in', INSTALLABLE_STATUSES)
      .orderBy('t.id', 'asc')
      .execute();
  }

  /** Creates the tag, or moves it (same row, new package) when the name already has it — GitLab's `CreateTagService`. */
  async upsertTag(db: Db, projectId: number, name: string, tag: string, packageId: number, now: string): Promise<void> {
    await db
      .insertInto('package_tags')
      .values({ project_id: projectId, package_name: name, tag, package_id: packageId, created_at: now, updated_at: now })
      .onConflict((oc) => oc.columns(['project_id', 'package_name', 'tag']).doUpdateSet({ package_id: packageId, updated_at: now }))
      .execute();
  }

  async findTag(db: Db, projectId: number, name: string, tag: string): Promise<{ id: number; package_id: number } | undefined> {
    return db
      .selectFrom('package_tags')
      .select(['id', 'package_id'])
      .where('project_id', '=', projectId)
      .where('package_name', '=', name)
      .where('tag', '=', tag)
      .executeTakeFirst();
  }

  async deleteTag(db: Db, id: number): Promise<void> {
    await db.deleteFrom('package_tags').where('id', '=', id).execute();
  }

  /** Does any package row still reference this blob? (`gc` and replaced uploads.) */
  async blobReferenced(db: Db, blobKey: string): Promise<boolean> {
    const row = await db.selectFrom('package_files').select(sql<number>`1`.as('one')).where('blob_key', '=', blobKey).executeTakeFirst();
    return row !== undefined;
  }
}
