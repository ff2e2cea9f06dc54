/**
 * The revision rows of Wharf's revisioned documents: `package_documents` (npm packuments) and `helm_channels` (Helm
 * indexes). The only SQL that moves a revision, besides migration 003's Helm triggers; the rule for when it is called
 * is in `src/services/documents/revisions.ts`, whose `RevisionStore` this implements.
 */
import { sql } from 'kysely';
import { PreparedQuery } from '../prepared.js';
import type { DocumentKey, HelmIndexKey, PackumentKey } from '../../../services/documents/revisions.js';
import type { Db } from './types.js';

/** Read on every packument request (and every 304): compiled once (see `prepared.ts`). */
const PACKUMENT_STATE = new PreparedQuery((db, projectId: number, name: string) =>
  db
    .selectFrom('package_documents')
    .select(['revision', 'modified_at', 'built_revision', 'built_for', 'version_count'])
    .where('project_id', '=', projectId)
    .where('package_type', '=', 'npm')
    .where('package_name', '=', name),
);

export class DocumentRevisionsRepository {
  async bump(db: Db, key: DocumentKey, now: string): Promise<number> {
    if (key.kind === 'packument') {
      const row = await db
        .insertInto('package_documents')
        .values({ project_id: key.projectId, package_type: 'npm', package_name: key.name, revision: 1, modified_at: now, version_count: 0 })
        .onConflict((oc) =>
          oc.columns(['project_id', 'package_type', 'package_name']).doUpdateSet({
            revision: sql<number>`package_documents.revision + 1`,
            modified_at: now,
          }),
        )
        .returning('revision')
        .executeTakeFirstOrThrow();
      return row.revision;
    }
    // Taking the row lock here makes concurrent writers of one channel queue behind each other until commit.
    const row = await db
      .insertInto('helm_channels')
      .values({ project_id: key.projectId, channel: key.channel, revision: 1, modified_at: now })
      .onConflict((oc) => oc.columns(['project_id', 'channel']).doUpdateSet({ revision: sql<number>`helm_channels.revision + 1`, modified_at: now }))
      .returning('revision')
      .executeTakeFirstOrThrow();
    return row.revision;
  }

  /** The conditional update is atomic on both dialects: of two writers expecting the same revision, one wins. */
  async bumpIfRevision(db: Db, key: PackumentKey, expected: number, now: string): Promise<boolean> {
    const r = await db
      .updateTable('package_documents')
      .set({ revision: sql<number>`revision + 1`, modified_at: now })
      .where('project_id', '=', key.projectId)
      .where('package_type', '=', 'npm')
      .where('package_name', '=', key.name)
      .where('revision', '=', expected)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** One indexed read: the current revision and whether the stored documents match it. */
  async packumentState(db: Db, key: PackumentKey) {
    return PACKUMENT_STATE.first(db, key.projectId, key.name);
  }

  /** The channel's revision and what its stored document was built for; undefined for a channel never written. */
  async helmIndexState(db: Db, key: HelmIndexKey) {
    return db
      .selectFrom('helm_channels')
      .select(['project_id', 'channel', 'revision', 'modified_at', 'built_revision', 'built_for', 'etag'])
      .where('project_id', '=', key.projectId)
      .where('channel', '=', key.channel)
      .executeTakeFirst();
  }
}
