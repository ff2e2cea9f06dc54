import { sql, type Kysely, type Migration } from 'kysely';
import type { DialectName } from '../database.js';

/**
 * The OCI distribution API's state (docs/design/helm-oci.md#tables), shared by every instance on the database:
 *
 * - `oci_upload_sessions`: open blob uploads. Each chunk received is a blob of its own (listed in `chunks`), so a
 *   chunked upload begun on one instance can be continued and completed on another.
 * - `oci_blobs`: which repositories may read a blob (the reference registry's per-repository links); the blob
 *   itself is the blob store's, shared by digest.
 *
 * - `oci_manifests`: the manifests of a repository, by digest (the bytes are a blob). A chart's manifest names the
 *   Helm package it stands for (`package_id`) and the chart file its chart layer is (`package_file_id`): a version
 *   re-uploaded under the overwrite policy retires the old file, and the manifest that served the old bytes must go
 *   with that file, not live on with the package. Retiring a package or a file deletes these rows in the retiring
 *   transaction (docs/design/helm-oci.md#deletion), so reads need no liveness join; the foreign keys only catch rows
 *   `gc` purges. A referrer (a signature or SBOM whose `subject` is a chart's manifest) carries the subject's
 *   digest, its artifact type, and the subject's package (and chart file), so it goes with the chart.
 * - `oci_manifest_blobs`: the blobs (config, layers) each manifest references, so a blob DELETE can refuse a blob a
 *   live manifest needs and `gc` can drop the repository links nothing references.
 * - `oci_tags`: tag → manifest digest, per repository; a tag goes with its manifest (foreign key).
 */
export const migration012 = (dialect: DialectName): Migration => ({
  async up(db: Kysely<any>) {
    const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
    await db.schema
      .createTable('oci_upload_sessions')
      .addColumn('uuid', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('repository', 'text', (c) => c.notNull())
      .addColumn('size', bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('chunks', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('oci_upload_sessions_updated_idx').on('oci_upload_sessions').column('updated_at').execute();

    await db.schema
      .createTable('oci_blobs')
      .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('repository', 'text', (c) => c.notNull())
      .addColumn('sha256', 'text', (c) => c.notNull())
      .addColumn('size', bigint, (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('oci_blobs_pkey', ['project_id', 'repository', 'sha256'])
      .execute();
    await db.schema.createIndex('oci_blobs_sha256_idx').on('oci_blobs').column('sha256').execute();

    await db.schema
      .createTable('oci_manifests')
      .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('repository', 'text', (c) => c.notNull())
      .addColumn('sha256', 'text', (c) => c.notNull())
      .addColumn('media_type', 'text', (c) => c.notNull())
      .addColumn('size', bigint, (c) => c.notNull())
      .addColumn('package_id', 'integer', (c) => c.references('packages.id').onDelete('cascade'))
      .addColumn('package_file_id', 'integer', (c) => c.references('package_files.id').onDelete('cascade'))
      // The chart version of a chart's manifest; null for a referrer.
      .addColumn('chart_version', 'text')
      .addColumn('subject_sha256', 'text')
      .addColumn('artifact_type', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('oci_manifests_pkey', ['project_id', 'repository', 'sha256'])
      .execute();
    await db.schema.createIndex('oci_manifests_sha256_idx').on('oci_manifests').column('sha256').execute();
    await db.schema.createIndex('oci_manifests_package_idx').on('oci_manifests').column('package_id').execute();
    await db.schema.createIndex('oci_manifests_package_file_idx').on('oci_manifests').column('package_file_id').execute();
    await db.schema
      .createIndex('oci_manifests_subject_idx')
      .on('oci_manifests')
      .columns(['project_id', 'repository', 'subject_sha256'])
      .execute();

    await db.schema
      .createTable('oci_manifest_blobs')
      .addColumn('project_id', 'integer', (c) => c.notNull())
      .addColumn('repository', 'text', (c) => c.notNull())
      .addColumn('manifest_sha256', 'text', (c) => c.notNull())
      .addColumn('sha256', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('oci_manifest_blobs_pkey', ['project_id', 'repository', 'manifest_sha256', 'sha256'])
      .addForeignKeyConstraint(
        'oci_manifest_blobs_manifest_fk',
        ['project_id', 'repository', 'manifest_sha256'],
        'oci_manifests',
        ['project_id', 'repository', 'sha256'],
        (c) => c.onDelete('cascade'),
      )
      .execute();
    // "Does a manifest of this repository reference the blob?" (blob DELETE, `gc`).
    await db.schema.createIndex('oci_manifest_blobs_blob_idx').on('oci_manifest_blobs').columns(['project_id', 'repository', 'sha256']).execute();

    await db.schema
      .createTable('oci_tags')
      .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('repository', 'text', (c) => c.notNull())
      // Byte order on both databases, as the spec's lexical tags/list needs: SQLite compares text bytewise; a
      // PostgreSQL database's collation may not (en_US puts `_x` after `a`), so the column is `C` there. On the
      // column, not in the query, so the primary key still serves `order by tag` and `tag > last`.
      .addColumn('tag', dialect === 'postgres' ? sql`text collate "C"` : 'text', (c) => c.notNull())
      .addColumn('manifest_sha256', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('oci_tags_pkey', ['project_id', 'repository', 'tag'])
      .addForeignKeyConstraint('oci_tags_manifest_fk', ['project_id', 'repository', 'manifest_sha256'], 'oci_manifests', ['project_id', 'repository', 'sha256'], (c) =>
        c.onDelete('cascade'),
      )
      .execute();
  },
  async down() {
    throw new Error('Wharf migrations are forward-only; restore a backup to go back.');
  },
});
