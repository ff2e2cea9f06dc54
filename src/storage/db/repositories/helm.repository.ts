/**
 * SQL for Helm charts: the shared `packages` / `package_files` rows of type `helm`, their `helm_file_metadata`, and
 * the per-channel revision and cached `index.yaml` in `helm_channels` (migration 003).
 *
 * Conditions on `status` are spelled as SQL literals where a partial index has the same literal in its predicate,
 * so both SQLite and PostgreSQL can prove the index applies.
 */
import { sql, type Insertable } from 'kysely';
import type { PackageFileRow, PackageFilesTable, PackageRow } from '../schema.js';
import { INSTALLABLE_STATUSES } from './packages.repository.js';
import { OciRepository } from './oci.repository.js';
import { isUniqueViolation, type Db } from './types.js';
import type { HelmFileKind, LiveHelmFile } from '../../../domain/records.js';

export type { HelmFileKind, LiveHelmFile };

const NOT_BEING_DESTROYED = sql<boolean>`p.status <> 'pending_destruction'`;

export class HelmRepository {
  /** Whether a write failed on a unique index (a concurrent writer committed first), whatever the driver. */
  isUniqueViolation(err: unknown): boolean {
    return isUniqueViolation(err);
  }

  /** The channel's revision now (inside a transaction: including the bumps its own triggers made). */
  async channelRevision(db: Db, projectId: number, channel: string): Promise<number | undefined> {
    const row = await db.selectFrom('helm_channels').select('revision').where('project_id', '=', projectId).where('channel', '=', channel).executeTakeFirst();
    return row?.revision;
  }

  /** The cached document, only if it was built for exactly this revision and context. */
  async channelDocument(db: Db, projectId: number, channel: string, revision: number, builtFor: string): Promise<string | undefined> {
    const row = await db
      .selectFrom('helm_channels')
      .select('document')
      .where('project_id', '=', projectId)
      .where('channel', '=', channel)
      .where('built_revision', '=', revision)
      .where('revision', '=', revision)
      .where('built_for', '=', builtFor)
      .executeTakeFirst();
    return row?.document ?? undefined;
  }

