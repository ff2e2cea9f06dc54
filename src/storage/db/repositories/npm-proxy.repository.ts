/**
 * The npm proxy's cache rows and fetch leases (migration 010); implements the proxy service's `NpmProxyCachePort`.
 */
import type { ProxiedPackumentRow, ProxiedTarballRow } from '../../../domain/records.js';
import type { Db } from './types.js';

const packumentRow = (r: ProxiedPackumentRow): ProxiedPackumentRow => ({
  ...r,
  status: Number(r.status) as 200 | 404,
  size: r.size === null ? null : Number(r.size),
  revision: Number(r.revision),
  hits: Number(r.hits),
});

const tarballRow = (r: ProxiedTarballRow): ProxiedTarballRow => ({ ...r, size: Number(r.size), hits: Number(r.hits) });

export class NpmProxyRepository {
  async packument(db: Db, upstream: string, name: string): Promise<ProxiedPackumentRow | undefined> {
    const row = await db.selectFrom('npm_proxy_packuments').selectAll().where('upstream', '=', upstream).where('name', '=', name).executeTakeFirst();
    return row && packumentRow(row);
  }

  /** Inserts or replaces the packument row (hits and first use are kept when it exists). */
  async savePackument(db: Db, row: Omit<ProxiedPackumentRow, 'hits'>): Promise<void> {
    const { upstream: _u, name: _n, last_used_at: _l, ...changed } = row;
    await db
      .insertInto('npm_proxy_packuments')
      .values({ ...row, hits: 0 })
      .onConflict((oc) => oc.columns(['upstream', 'name']).doUpdateSet(changed))
      .execute();
  }

  /** A 304 from the upstream: the stored answer is confirmed, nothing else changes. */
  async confirmPackument(db: Db, upstream: string, name: string, fetchedAt: string): Promise<void> {
    await db.updateTable('npm_proxy_packuments').set({ fetched_at: fetchedAt }).where('upstream', '=', upstream).where('name', '=', name).execute();
  }

  async notePackumentUse(db: Db, upstream: string, name: string, hits: number, at: string): Promise<void> {
    await db
      .updateTable('npm_proxy_packuments')
      .set((eb) => ({ hits: eb('hits', '+', hits), last_used_at: at }))
      .where('upstream', '=', upstream)
      .where('name', '=', name)
      .execute();
  }

  async tarball(db: Db, upstream: string, name: string, fileName: string): Promise<ProxiedTarballRow | undefined> {
    const row = await db
      .selectFrom('npm_proxy_tarballs')
      .selectAll()
      .where('upstream', '=', upstream)
      .where('name', '=', name)
      .where('file_name', '=', fileName)
      .executeTakeFirst();
    return row && tarballRow(row);
  }

  /** Records a verified tarball; a row already there (another instance's, same bytes) is kept. */
  async saveTarball(db: Db, row: Omit<ProxiedTarballRow, 'hits'>): Promise<void> {
    await db
      .insertInto('npm_proxy_tarballs')
      .values({ ...row, hits: 0 })
      .onConflict((oc) => oc.columns(['upstream', 'name', 'file_name']).doUpdateSet({ blob_sha256: row.blob_sha256, size: row.size, integrity: row.integrity, fetched_at: row.fetched_at }))
      .execute();
  }

  async noteTarballUse(db: Db, upstream: string, name: string, fileName: string, hits: number, at: string): Promise<void> {
    await db
      .updateTable('npm_proxy_tarballs')
      .set((eb) => ({ hits: eb('hits', '+', hits), last_used_at: at }))
      .where('upstream', '=', upstream)
      .where('name', '=', name)
      .where('file_name', '=', fileName)
      .execute();
  }

  /** A tarball row whose blob has gone (restored database, purged store): forgotten, so it is fetched again. */
  async forgetTarball(db: Db, upstream: string, name: string, fileName: string): Promise<void> {
    await db.deleteFrom('npm_proxy_tarballs').where('upstream', '=', upstream).where('name', '=', name).where('file_name', '=', fileName).execute();
  }

  /**
   * Takes the lease on `key` for `owner` until `until`, if nobody holds it or the holder's lease has run out.
   * One statement either way (insert, or update of an expired row), so two instances cannot both succeed.
   */
  async acquireLease(db: Db, key: string, owner: string, now: string, until: string): Promise<boolean> {
    const inserted = await db
      .insertInto('npm_proxy_leases')
      .values({ key, owner, expires_at: until })
      .onConflict((oc) => oc.column('key').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return true;
    const taken = await db
      .updateTable('npm_proxy_leases')
      .set({ owner, expires_at: until })
      .where('key', '=', key)
      .where((eb) => eb.or([eb('expires_at', '<=', now), eb('owner', '=', owner)]))
      .executeTakeFirst();
    return Number(taken.numUpdatedRows) > 0;
  }

  /** Whether anybody holds an unexpired lease on `key`. */
  async leaseHeld(db: Db, key: string, now: string): Promise<boolean> {
    const row = await db.selectFrom('npm_proxy_leases').select('owner').where('key', '=', key).where('expires_at', '>', now).executeTakeFirst();
    return row !== undefined;
  }

  async extendLease(db: Db, key: string, owner: string, until: string): Promise<void> {
    await db.updateTable('npm_proxy_leases').set({ expires_at: until }).where('key', '=', key).where('owner', '=', owner).execute();
  }

  async releaseLease(db: Db, key: string, owner: string): Promise<void> {
    await db.deleteFrom('npm_proxy_leases').where('key', '=', key).where('owner', '=', owner).execute();
  }

  /** Is the blob the proxy's (a cached packument or tarball)? `wharf gc` keeps those. */
  async blobReferenced(db: Db, sha256: string): Promise<boolean> {
    const t = await db.selectFrom('npm_proxy_tarballs').select('name').where('blob_sha256', '=', sha256).limit(1).executeTakeFirst();
    if (t) return true;
    const p = await db.selectFrom('npm_proxy_packuments').select('name').where('blob_sha256', '=', sha256).limit(1).executeTakeFirst();
    return p !== undefined;
  }
}
