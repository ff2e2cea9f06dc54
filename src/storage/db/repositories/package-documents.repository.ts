import type { PackumentKey } from '../../../services/documents/revisions.js';
import type { PackumentsToStore, StoredPackuments } from '../../../services/npm/metadata.service.js';
import type { Db } from './types.js';

const where = <Q extends { where: (...args: any[]) => Q }>(q: Q, key: PackumentKey): Q =>
  q.where('project_id', '=', key.projectId).where('package_type', '=', 'npm').where('package_name', '=', key.name);

/**
 * The prebuilt packuments stored next to a package's revision (the metadata service's `PackumentStorePort`). The
 * revision itself is moved only through `DocumentRevisionsRepository` (the rule: `src/services/documents/revisions.ts`).
 */
export class PackageDocumentsRepository {
  async documents(db: Db, key: PackumentKey, revision: number): Promise<StoredPackuments | undefined> {
    return where(db.selectFrom('package_documents').select(['full_doc', 'abbreviated_doc']), key)
      .where('built_revision', '=', revision)
      .executeTakeFirst();
  }

  /** Stores documents built for `revision`; a no-op when a write has moved the revision on meanwhile. */
  async store(
    db: Db,
    key: PackumentKey,
    revision: number,
    doc: PackumentsToStore,
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
