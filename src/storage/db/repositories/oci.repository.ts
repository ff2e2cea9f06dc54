/**
 * The OCI distribution API's rows (migration 012); implements `OciBlobsStore` (`services/oci/blobs.service.ts`),
 * `OciManifestsStore` (`services/oci/manifests.service.ts`) and `OciReferrersStore` (`services/oci/referrers.service.ts`).
 */
import { sql, type ExpressionBuilder } from 'kysely';
import { INSTALLABLE_STATUSES, type OciBlobRow, type OciManifestRow, type OciTagRow, type OciUploadSessionRow } from '../../../domain/records.js';
import type { DialectName } from '../database.js';
import { PreparedQuery } from '../prepared.js';
import type { Database } from '../schema.js';
import type { Db } from './types.js';

/** Asked by every blob pull (on PostgreSQL, every time): compiled once, then only bound (`prepared.ts`). */
const BLOB_LINK = new PreparedQuery((db, projectId: number, repository: string, sha256: string) =>
  db.selectFrom('oci_blobs').selectAll().where('project_id', '=', projectId).where('repository', '=', repository).where('sha256', '=', sha256),
);

/** A live chart file of a channel, with what its OCI manifest is computed from (`OciManifestsStore.classicChart`). */
export interface ClassicChartRow {
  packageId: number;
  chart: { id: number; sha256: string; size: number; metadata: string };
  provenance: { id: number; sha256: string; size: number } | undefined;
}

export class OciRepository {
  readonly #dialect: DialectName | undefined;

  /**
   * The dialect is needed only to list tags (PostgreSQL compares text by its collation, tags are listed in byte
   * order); the deletion paths that drop OCI rows construct one without it.
   */
  constructor(dialect?: DialectName) {
    this.#dialect = dialect;
  }

  /**
   * `oci_tags.tag` is `collate "C"` on PostgreSQL (migration 012); a version computed from `packages.version` gets the
   * same collation, or a UNION of the two has none PostgreSQL can order by. SQLite compares bytes already.
   */
  #bytewise(expr: ReturnType<typeof sql<string>>) {
    if (this.#dialect === undefined) throw new Error('OciRepository lists tags only when constructed with its dialect');
    return this.#dialect === 'postgres' ? sql<string>`${expr} collate "C"` : expr;
  }

  async blob(db: Db, projectId: number, repository: string, sha256: string): Promise<OciBlobRow | undefined> {
    const row = await BLOB_LINK.first(db, projectId, repository, sha256);
    return row && { ...row, size: Number(row.size) };
  }

  /**
   * Links the blob to the repository. Linking it again moves `created_at` on: `gc` drops links no manifest
   * references once older than its grace period, and a client that has just pushed (or re-pushed) a blob is about to
   * push the manifest that references it.
   */
  async linkBlob(db: Db, row: OciBlobRow): Promise<void> {
    await db
      .insertInto('oci_blobs')
      .values(row)
      .onConflict((oc) => oc.columns(['project_id', 'repository', 'sha256']).doUpdateSet({ created_at: row.created_at }))
      .execute();
  }