  /**
   * Keeps a freshly built document, unless the channel moved on while it was being built (then the next reader
   * builds the newer one). Returns whether it was stored.
   */
  async storeChannelDocument(
    db: Db,
    projectId: number,
    channel: string,
    revision: number,
    builtFor: string,
    document: string,
    etag: string,
  ): Promise<boolean> {
    const r = await db
      .updateTable('helm_channels')
      .set({ built_revision: revision, built_for: builtFor, document, etag })
      .where('project_id', '=', projectId)
      .where('channel', '=', channel)
      .where('revision', '=', revision)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** The live (not being destroyed) Helm package with this name and version, creating it when there is none. */
  async ensurePackage(db: Db, projectId: number, name: string, version: string, creatorId: number | null, now: string): Promise<PackageRow> {
    // `do nothing` without a target covers the partial unique index of 002: a concurrent creator wins, we reuse its row.
    await db
      .insertInto('packages')
      .values({ project_id: projectId, package_type: 'helm', name, version, status: 'default', creator_id: creatorId, created_at: now, updated_at: now })
      .onConflict((oc) => oc.doNothing())
      .execute();
    const pkg = await this.findActivePackage(db, projectId, name, version);
    if (!pkg) throw new Error(`helm package ${name} ${version} vanished right after it was ensured`);
    return pkg;
  }

  async findActivePackage(db: Db, projectId: number, name: string, version: string): Promise<PackageRow | undefined> {
    return db
      .selectFrom('packages as p')
      .selectAll('p')
      .where('p.project_id', '=', projectId)
      .where('p.package_type', '=', 'helm')
      .where('p.name', '=', name)
      .where('p.version', '=', version)
      .where(NOT_BEING_DESTROYED)
      .executeTakeFirst();
  }

  /**
   * Marks the package as just changed, which also locks its row until commit, unless it is being destroyed (then
   * false: the caller starts over with a new package). Every Helm write locks the package before its channels, the
   * order the invalidation triggers of migration 003 take too.
   */
  async touchPackage(db: Db, packageId: number, now: string): Promise<boolean> {
    const r = await db
      .updateTable('packages')
      .set({ updated_at: now })
      .where('id', '=', packageId)
      .where('status', '<>', 'pending_destruction')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Live files of a package in one channel (a chart and maybe its provenance file). */
  async liveFiles(db: Db, packageId: number, channel: string): Promise<LiveHelmFile[]> {
    return db
      .selectFrom('package_files as f')
      .innerJoin('helm_file_metadata as h', 'h.package_file_id', 'f.id')
      .select(['f.id', 'f.file_name', 'f.sha256', 'h.kind', 'h.metadata'])
      .where('f.package_id', '=', packageId)
      .where('f.channel', '=', channel)
      .where('f.status', '=', 'default')
      .orderBy('f.id', 'asc')
      .execute();
  }

  async countLiveFiles(db: Db, packageId: number): Promise<number> {
    const r = await db
      .selectFrom('package_files')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('package_id', '=', packageId)
      .where('status', '=', 'default')
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Takes files out of every listing, their OCI manifests with them; their rows and blobs stay until `gc`. */
  async retireFiles(db: Db, fileIds: readonly number[]): Promise<void> {
    if (fileIds.length === 0) return;
    await db.updateTable('package_files').set({ status: 'pending_destruction' }).where('id', 'in', fileIds).execute();
    await new OciRepository().dropManifestsOfFiles(db, fileIds);
  }

  async retirePackage(db: Db, packageId: number, now: string): Promise<void> {
    await db.updateTable('packages').set({ status: 'pending_destruction', updated_at: now }).where('id', '=', packageId).execute();
    await new OciRepository().dropManifestsOfPackage(db, packageId);
  }

  async insertFile(
    db: Db,
    file: Insertable<PackageFilesTable> & { channel: string },
    helm: { projectId: number; kind: HelmFileKind; metadata: string },
  ): Promise<PackageFileRow> {
    const row = await db.insertInto('package_files').values(file).returningAll().executeTakeFirstOrThrow();
    await db
      .insertInto('helm_file_metadata')
      .values({ package_file_id: row.id, project_id: helm.projectId, channel: file.channel, kind: helm.kind, metadata: helm.metadata })
      .execute();
    // A new provenance file changes the chart's OCI manifest (its provenance layer): the recorded one goes.
    if (helm.kind === 'provenance') await new OciRepository().dropManifestsOfFiles(db, [row.id]);
    return row;
  }

  /** The live chart files of a channel, newest package first: just the ids, for indexes built from fragments. */
  async indexFileIds(db: Db, projectId: number, channel: string, limit: number | null): Promise<number[]> {
    let q = db
      .selectFrom('helm_file_metadata as h')
      .innerJoin('package_files as f', 'f.id', 'h.package_file_id')
      .innerJoin('packages as p', 'p.id', 'f.package_id')
      .select('f.id as file_id')
      .where('h.project_id', '=', projectId)
      .where('h.channel', '=', channel)
      .where('h.kind', '=', 'chart')
      .where('f.status', '=', 'default')
      .where('p.status', 'in', INSTALLABLE_STATUSES)
      .orderBy('p.id', 'desc');
    if (limit !== null) q = q.limit(limit);
    return (await q.execute()).map((r) => r.file_id);
  }

  /** What an index entry is rendered from, for the given chart files. */
  async indexEntries(db: Db, fileIds: readonly number[]): Promise<{ file_id: number; sha256: string; created_at: string; metadata: string }[]> {
    if (fileIds.length === 0) return [];
    return db
      .selectFrom('helm_file_metadata as h')
      .innerJoin('package_files as f', 'f.id', 'h.package_file_id')
      .select(['f.id as file_id', 'f.sha256', 'f.created_at', 'h.metadata'])
      .where('f.id', 'in', fileIds)
      .where('h.kind', '=', 'chart')
      .execute();
  }

  /**
   * The newest live file called `fileName` in the channel, looked up through the package's name and version (the
   * indexed way in); `candidates` are the (name, version) pairs the file name can stand for.
   */
  async findLiveFile(
    db: Db,
    projectId: number,
    channel: string,
    fileName: string,
    candidates: ReadonlyArray<{ name: string; version: string }>,
  ): Promise<PackageFileRow | undefined> {
    if (candidates.length === 0) return undefined;
    return db
      .selectFrom('packages as p')
      .innerJoin('package_files as f', 'f.package_id', 'p.id')
      .selectAll('f')
      .where('p.project_id', '=', projectId)
      .where('p.package_type', '=', 'helm')
      .where((eb) => eb.or(candidates.map((c) => eb.and([eb('p.name', '=', c.name), eb('p.version', '=', c.version)]))))
      .where(NOT_BEING_DESTROYED)
      .where('p.status', 'in', INSTALLABLE_STATUSES)
      .where('f.file_name', '=', fileName)
      .where('f.channel', '=', channel)
      .where('f.status', '=', 'default')
      .orderBy('f.id', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  /** Does any package file still reference this blob? */
  async blobReferenced(db: Db, blobKey: string): Promise<boolean> {
    const row = await db.selectFrom('package_files').select('id').where('blob_key', '=', blobKey).limit(1).executeTakeFirst();
    return row !== undefined;
  }
}
