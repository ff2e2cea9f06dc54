import { sql, type Insertable } from 'kysely';
import type {
  NpmMetadataTable,
  PackageFileRow,
  PackageFilesTable,
  PackageRow,
  PackagesTable,
  PackageStatus,
  PackageType,
} from '../schema.js';
import { isUniqueViolation, likeEscape, type Db } from './types.js';
import { PreparedQuery } from '../prepared.js';
import type {
  NpmMetadataRow,
  NpmSearchRow,
  NpmSearchScope,
  NpmTreeProject,
  NpmVersionRecord,
  TagRecord,
} from '../../../domain/records.js';

import { INSTALLABLE_STATUSES } from '../../../domain/records.js';

// Defined in the domain (Helm's upload asks it too); re-exported for the repositories that filter on it.
export { INSTALLABLE_STATUSES };

/** The newest installable file of that name: see `findInstallableFile`. */
const INSTALLABLE_FILE = new PreparedQuery((db, projectId: number, type: PackageType, name: string, fileName: string) =>
  db
    .selectFrom('packages as p')
    .innerJoin('package_files as f', 'f.package_id', 'p.id')
    .select([
      'p.id as p_id', 'p.project_id as p_project_id', 'p.package_type as p_package_type', 'p.name as p_name',
      'p.version as p_version', 'p.status as p_status', 'p.creator_id as p_creator_id', 'p.created_at as p_created_at',
      'p.updated_at as p_updated_at', 'f.id as f_id', 'f.file_name as f_file_name', 'f.size as f_size', 'f.sha1 as f_sha1',
      'f.sha256 as f_sha256', 'f.sha512 as f_sha512', 'f.blob_key as f_blob_key', 'f.channel as f_channel',
      'f.status as f_status', 'f.created_at as f_created_at',
    ])
    .where('p.project_id', '=', projectId)
    .where('p.package_type', '=', type)
    .where('p.name', '=', name)
    .where('p.status', 'in', INSTALLABLE_STATUSES)
    .where('f.file_name', '=', fileName)
    .where('f.status', '=', 'default')
    .orderBy('p.id', 'desc')
    .orderBy('f.id', 'desc'),
);

