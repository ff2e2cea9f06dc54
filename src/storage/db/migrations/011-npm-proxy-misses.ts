import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../database.js';

/**
 * Miss counts beside the hit counts of the npm proxy's cache rows (docs/npm-proxy.md#operating-the-cache): how
 * many upstream requests a cached packument or tarball cost. A miss is counted by the write that stores what the
 * upstream answered, so counting it adds no write.
 */
export const migration011 = (_dialect: DialectName): Migration => ({
  async up(db: Kysely<any>) {
    await db.schema.alterTable('npm_proxy_packuments').addColumn('misses', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.alterTable('npm_proxy_tarballs').addColumn('misses', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  },
  async down() {
    throw new Error('Wharf migrations are forward-only; restore a backup to go back.');
  },
});