  /** Removes the repository's link to the blob; false when there was none. */
  async unlinkBlob(db: Db, projectId: number, repository: string, sha256: string): Promise<boolean> {
    const r = await db
      .deleteFrom('oci_blobs')
      .where('project_id', '=', projectId)
      .where('repository', '=', repository)
      .where('sha256', '=', sha256)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** A manifest of the repository that references the blob (any: they are all live, retired ones are deleted). */
  async manifestReferencing(db: Db, projectId: number, repository: string, sha256: string): Promise<string | undefined> {
    const row = await db
      .selectFrom('oci_manifest_blobs')
      .select('manifest_sha256')
      .where('project_id', '=', projectId)
      .where('repository', '=', repository)
      .where('sha256', '=', sha256)
      .limit(1)
      .executeTakeFirst();
    return row?.manifest_sha256;
  }

  async createSession(db: Db, row: OciUploadSessionRow): Promise<void> {
    await db.insertInto('oci_upload_sessions').values(row).execute();
  }

  async session(db: Db, uuid: string): Promise<OciUploadSessionRow | undefined> {
    const row = await db.selectFrom('oci_upload_sessions').selectAll().where('uuid', '=', uuid).executeTakeFirst();
    return row && { ...row, size: Number(row.size) };
  }

  async appendChunk(db: Db, uuid: string, expectedSize: number, chunks: string, size: number, now: string): Promise<boolean> {
    const r = await db
      .updateTable('oci_upload_sessions')
      .set({ chunks, size, updated_at: now })
      .where('uuid', '=', uuid)
      .where('size', '=', expectedSize)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async deleteSession(db: Db, uuid: string): Promise<boolean> {
    const r = await db.deleteFrom('oci_upload_sessions').where('uuid', '=', uuid).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }

  async manifest(db: Db, projectId: number, repository: string, sha256: string): Promise<OciManifestRow | undefined> {
    const row = await db
      .selectFrom('oci_manifests')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('repository', '=', repository)
      .where('sha256', '=', sha256)
      .executeTakeFirst();
    return row && { ...row, size: Number(row.size) };
  }

  async tag(db: Db, projectId: number, repository: string, tag: string): Promise<OciTagRow | undefined> {
    return db
      .selectFrom('oci_tags')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('repository', '=', repository)
      .where('tag', '=', tag)
      .executeTakeFirst();
  }

  /** Referrers of a subject (`OciReferrersStore`), by digest; the subject index serves the lookup. */
  async referrers(
    db: Db,
    projectId: number,
    repository: string,
    subjectSha256: string,
    page: { artifactType: string | undefined; after: string | undefined; limit: number },
  ): Promise<OciManifestRow[]> {
    let q = db
      .selectFrom('oci_manifests')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('repository', '=', repository)
      .where('subject_sha256', '=', subjectSha256);
    if (page.artifactType !== undefined) q = q.where('artifact_type', '=', page.artifactType);
    if (page.after !== undefined) q = q.where('sha256', '>', page.after);
    const rows = await q.orderBy('sha256').limit(page.limit).execute();
    return rows.map((row) => ({ ...row, size: Number(row.size) }));
  }

  /** Records the manifest, once per digest. */
  async insertManifest(db: Db, row: OciManifestRow): Promise<void> {
    await db
      .insertInto('oci_manifests')
      .values(row)
      .onConflict((oc) => oc.columns(['project_id', 'repository', 'sha256']).doNothing())
      .execute();
  }

  /** Records which blobs (config, layers) the manifest references; idempotent. */
  async linkManifestBlobs(db: Db, projectId: number, repository: string, manifestSha256: string, sha256s: readonly string[]): Promise<void> {
    const unique = [...new Set(sha256s)];
    if (unique.length === 0) return;
    await db
      .insertInto('oci_manifest_blobs')
      .values(unique.map((sha256) => ({ project_id: projectId, repository, manifest_sha256: manifestSha256, sha256 })))
      .onConflict((oc) => oc.columns(['project_id', 'repository', 'manifest_sha256', 'sha256']).doNothing())
      .execute();
  }

  /** Deletes the manifest (its tags and blob references go with it); false when it was already gone. */
  async deleteManifest(db: Db, projectId: number, repository: string, sha256: string): Promise<boolean> {
    const r = await db
      .deleteFrom('oci_manifests')
      .where('project_id', '=', projectId)
      .where('repository', '=', repository)
      .where('sha256', '=', sha256)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /**
   * The OCI side of retiring a package (`PackageDeletionRepository`, `HelmRepository`): its manifests, their tags
   * and referrers go in the same transaction, so no instance serves them a moment longer.
   */
  async dropManifestsOfPackage(db: Db, packageId: number): Promise<void> {
    await db.deleteFrom('oci_manifests').where('package_id', '=', packageId).execute();
  }

  /**
   * The OCI side of retiring files: the manifests of every chart file of the same package and channel go. A
   * retired chart takes the manifest whose layer it was; a retired provenance file takes the manifest of the chart
   * it signed (its provenance layer is no longer what the channel serves; the next read computes the new one).
   */
  async dropManifestsOfFiles(db: Db, fileIds: readonly number[]): Promise<void> {
    if (fileIds.length === 0) return;
    await db
      .deleteFrom('oci_manifests')
      .where('package_file_id', 'in', (eb) =>
        eb
          .selectFrom('package_files as f')
          .innerJoin('package_files as r', (j) => j.onRef('r.package_id', '=', 'f.package_id').onRef('r.channel', '=', 'f.channel'))
          .select('f.id')
          .where('r.id', 'in', fileIds),
      )
      .execute();
  }

  /**
   * The live chart `name` `version` of the channel, its metadata and provenance file: what a classic upload's
   * manifest is computed from. Undefined when the channel holds no such live chart.
   */
  async classicChart(db: Db, projectId: number, name: string, version: string, channel: string): Promise<ClassicChartRow | undefined> {
    const rows = await db
      .selectFrom('packages as p')
      .innerJoin('package_files as f', 'f.package_id', 'p.id')
      .innerJoin('helm_file_metadata as h', 'h.package_file_id', 'f.id')
      .select(['p.id as package_id', 'f.id', 'f.sha256', 'f.size', 'h.kind', 'h.metadata'])
      .where('p.project_id', '=', projectId)
      .where('p.package_type', '=', 'helm')
      .where('p.name', '=', name)
      .where('p.version', '=', version)
      .where('p.status', 'in', INSTALLABLE_STATUSES)
      .where('f.channel', '=', channel)
      .where('f.status', '=', 'default')
      .orderBy('f.id', 'desc')
      .execute();
    const chart = rows.find((r) => r.kind === 'chart');
    if (!chart) return undefined;
    const prov = rows.find((r) => r.kind === 'provenance' && r.package_id === chart.package_id);
    return {
      packageId: chart.package_id,
      chart: { id: chart.id, sha256: chart.sha256, size: Number(chart.size), metadata: chart.metadata },
      provenance: prov && { id: prov.id, sha256: prov.sha256, size: Number(prov.size) },
    };
  }

  /**
   * Locks the package row until commit, as uploads and deletes do first; false when it is being destroyed. (A no-op
   * write of a column no trigger watches: a row lock that works on both databases.)
   */
  async holdPackage(db: Db, packageId: number): Promise<boolean> {
    const r = await db
      .updateTable('packages')
      .set((eb) => ({ name: eb.ref('name') }))
      .where('id', '=', packageId)
      .where('status', '<>', 'pending_destruction')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * Locks the file rows until commit; false unless every one is still live. Rows recorded for them afterwards in
   * this transaction cannot outlive a concurrent retirement: that one waits for the lock, and its delete of the
   * files' manifests then sees them.
   */
  async holdLiveFiles(db: Db, fileIds: readonly number[]): Promise<boolean> {
    if (fileIds.length === 0) return true;
    const r = await db
      .updateTable('package_files')
      .set((eb) => ({ file_name: eb.ref('file_name') }))
      .where('id', 'in', fileIds)
      .where('status', '=', 'default')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === new Set(fileIds).size;
  }

  /** Adds the tag unless it exists: it then keeps the manifest it names. */
  async addTag(db: Db, row: OciTagRow): Promise<void> {
    await db
      .insertInto('oci_tags')
      .values(row)
      .onConflict((oc) => oc.columns(['project_id', 'repository', 'tag']).doNothing())
      .execute();
  }

  /** Points the tag at the manifest, wherever it pointed before. */
  async setTag(db: Db, row: OciTagRow): Promise<void> {
    await db
      .insertInto('oci_tags')
      .values(row)
      .onConflict((oc) => oc.columns(['project_id', 'repository', 'tag']).doUpdateSet({ manifest_sha256: row.manifest_sha256, updated_at: row.updated_at }))
      .execute();
  }

  /**
   * Tags in lexical (byte) order, after `last`, at most `limit`: the repository's own, and with `classic`, the versions
   * (`+` as `_`) of the live charts called `classic.chart` in `classic.channel`, whose manifests are computed on
   * first read.
   */
  async tags(
    db: Db,
    projectId: number,
    repository: string,
    last: string | undefined,
    limit: number,
    classic?: { chart: string; channel: string },
  ): Promise<string[]> {
    if (!classic) {
      let q = db.selectFrom('oci_tags').select('tag').where('project_id', '=', projectId).where('repository', '=', repository);
      if (last !== undefined) q = q.where('tag', '>', last);
      const rows = await q.orderBy('tag').limit(limit).execute();
      return rows.map((r) => r.tag);
    }
    const own = db.selectFrom('oci_tags').select('tag').where('project_id', '=', projectId).where('repository', '=', repository);
    const versions = db
      .selectFrom('packages as p')
      .innerJoin('package_files as f', 'f.package_id', 'p.id')
      .innerJoin('helm_file_metadata as h', 'h.package_file_id', 'f.id')
      .select(this.#bytewise(sql<string>`replace(p.version, '+', '_')`).as('tag'))
      .where('p.project_id', '=', projectId)
      .where('p.package_type', '=', 'helm')
      .where('p.name', '=', classic.chart)
      .where('p.status', 'in', INSTALLABLE_STATUSES)
      .where('f.channel', '=', classic.channel)
      .where('f.status', '=', 'default')
      .where('h.kind', '=', 'chart');
    // UNION, not UNION ALL: a version whose manifest is already recorded is one tag.
    let q = db.selectFrom(own.union(versions).as('t')).select('t.tag');
    if (last !== undefined) q = q.where('t.tag', '>', last);
    const rows = await q.orderBy('t.tag').limit(limit).execute();
    return rows.map((r) => r.tag);
  }

  // ---- `wharf gc`

  /** Upload sessions untouched since `before` (ISO time): deleted, or only counted in a dry run. */
  async expireUploads(db: Db, before: string, dryRun: boolean): Promise<number> {
    if (dryRun) {
      const r = await db.selectFrom('oci_upload_sessions').select((eb) => eb.fn.countAll<number>().as('n')).where('updated_at', '<', before).executeTakeFirstOrThrow();
      return Number(r.n);
    }
    const r = await db.deleteFrom('oci_upload_sessions').where('updated_at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /**
   * Repository links older than `before` that no manifest of their repository references: deleted (or counted), so
   * their blobs become collectable. Younger links may belong to a push whose manifest has not arrived yet.
   */
  async dropUnreferencedLinks(db: Db, before: string, dryRun: boolean): Promise<number> {
    const unreferenced = (eb: ExpressionBuilder<Database, 'oci_blobs'>) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('oci_manifest_blobs as m')
            .select(sql`1`.as('x'))
            .whereRef('m.project_id', '=', 'oci_blobs.project_id')
            .whereRef('m.repository', '=', 'oci_blobs.repository')
            .whereRef('m.sha256', '=', 'oci_blobs.sha256'),
        ),
      );
    if (dryRun) {
      const r = await db
        .selectFrom('oci_blobs')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('created_at', '<', before)
        .where(unreferenced)
        .executeTakeFirstOrThrow();
      return Number(r.n);
    }
    const r = await db.deleteFrom('oci_blobs').where('created_at', '<', before).where(unreferenced).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Whether a repository may read the blob, or an open upload holds it as a chunk (`wharf gc` keeps both). */
  async blobReferenced(db: Db, sha256: string): Promise<boolean> {
    const linked = await db.selectFrom('oci_blobs').select('sha256').where('sha256', '=', sha256).limit(1).executeTakeFirst();
    if (linked) return true;
    const manifest = await db.selectFrom('oci_manifests').select('sha256').where('sha256', '=', sha256).limit(1).executeTakeFirst();
    if (manifest) return true;
    // Chunk lists are small JSON arrays; `gc` is the only caller, once per stored blob.
    const chunk = await db.selectFrom('oci_upload_sessions').select('uuid').where('chunks', 'like', `%"${sha256}"%`).limit(1).executeTakeFirst();
    return chunk !== undefined;
  }
}
