import { sql, type Kysely, type Migration } from 'kysely';
import type { DialectName } from '../database.js';

/**
 * Two pieces of state that must be shared by every instance on one database:
 *
 * - `sign_in_failures`: wrong passwords counted per account and per client address (keys are digests, so no
 *   login or address typed by an attacker is stored), so a brute force cannot spread its guesses over instances.
 * - `credential_epoch`: one counter that triggers move on every change that can end or narrow a credential
 *   (a token revoked, deleted, re-scoped or given a new expiry; a user blocked, renamed, demoted or deleted).
 *   Identity caches are valid only while it has not moved, so a revocation on one instance holds on all of them
 *   at once, whatever code path (API, web, CLI, a hand-written SQL statement) made it.
 */
export const migration009 = (dialect: DialectName): Migration => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('sign_in_failures')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('failures', 'integer', (c) => c.notNull())
      .addColumn('window_start', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('sign_in_failures_window_idx').on('sign_in_failures').column('window_start').execute();

    await db.schema
      .createTable('credential_epoch')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('value', 'integer', (c) => c.notNull())
      .execute();
    await db.insertInto('credential_epoch').values({ id: 1, value: 0 }).execute();

    const watched: [table: string, columns: string][] = [
      ['personal_access_tokens', 'revoked, expires_at, scopes, user_id, token_digest'],
      ['deploy_tokens', 'revoked, expires_at, scopes, username, token_digest, project_id, group_id'],
      ['users', 'state, is_admin, username'],
    ];
    if (dialect === 'postgres') {
      await sql`create function wharf_bump_credential_epoch() returns trigger language plpgsql as $$
        begin
          update credential_epoch set value = value + 1 where id = 1;
          return null;
        end $$`.execute(db);
      for (const [table, columns] of watched) {
        await sql
          .raw(
            `create trigger ${table}_epoch_update after update of ${columns} on ${table} for each statement execute function wharf_bump_credential_epoch()`,
          )
          .execute(db);
        await sql
          .raw(`create trigger ${table}_epoch_delete after delete on ${table} for each statement execute function wharf_bump_credential_epoch()`)
          .execute(db);
      }
    } else {
      for (const [table, columns] of watched) {
        await sql
          .raw(
            `create trigger ${table}_epoch_update after update of ${columns} on ${table} begin update credential_epoch set value = value + 1 where id = 1; end`,
          )
          .execute(db);
        await sql
          .raw(`create trigger ${table}_epoch_delete after delete on ${table} begin update credential_epoch set value = value + 1 where id = 1; end`)
          .execute(db);
      }
    }
  },
  async down() {
    throw new Error('Wharf migrations are forward-only; restore a backup to go back.');
  },
});
