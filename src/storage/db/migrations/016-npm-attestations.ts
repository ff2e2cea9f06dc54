import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../database.js';

/**
 * `npm_attestations`: the provenance bundle published with an npm version (`npm publish --provenance`,
 * docs/design/npm-provenance.md). The bundle's bytes are a content-addressed blob (`blob_key`, its SHA-256); this
 * row links the version to it, with what the packument and the package page show, computed once at publish time.
 *
 * One row per version: the row goes with its package (cascade, when `gc` purges a retired package), and the blob
 * then with the next `gc` that finds nothing referencing it.
 */
export const migration016 = (_dialect: DialectName): Migration => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('npm_attestations')
      .addColumn('package_id', 'integer', (c) => c.primaryKey().references('packages.id').onDelete('cascade'))
      .addColumn('predicate_type', 'text', (c) => c.notNull())
      .addColumn('blob_key', 'text', (c) => c.notNull())
      .addColumn('size', 'integer', (c) => c.notNull())
      // What the statement claims about the build (repository or project, run or job URL), for the package page.
      .addColumn('build_source', 'text')
      .addColumn('build_run', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    // gc asks whether a blob is still referenced.
    await db.schema.createIndex('npm_attestations_blob_key').on('npm_attestations').column('blob_key').execute();
  },
  async down() {
    throw new Error('Wharf migrations are forward-only; restore a backup to go back.');
  },
});
