import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../database.js';

/** Web UI sign-in sessions. Only the SHA-256 of the cookie value is stored, as for tokens. */
export const migration004 = (_dialect: DialectName): Migration => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('web_sessions')
      .addColumn('id_digest', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('csrf_token', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('web_sessions_user_idx').on('web_sessions').column('user_id').execute();
  },
  async down() {
    throw new Error('Wharf migrations are forward-only; restore a backup to go back.');
  },
});
