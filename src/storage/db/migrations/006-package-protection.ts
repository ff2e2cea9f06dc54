import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../database.js';
import { idColumn } from './001-identity.js';

/** Package protection rules (docs/design/gitlab-compatibility.md#protection-rules): who may push or delete the packages whose names match a pattern. */
export const migration006 = (dialect: DialectName): Migration => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('package_protection_rules')
      .addColumn('id', 'integer', idColumn(dialect))
      .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('package_type', 'text', (c) => c.notNull())
      .addColumn('package_name_pattern', 'text', (c) => c.notNull())
      .addColumn('minimum_access_level_for_push', 'text')
      .addColumn('minimum_access_level_for_delete', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('package_protection_rules_pattern_key', ['project_id', 'package_type', 'package_name_pattern'])
      .execute();
  },
  async down() {
    throw new Error('Wharf migrations are forward-only; restore a backup to go back.');
  },
});
