/**
 * The npm proxy's cache rows and fetch leases (migrations 010, 011); implements the proxy service's
 * `NpmProxyCachePort` and the cache administration's `NpmProxyCacheAdminPort`.
 */
import { sql } from 'kysely';
import type { ProxiedPackumentRow, ProxiedTarballRow } from '../../../domain/records.js';
import type {
  EvictionCandidate,
  NewPackumentRow,
  NewTarballRow,
  ProxyCacheEntry,
  ProxyCacheTotals,
  PurgeCount,
} from '../../../services/npm/proxy/ports.js';
import { likeEscape, offsetOf, type Db, type Page, type PageOf } from './types.js';

const packumentRow = (r: ProxiedPackumentRow): ProxiedPackumentRow => ({
  ...r,
  status: Number(r.status) as 200 | 404,
  size: r.size === null ? null : Number(r.size),
  revision: Number(r.revision),
  hits: Number(r.hits),
  misses: Number(r.misses),
});

const tarballRow = (r: ProxiedTarballRow): ProxiedTarballRow => ({ ...r, size: Number(r.size), hits: Number(r.hits), misses: Number(r.misses) });

export class NpmProxyRepository {
  async packument(db: Db, upstream: string, name: string): Promise<ProxiedPackumentRow | undefined> {
    const row = await db.selectFrom('npm_proxy_packuments').selectAll().where('upstream', '=', upstream).where('name', '=', name).executeTakeFirst();
    return row && packumentRow(row);
  }

  /** Inserts or replaces the packument row (hits and last use are kept when it exists); one more miss. */
  async savePackument(db: Db, row: NewPackumentRow): Promise<void> {
    const { upstream: _u, name: _n, last_used_at: _l, ...changed } = row;
    await db
      .insertInto('npm_proxy_packuments')
      .values({ ...row, hits: 0, misses: 1 })
      .onConflict((oc) => oc.columns(['upstream', 'name']).doUpdateSet({ ...changed, misses: sql<number>`npm_proxy_packuments.misses + 1` }))
      .execute();
  }

