import { randomBytes } from 'node:crypto';
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../database.js';

/**
 * `registry_token_keys`: the secret that signs and verifies the registry's Bearer tokens (`/jwt/auth`,
 * docs/design/helm-oci.md#access). It lives in the database so that every instance on one database signs and
 * accepts the same tokens (a token fetched through one instance is used on another behind a load balancer). It is
 * generated here, once, under the migration lock: no two instances can race to create different ones.
 *
 * One row today (`id` 1); the table has an id so that a key rotation can add a row later.
 */
export const migration013 = (_dialect: DialectName): Migration => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('registry_token_keys')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('secret', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db
      .insertInto('registry_token_keys')
      .values({ id: 1, secret: randomBytes(32).toString('base64url'), created_at: new Date().toISOString() })
      .execute();
  },
  async down() {
    throw new Error('Wharf migrations are forward-only; restore a backup to go back.');
  },
});