export class PackagesRepository {
  isUniqueViolation(err: unknown): boolean {
    return isUniqueViolation(err);
  }

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
   * GitLab's naming-convention uniqueness (docs/design/gitlab-compatibility.md#publish-checks, step 8c): does a live package with this name and version exist in
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
    return this.npmVersionsIn(db, [projectId], name);
  }

  /**
   * Installable npm versions of one name in several projects, oldest package first (so a later publish of the same
   * version in another project comes later, and wins when a group packument merges them), each with its newest
   * installable file.
   */
  async npmVersionsIn(db: Db, projectIds: readonly number[], name: string): Promise<NpmVersionRecord[]> {
    if (projectIds.length === 0) return [];
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
        'm.signatures',
        'm.trusted_publisher',
      ])
      .where('p.project_id', 'in', projectIds)
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

  /**
   * The projects of a namespace tree holding an installable npm package of exactly this name, with what access
   * decisions need and the package document's revision (docs/design/gitlab-compatibility.md#group-and-instance-metadata, step 2:
   * the caller's rights play no part here). One query; `last_package_id` orders projects by their newest package.
   */
  async npmProjectsInTree(db: Db, traversalPrefix: string, name: string): Promise<NpmTreeProject[]> {
    const rows = await db
      .selectFrom('packages as p')
      .innerJoin('projects as pr', 'pr.id', 'p.project_id')
      .innerJoin('namespaces as n', 'n.id', 'pr.namespace_id')
      .innerJoin('package_documents as d', (j) =>
        j.onRef('d.project_id', '=', 'p.project_id').onRef('d.package_name', '=', 'p.name').onRef('d.package_type', '=', 'p.package_type'),
      )
      .select((eb) => [
        'pr.id as project_id',
        'pr.visibility',
        'pr.package_registry_access_level',
        'n.traversal_ids',
        'd.revision',
        'd.modified_at',
        eb.fn.max<number>('p.id').as('last_package_id'),
      ])
      .where('p.package_type', '=', 'npm')
      .where('p.name', '=', name)
      .where('p.status', 'in', INSTALLABLE_STATUSES)
      // Traversal ids hold only digits and `/`: the prefix needs no LIKE escaping.
      .where('n.traversal_ids', 'like', `${traversalPrefix}%`)
      .groupBy(['pr.id', 'pr.visibility', 'pr.package_registry_access_level', 'n.traversal_ids', 'd.revision', 'd.modified_at'])
      .execute();
    return rows.map((r) => ({ ...r, revision: Number(r.revision), last_package_id: Number(r.last_package_id) }));
  }

  /** Installable npm packages (one row per version) of one name in one project, oldest first. */
  async npmPackagesOf(db: Db, projectId: number, name: string): Promise<PackageRow[]> {
    return db
      .selectFrom('packages')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('package_type', '=', 'npm')
      .where('name', '=', name)
      .where('status', 'in', INSTALLABLE_STATUSES)
      .orderBy('id', 'asc')
      .execute();
  }

  /**
   * `npm search` candidates: installable npm versions whose name or stored manifest contains every term
   * (case-insensitive), in one project, a namespace tree, or the whole instance. The manifest match is coarse (it
   * sees dependencies too); the search service narrows it to name, description and keywords.
   */
  async searchNpm(db: Db, scope: NpmSearchScope, terms: readonly string[], limit: number): Promise<NpmSearchRow[]> {
    let q = db
      .selectFrom('packages as p')
      .innerJoin('projects as pr', 'pr.id', 'p.project_id')
      .innerJoin('namespaces as n', 'n.id', 'pr.namespace_id')
      .innerJoin('npm_metadata as m', 'm.package_id', 'p.id')
      .select([
        'p.id as package_id',
        'p.project_id',
        'p.name',
        'p.version',
        'p.created_at',
        'm.package_json',
        'm.publisher',
        'pr.visibility',
        'pr.package_registry_access_level',
        'n.traversal_ids',
      ])
      .where('p.package_type', '=', 'npm')
      .where('p.status', 'in', INSTALLABLE_STATUSES);
    if (scope.kind === 'project') q = q.where('p.project_id', '=', scope.projectId);
    if (scope.kind === 'tree') q = q.where('n.traversal_ids', 'like', `${scope.traversalPrefix}%`);
    for (const term of terms) {
      const pattern = `%${likeEscape(term.toLowerCase())}%`;
      // SQLite has no default LIKE escape character, so the escape is always spelled out.
      q = q.where(sql<boolean>`(lower(p.name) like ${pattern} escape '\\' or lower(m.package_json) like ${pattern} escape '\\')`);
    }
    return q.orderBy('p.id', 'asc').limit(limit).execute();
  }

  /** The installable package holding this exact file name, newest first (GitLab's `by_name_and_file_name.last!`). */
  async findInstallableFile(
    db: Db,
    projectId: number,
    type: PackageType,
    name: string,
    fileName: string,
  ): Promise<{ package: PackageRow; file: PackageFileRow } | undefined> {
    // One query on the download path, compiled once: it runs for every tarball request.
    const row = await INSTALLABLE_FILE.first(db, projectId, type, name, fileName);
    if (!row) return undefined;
    return {
      package: {
        id: row.p_id, project_id: row.p_project_id, package_type: row.p_package_type, name: row.p_name, version: row.p_version,
        status: row.p_status, creator_id: row.p_creator_id, created_at: row.p_created_at, updated_at: row.p_updated_at,
      },
      file: {
        id: row.f_id, package_id: row.p_id, file_name: row.f_file_name, size: Number(row.f_size), sha1: row.f_sha1,
        sha256: row.f_sha256, sha512: row.f_sha512, blob_key: row.f_blob_key, channel: row.f_channel, status: row.f_status,
        created_at: row.f_created_at,
      },
    };
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

  /**
   * Tags of a name across several projects, least recently updated first: when a group packument merges them, the
   * most recently updated tag of a name wins (docs/design/gitlab-compatibility.md#packument-shape).
   */
  async tagsIn(db: Db, projectIds: readonly number[], name: string): Promise<TagRecord[]> {
    if (projectIds.length === 0) return [];
    return db
      .selectFrom('package_tags as t')
      .innerJoin('packages as p', 'p.id', 't.package_id')
      .select(['t.id', 't.tag', 't.package_id', 'p.version', 't.updated_at'])
      .where('t.project_id', 'in', projectIds)
      .where('t.package_name', '=', name)
      .where('p.status', 'in', INSTALLABLE_STATUSES)
      .orderBy('t.updated_at', 'asc')
      .orderBy('t.id', 'asc')
      .execute();
  }

  /** The `latest` tags of these packages' names in their projects (for search results). */
  async latestTags(db: Db, projectIds: readonly number[]): Promise<Array<{ project_id: number; package_name: string; version: string; updated_at: string }>> {
    if (projectIds.length === 0) return [];
    return db
      .selectFrom('package_tags as t')
      .innerJoin('packages as p', 'p.id', 't.package_id')
      .select(['t.project_id', 't.package_name', 'p.version', 't.updated_at'])
      .where('t.project_id', 'in', projectIds)
      .where('t.tag', '=', 'latest')
      .where('p.status', 'in', INSTALLABLE_STATUSES)
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

  /** Which of `names` are npm packages in any project, in any status (the audit forwarding keeps them in). */
  async npmNamesAmong(db: Db, names: readonly string[]): Promise<string[]> {
    if (names.length === 0) return [];
    const rows = await db.selectFrom('packages').select('name').distinct().where('package_type', '=', 'npm').where('name', 'in', names).execute();
    return rows.map((r) => r.name);
  }
}
