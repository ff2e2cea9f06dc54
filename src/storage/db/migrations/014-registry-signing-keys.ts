import { sql, type Kysely, type Migration } from 'kysely';
import type { DialectName } from '../database.js';
import { generateSigningKey, integrityToSign, privateKeyOf, signVersion } from '../../../domain/npm/signatures.js';

/** Versions signed per page of the backfill: bounded memory whatever the registry's size. */
const BACKFILL_PAGE = 500;

/**
 * Registry signatures (docs/design/registry-signatures.md).
 *
 * - `registry_signing_keys`: the instance's ECDSA P-256 keys. The first one is generated here, under the migration
 *   lock, so that every instance on one database signs with the same key and lists the same keys (as migration 013
 *   does for the registry token secret). `wharf signing-keys rotate` adds later ones.
 * - `npm_metadata.signatures`: each version's `dist.signatures`, computed once when the version is published.
 * - The versions published before this migration are signed here, with the new key, and every npm packument's
 *   revision moves on, so that stored and cached documents (and their ETags) are rebuilt with the signatures.
 */
export const migration014 = (_dialect: DialectName): Migration => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('registry_signing_keys')
      .addColumn('keyid', 'text', (c) => c.primaryKey())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('private_key', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text')
      .execute();
    await db.schema.alterTable('npm_metadata').addColumn('signatures', 'text').execute();

    const now = new Date().toISOString();
    const generated = generateSigningKey();
    await db.insertInto('registry_signing_keys').values({ ...generated, created_at: now, expires_at: null }).execute();
    const key = { keyid: generated.keyid, privateKey: privateKeyOf(generated.private_key) };

    let after = 0;
    for (;;) {
      const rows: Array<{ package_id: number; name: string; version: string; package_json: string }> = await db
        .selectFrom('npm_metadata as m')
        .innerJoin('packages as p', 'p.id', 'm.package_id')
        .select(['m.package_id', 'p.name', 'p.version', 'm.package_json'])
        .where('m.package_id', '>', after)
        .orderBy('m.package_id')
        .limit(BACKFILL_PAGE)
        .execute();
      if (rows.length === 0) break;
      for (const r of rows) {
        let integrity: string | undefined;
        try {
          integrity = integrityToSign(JSON.parse(r.package_json) as Record<string, unknown>);
        } catch {
          integrity = undefined;
        }
        if (!integrity) continue;
        const signatures = JSON.stringify([signVersion(key, r.name, r.version, integrity)]);
        await db.updateTable('npm_metadata').set({ signatures }).where('package_id', '=', r.package_id).execute();
      }
      after = rows[rows.length - 1]!.package_id;
    }

    await db
      .updateTable('package_documents')
      .set({ revision: sql`revision + 1`, modified_at: now, built_revision: null, full_doc: null, abbreviated_doc: null })
      .where('package_type', '=', 'npm')
      .execute();
  },
  async down() {
    throw new Error('Wharf migrations are forward-only; restore a backup to go back.');
  },
});
