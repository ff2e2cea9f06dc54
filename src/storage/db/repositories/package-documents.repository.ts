import { sql } from 'kysely';
import { PreparedQuery } from '../prepared.js';
import type { PackageType } from '../schema.js';
import type { Db } from './types.js';

export interface DocumentKey {
  projectId: number;
  type: PackageType;
  name: string;
}

export interface DocumentState {
  revision: number;
  modified_at: string;
  built_revision: number | null;
  built_for: string | null;
  version_count: number;
}

export interface StoredDocuments {
  full_doc: string | null;
  abbreviated_doc: string | null;
}

const where = <Q extends { where: (...args: any[]) => Q }>(q: Q, key: DocumentKey): Q =>
  q.where('project_id', '=', key.projectId).where('package_type', '=', key.type).where('package_name', '=', key.name);

/** Read on every packument request (and every 304): compiled once (see `prepared.ts`). */
const DOCUMENT_STATE = new PreparedQuery((db, projectId: number, type: PackageType, name: string) =>
  db
    .selectFrom('package_documents')
    .select(['revision', 'modified_at', 'built_revision', 'built_for', 'version_count'])
    .where('project_id', '=', projectId)
    .where('package_type', '=', type)
    .where('package_name', '=', name),
);

/**
 * The per-package revision and its prebuilt documents. Every write that changes what a package's document shows
 * calls `bump` inside its own transaction, so a reader that sees the new rows also sees the new revision.
 */
export class PackageDocumentsRepository {
  async bump(db: Db, key: DocumentKey, now: string): Promise<void> {
    await db
      .insertInto('package_documents')
      .values({
        project_id: key.projectId,
        package_type: key.type,
        package_name: key.name,
        revision: 1,
        modified_at: now,
        version_count: 0,
      })
      .onConflict((oc) =>
        oc.columns(['project_id', 'package_type', 'package_name']).doUpdateSet({
          revision: sql<number>`package_documents.revision + 1`,
          modified_at: now,
        }),
      )
      .execute();
  }

  /**
   * Optimistic locking for the `-rev` writes of `npm unpublish`: moves the revision on only if it still is
   * `expected`. The conditional update is atomic on both dialects, so of two writers holding the same `_rev`
   * exactly one wins; false means the other did.
   */
  async bumpIfRevision(db: Db, key: DocumentKey, expected: number, now: string): Promise<boolean> {
    const r = await where(db.updateTable('package_documents').set({ revision: sql<number>`revision + 1`, modified_at: now }), key)
      .where('revision', '=', expected)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** One indexed read: the current revision and whether the stored documents match it. */
  async state(db: Db, key: DocumentKey): Promise<DocumentState | undefined> {
    return DOCUMENT_STATE.first(db, key.projectId, key.type, key.name);
  }

  async documents(db: Db, key: DocumentKey, revision: number): Promise<StoredDocuments | undefined> {
    return where(db.selectFrom('package_documents').select(['full_doc', 'abbreviated_doc']), key)
      .where('built_revision', '=', revision)
      .executeTakeFirst();
  }

  /** Stores documents built for `revision`; a no-op when a write has moved the revision on meanwhile. */
  async store(
    db: Db,
    key: DocumentKey,
    revision: number,
    doc: { builtFor: string; versionCount: number; full: string; abbreviated: string },
  ): Promise<void> {
    await where(
      db.updateTable('package_documents').set({
        built_revision: revision,
        built_for: doc.builtFor,
        version_count: doc.versionCount,
        full_doc: doc.full,
        abbreviated_doc: doc.abbreviated,
      }),
      key,
    )
      .where('revision', '=', revision)
      .execute();
  }
}
