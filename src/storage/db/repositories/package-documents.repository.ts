import type { PackageType } from '../schema.js';
import type { Db } from './types.js';

export interface DocumentKey {
  projectId: number;
  type: PackageType;
  name: string;
}

export interface StoredDocuments {
  full_doc: string | null;
  abbreviated_doc: string | null;
}

const where = <Q extends { where: (...args: any[]) => Q }>(q: Q, key: DocumentKey): Q =>
  q.where('project_id', '=', key.projectId).where('package_type', '=', key.type).where('package_name', '=', key.name);

/**
 * The prebuilt documents stored next to a package's revision. The revision itself is moved only through
 * `DocumentRevisionsRepository` (the rule: `src/services/documents/revisions.ts`).
 */
export class PackageDocumentsRepository {
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
