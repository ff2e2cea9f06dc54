import { sql, type Kysely, type Migration } from 'kysely';
import type { DialectName } from '../database.js';
import { idColumn } from './001-identity.js';

/**
 * Packages, their files, npm version metadata, dist-tags, and the per-package document revisions that let reads
 * serve prebuilt packuments (docs/design/gitlab-compatibility.md#metadata-caches).
 *
 * Uniqueness lives in the database, not in application checks, so two processes publishing the same version at
 * the same instant cannot both succeed: `packages_unique_version_idx` refuses the second insert.
 */
export const migration002 = (dialect: DialectName): Migration => ({
  async up(db: Kysely<any>) {
    const id = idColumn(dialect);
    // Sizes can pass 2 GiB in principle; PostgreSQL's int4 would not hold them (SQLite integers are 64-bit anyway).
    const bigint = dialect === 'postgres' ? 'bigint' : 'integer';

    await db.schema
      .createTable('packages')
      .addColumn('id', 'integer', id)
      .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('package_type', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull().defaultTo('default'))
      .addColumn('creator_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    // A version exists once per project and type. Rows on their way out (`pending_destruction`) do not count, so
    // a deleted version can be published again, as in GitLab.
    await db.schema
      .createIndex('packages_unique_version_idx')
      .on('packages')
      .columns(['project_id', 'package_type', 'name', 'version'])
      .unique()
      .where(sql.ref('status'), '<>', 'pending_destruction')
      .execute();
    // Group and instance endpoints look a name up across many projects.
    await db.schema.createIndex('packages_type_name_idx').on('packages').columns(['package_type', 'name']).execute();

    await db.schema
      .createTable('package_files')
      .addColumn('id', 'integer', id)
      .addColumn('package_id', 'integer', (c) => c.notNull().references('packages.id').onDelete('cascade'))
      .addColumn('file_name', 'text', (c) => c.notNull())
      .addColumn('size', bigint, (c) => c.notNull())
      .addColumn('sha1', 'text', (c) => c.notNull())
      .addColumn('sha256', 'text', (c) => c.notNull())
      .addColumn('sha512', 'text', (c) => c.notNull())
      // Blobs are content-addressed: the key is the SHA-256, kept separately so a store could change its scheme.
      .addColumn('blob_key', 'text', (c) => c.notNull())
      // Helm only; null for npm.
      .addColumn('channel', 'text')
      .addColumn('status', 'text', (c) => c.notNull().defaultTo('default'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('package_files_package_idx').on('package_files').columns(['package_id', 'file_name']).execute();
    // `gc` asks whether any row still references a blob.
    await db.schema.createIndex('package_files_blob_idx').on('package_files').column('blob_key').execute();

    await db.schema
      .createTable('npm_metadata')
      .addColumn('package_id', 'integer', (c) => c.primaryKey().references('packages.id').onDelete('cascade'))
      // The version object of the publish body (JSON), minus the bulky fields GitLab drops (readme etc.).
      .addColumn('package_json', 'text', (c) => c.notNull())
      .addColumn('readme', 'text')
      .addColumn('readme_filename', 'text')
      // Who published it (a username or a deploy token's username): the packument's `_npmUser` and `maintainers`.
      .addColumn('publisher', 'text')
      .execute();

    await db.schema
      .createTable('package_tags')
      .addColumn('id', 'integer', id)
      .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('package_name', 'text', (c) => c.notNull())
      .addColumn('tag', 'text', (c) => c.notNull())
      .addColumn('package_id', 'integer', (c) => c.notNull().references('packages.id').onDelete('cascade'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('package_tags_unique_idx')
      .on('package_tags')
      .columns(['project_id', 'package_name', 'tag'])
      .unique()
      .execute();
    await db.schema.createIndex('package_tags_package_idx').on('package_tags').column('package_id').execute();

    // One row per (project, type, name): `revision` changes in the same transaction as every write that changes
    // the package's document, and the prebuilt document is trusted only while `built_revision` equals it.
    await db.schema
      .createTable('package_documents')
      .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('package_type', 'text', (c) => c.notNull())
      .addColumn('package_name', 'text', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .addColumn('modified_at', 'text', (c) => c.notNull())
      .addColumn('built_revision', 'integer')
      // The external URL the documents were built for: they embed absolute tarball URLs.
      .addColumn('built_for', 'text')
      .addColumn('version_count', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('full_doc', 'text')
      .addColumn('abbreviated_doc', 'text')
      .addPrimaryKeyConstraint('package_documents_pk', ['project_id', 'package_type', 'package_name'])
      .execute();
  },
  async down() {
    throw new Error('Wharf migrations are forward-only; restore a backup to go back.');
  },
});
