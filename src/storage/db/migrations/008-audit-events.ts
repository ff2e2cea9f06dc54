import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../database.js';
import { idColumn } from './001-identity.js';

/**
 * The audit log (docs/design/audit-log.md). No foreign keys: an event outlives the user, project or token it names,
 * and names are copied into the row for that reason.
 */
export const migration008 = (dialect: DialectName): Migration => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('audit_events')
      .addColumn('id', 'integer', idColumn(dialect))
      .addColumn('event_name', 'text', (c) => c.notNull())
      .addColumn('author_id', 'integer')
      .addColumn('author_name', 'text', (c) => c.notNull())
      .addColumn('entity_type', 'text', (c) => c.notNull())
      .addColumn('entity_id', 'integer')
      .addColumn('entity_path', 'text')
      .addColumn('target_type', 'text')
      .addColumn('target_id', 'integer')
      .addColumn('target_details', 'text')
      .addColumn('ip_address', 'text')
      .addColumn('details', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    // Time-range reads and retention deletes; per-entity reads (newest first, as the API lists them).
    await db.schema.createIndex('audit_events_created_at_idx').on('audit_events').column('created_at').execute();
    await db.schema.createIndex('audit_events_entity_idx').on('audit_events').columns(['entity_type', 'entity_id', 'id']).execute();
  },
  async down() {
    throw new Error('Wharf migrations are forward-only; restore a backup to go back.');
  },
});
