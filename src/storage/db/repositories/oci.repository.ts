/**
 * The OCI distribution API's rows (migration 012); implements `OciBlobsStore` (`services/oci/blobs.service.ts`),
 * `OciManifestsStore` (`services/oci/manifests.service.ts`) and `OciReferrersStore` (`services/oci/referrers.service.ts`).
 */
import type { OciBlobRow, OciManifestRow, OciTagRow, OciUploadSessionRow } from '../../../domain/records.js';
import { PreparedQuery } from '../prepared.js';
import type { Db } from './types.js';

/** Asked by every blob pull (on PostgreSQL, every time): compiled once, then only bound (`prepared.ts`). */
const BLOB_LINK = new PreparedQuery((db, projectId: number, repository: string, sha256: string) =>
  db.selectFrom('oci_blobs').selectAll().where('project_id', '=', projectId).where('repository', '=', repository).where('sha256', '=', sha256),
);

export class OciRepository {
  async blob(db: Db, projectId: number, repository: string, sha256: string): Promise<OciBlobRow | undefined> {
    const row = await BLOB_LINK.first(db, projectId, repository, sha256);
    return row && { ...row, size: Number(row.size) };
  }

  async linkBlob(db: Db, row: OciBlobRow): Promise<void> {
    await db
      .insertInto('oci_blobs')
      .values(row)
      .onConflict((oc) => oc.columns(['project_id', 'repository', 'sha256']).doNothing())
      .execute();
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

  /** Points the tag at the manifest, wherever it pointed before. */
  async setTag(db: Db, row: OciTagRow): Promise<void> {
    await db
      .insertInto('oci_tags')
      .values(row)
      .onConflict((oc) => oc.columns(['project_id', 'repository', 'tag']).doUpdateSet({ manifest_sha256: row.manifest_sha256, updated_at: row.updated_at }))
      .execute();
  }

  /** Tags in lexical (byte) order, after `last`, at most `limit`: the column's collation is bytewise (migration 012). */
  async tags(db: Db, projectId: number, repository: string, last: string | undefined, limit: number): Promise<string[]> {
    let q = db.selectFrom('oci_tags').select('tag').where('project_id', '=', projectId).where('repository', '=', repository);
    if (last !== undefined) q = q.where('tag', '>', last);
    const rows = await q.orderBy('tag').limit(limit).execute();
    return rows.map((r) => r.tag);
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
