import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../database.js';

/**
 * The npm proxy's cache (docs/design/npm-proxy.md), shared by every instance on the database; the bytes are in the
 * blob store, so the rows are all another instance needs to serve what one instance fetched.
 *
 * - `npm_proxy_packuments`: per upstream base URL and name, the upstream's JSON (a blob), its validators, status
 *   200 or 404, when it was last confirmed (`fetched_at`, against which the TTL runs) and a revision that moves
 *   when the content does (the per-process document caches key on it).
 * - `npm_proxy_tarballs`: per upstream, name and file, the verified tarball (a blob), its size and integrity, and
 *   `last_used_at` (indexed) so `wharf gc` can evict the least recently used down to `npm_proxy_max_cache_bytes`.
 * - `npm_proxy_leases`: who is fetching what right now, so two instances never download the same thing at once;
 *   a lease that outlives its holder (a crash) simply expires.
 */
export const migration010 = (_dialect: DialectName): Migration => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('npm_proxy_packuments')
      .addColumn('upstream', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('status', 'integer', (c) => c.notNull())
      .addColumn('blob_sha256', 'text')
      .addColumn('size', 'integer')
      .addColumn('etag', 'text')
      .addColumn('last_modified', 'text')
      .addColumn('revision', 'integer', (c) => c.notNull())
      .addColumn('fetched_at', 'text', (c) => c.notNull())
      .addColumn('last_used_at', 'text', (c) => c.notNull())
      .addColumn('hits', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('npm_proxy_packuments_pkey', ['upstream', 'name'])
      .execute();
    await db.schema.createIndex('npm_proxy_packuments_blob_idx').on('npm_proxy_packuments').column('blob_sha256').execute();

    await db.schema
      .createTable('npm_proxy_tarballs')
      .addColumn('upstream', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('file_name', 'text', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('blob_sha256', 'text', (c) => c.notNull())
      .addColumn('size', 'integer', (c) => c.notNull())
      .addColumn('integrity', 'text', (c) => c.notNull())
      .addColumn('fetched_at', 'text', (c) => c.notNull())
      .addColumn('last_used_at', 'text', (c) => c.notNull())
      .addColumn('hits', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('npm_proxy_tarballs_pkey', ['upstream', 'name', 'file_name'])
      .execute();
    await db.schema.createIndex('npm_proxy_tarballs_blob_idx').on('npm_proxy_tarballs').column('blob_sha256').execute();
    await db.schema.createIndex('npm_proxy_tarballs_lru_idx').on('npm_proxy_tarballs').column('last_used_at').execute();

    await db.schema
      .createTable('npm_proxy_leases')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('owner', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .execute();
  },
  async down() {
    throw new Error('Wharf migrations are forward-only; restore a backup to go back.');
  },
});
