import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../database.js';

/**
 * Two changes for speed.
 *
 * Downloads look a file up by its exact name. Without this index the lookup walked every version of the package
 * (the `(package_type, name)` index) and probed each one's files: a tarball request of a 300-version package cost
 * ~100 µs of SQLite time instead of ~5 µs. File names are nearly unique, so the name alone is a selective key.
 *
 * On the embedded SQLite, built `index.yaml` documents are no longer kept in `helm_channels` (there is no other
 * instance to share them with). The ones earlier versions stored are dropped: SQLite rewrites a whole row on every
 * update, so each upload's revision bump rewrote a channel's multi-megabyte document.
 */
export const migration005 = (dialect: DialectName): Migration => ({
  async up(db: Kysely<any>) {
    await db.schema.createIndex('package_files_file_name_idx').on('package_files').column('file_name').execute();
    if (dialect === 'sqlite') {
      await db.updateTable('helm_channels').set({ document: null, built_revision: null, built_for: null, etag: null }).execute();
    }
  },
  async down() {
    throw new Error('Wharf migrations are forward-only; restore a backup to go back.');
  },
});
