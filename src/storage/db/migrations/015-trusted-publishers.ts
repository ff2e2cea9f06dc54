import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../database.js';
import { idColumn } from './001-identity.js';

/**
 * Trusted publishing (docs/design/trusted-publishing.md): `npm_trusted_publishers`, the CI pipelines a project
 * trusts to publish without a stored secret (an issuer, the claims its ID token must carry, the names it may
 * publish), and `npm_metadata.trusted_publisher`, what a version published through one records
 * (`_npmUser.trustedPublisher`, JSON text; null for any other publish).
 */
export const migration015 = (dialect: DialectName): Migration => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('npm_trusted_publishers')
      .addColumn('id', 'integer', idColumn(dialect))
      .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('issuer', 'text', (c) => c.notNull())
      .addColumn('claims', 'text', (c) => c.notNull())
      .addColumn('package_name_pattern', 'text', (c) => c.notNull())
      .addColumn('created_by', 'integer')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    // The exchange looks publishers up by issuer; the API lists them by project.
    await db.schema.createIndex('npm_trusted_publishers_issuer').on('npm_trusted_publishers').column('issuer').execute();
    await db.schema.createIndex('npm_trusted_publishers_project').on('npm_trusted_publishers').column('project_id').execute();
    await db.schema.alterTable('npm_metadata').addColumn('trusted_publisher', 'text').execute();
  },
  async down() {
    throw new Error('Wharf migrations are forward-only; restore a backup to go back.');
  },
});