  /** A 304 from the upstream: the stored answer is confirmed (and the request counted as a miss), nothing else changes. */
  async confirmPackument(db: Db, upstream: string, name: string, fetchedAt: string): Promise<void> {
    await db
      .updateTable('npm_proxy_packuments')
      .set((eb) => ({ fetched_at: fetchedAt, misses: eb('misses', '+', 1) }))
      .where('upstream', '=', upstream)
      .where('name', '=', name)
      .execute();
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

  /** Records a verified tarball (one miss); a row already there (another instance's, same bytes) is kept. */
  async saveTarball(db: Db, row: NewTarballRow): Promise<void> {
    await db
      .insertInto('npm_proxy_tarballs')
      .values({ ...row, hits: 0, misses: 1 })
      .onConflict((oc) =>
        oc.columns(['upstream', 'name', 'file_name']).doUpdateSet({
          blob_sha256: row.blob_sha256,
          size: row.size,
          integrity: row.integrity,
          fetched_at: row.fetched_at,
          misses: sql<number>`npm_proxy_tarballs.misses + 1`,
        }),
      )
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

  async listCache(db: Db, search: string | undefined, page: Page): Promise<PageOf<ProxyCacheEntry>> {
    let q = db.selectFrom('npm_proxy_packuments');
    if (search) {
      const pattern = `%${likeEscape(search.toLowerCase())}%`;
      q = q.where((eb) => eb(eb.fn('lower', ['name']), 'like', sql<string>`${pattern} escape '\\'`));
    }
    const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = (await q.selectAll().orderBy('name', 'asc').orderBy('upstream', 'asc').limit(page.perPage).offset(offsetOf(page)).execute()).map(packumentRow);
    const names = [...new Set(rows.map((r) => r.name))];
    const files = names.length
      ? await db
          .selectFrom('npm_proxy_tarballs')
          .select(['upstream', 'name', 'file_name', 'version', 'size', 'hits', 'misses', 'last_used_at'])
          .where('name', 'in', names)
          .orderBy('file_name', 'asc')
          .execute()
      : [];
    const items = rows.map((packument) => ({
      packument,
      tarballs: files
        .filter((f) => f.upstream === packument.upstream && f.name === packument.name)
        .map((f) => ({ file_name: f.file_name, version: f.version, size: Number(f.size), hits: Number(f.hits), misses: Number(f.misses), last_used_at: f.last_used_at })),
    }));
    return { items, total: Number(total.n) };
  }

  async totals(db: Db): Promise<ProxyCacheTotals> {
    const p = await db
      .selectFrom('npm_proxy_packuments')
      .select((eb) => [
        eb.fn.sum<number>(sql`case when status = 200 then 1 else 0 end`).as('ok'),
        eb.fn.sum<number>(sql`case when status = 200 then 0 else 1 end`).as('missing'),
        eb.fn.sum<number>('size').as('bytes'),
        eb.fn.sum<number>('hits').as('hits'),
        eb.fn.sum<number>('misses').as('misses'),
      ])
      .executeTakeFirstOrThrow();
    const t = await db
      .selectFrom('npm_proxy_tarballs')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>('size').as('bytes'), eb.fn.sum<number>('hits').as('hits'), eb.fn.sum<number>('misses').as('misses')])
      .executeTakeFirstOrThrow();
    // SUM of no rows is NULL; PostgreSQL's SUM of integers is a bigint, which the driver hands over as a string.
    const n = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));
    return {
      packuments: n(p.ok),
      notFound: n(p.missing),
      packumentBytes: n(p.bytes),
      tarballs: n(t.n),
      tarballBytes: n(t.bytes),
      hits: n(p.hits) + n(t.hits),
      misses: n(p.misses) + n(t.misses),
    };
  }

  async purgeName(db: Db, name: string): Promise<PurgeCount> {
    return this.#purge(db, name);
  }

  async purgeAll(db: Db): Promise<PurgeCount> {
    return this.#purge(db, undefined);
  }

  async #purge(db: Db, name: string | undefined): Promise<PurgeCount> {
    const sizes = async (table: 'npm_proxy_packuments' | 'npm_proxy_tarballs') => {
      let q = db.selectFrom(table).select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>('size').as('bytes')]);
      if (name !== undefined) q = q.where('name', '=', name);
      const r = await q.executeTakeFirstOrThrow();
      return { n: Number(r.n), bytes: Number(r.bytes ?? 0) };
    };
    const p = await sizes('npm_proxy_packuments');
    const t = await sizes('npm_proxy_tarballs');
    let dt = db.deleteFrom('npm_proxy_tarballs');
    let dp = db.deleteFrom('npm_proxy_packuments');
    if (name !== undefined) {
      dt = dt.where('name', '=', name);
      dp = dp.where('name', '=', name);
    }
    await dt.execute();
    await dp.execute();
    return { packuments: p.n, tarballs: t.n, bytes: p.bytes + t.bytes };
  }

  async evictionCandidates(db: Db): Promise<{ tarballs: EvictionCandidate[]; packuments: EvictionCandidate[] }> {
    const tarballs = await db
      .selectFrom('npm_proxy_tarballs')
      .select(['upstream', 'name', 'file_name', 'size', 'last_used_at'])
      .orderBy('last_used_at', 'asc')
      .orderBy('fetched_at', 'asc')
      .execute();
    const packuments = await db
      .selectFrom('npm_proxy_packuments')
      .select(['upstream', 'name', 'size', 'last_used_at'])
      .where('status', '=', 200)
      .orderBy('last_used_at', 'asc')
      .orderBy('fetched_at', 'asc')
      .execute();
    return {
      tarballs: tarballs.map((r) => ({ upstream: r.upstream, name: r.name, fileName: r.file_name, size: Number(r.size), last_used_at: r.last_used_at })),
      packuments: packuments.map((r) => ({ upstream: r.upstream, name: r.name, fileName: null, size: Number(r.size ?? 0), last_used_at: r.last_used_at })),
    };
  }

  async evict(db: Db, c: EvictionCandidate): Promise<boolean> {
    if (c.fileName !== null) {
      const r = await db
        .deleteFrom('npm_proxy_tarballs')
        .where('upstream', '=', c.upstream)
        .where('name', '=', c.name)
        .where('file_name', '=', c.fileName)
        .where('last_used_at', '=', c.last_used_at)
        .executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    }
    const r = await db
      .deleteFrom('npm_proxy_packuments')
      .where('upstream', '=', c.upstream)
      .where('name', '=', c.name)
      .where('last_used_at', '=', c.last_used_at)
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('npm_proxy_tarballs as t').select('t.name').whereRef('t.upstream', '=', 'npm_proxy_packuments.upstream').whereRef('t.name', '=', 'npm_proxy_packuments.name'))),
      )
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Is the blob the proxy's (a cached packument or tarball)? `wharf gc` keeps those. */
  async blobReferenced(db: Db, sha256: string): Promise<boolean> {
    const t = await db.selectFrom('npm_proxy_tarballs').select('name').where('blob_sha256', '=', sha256).limit(1).executeTakeFirst();
    if (t) return true;
    const p = await db.selectFrom('npm_proxy_packuments').select('name').where('blob_sha256', '=', sha256).limit(1).executeTakeFirst();
    return p !== undefined;
  }
}
