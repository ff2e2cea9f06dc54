/**
 * Operating the npm proxy's cache (docs/npm-proxy.md#operating-the-cache): what is cached, how often it was used
 * and fetched, purging a name or everything (administrators; the API and `wharf npm-proxy`), and the eviction
 * `wharf gc` runs to keep the cache under `npm_proxy_max_cache_bytes`.
 *
 * Purging and evicting delete rows only: the blobs are unreferenced from then on and go with `gc`'s blob sweep
 * (unless a local package or another row holds the same bytes), so a request served at that moment still finishes.
 */
import type { Identity } from '../../../domain/access/identity.js';
import { contextOf, INSTANCE, type AuditContext } from '../../../domain/audit.js';
import type { Clock } from '../../../domain/clock.js';
import { errors } from '../../../domain/errors.js';
import { isValidNpmName } from '../../../domain/npm/names.js';
import type { Page, PageOf } from '../../../domain/records.js';
import type { AuditService } from '../../audit.service.js';
import type { Connection, Executor } from '../../ports.js';
import type { ApplicationSettings } from '../../settings.service.js';
import { requireAdmin } from '../../users.service.js';
import { packumentLeaseKey, tarballLeaseKey } from './lease.js';
import type { EvictionCandidate, NpmProxyCacheAdminPort, ProxyCacheEntry, PurgeCount } from './ports.js';

/** One cached name (per upstream), as the API and the CLI show it. */
export interface CachedName {
  name: string;
  upstream: string;
  /** What the upstream answered for the packument: 200, or 404 (remembered briefly). */
  status: 200 | 404;
  /** Versions whose tarball is cached. */
  versions: string[];
  tarballs: number;
  /** Packument and tarballs. */
  bytes: number;
  packument_bytes: number;
  tarball_bytes: number;
  /** Requests answered from the cache (packument and tarballs), written at most every few minutes. */
  hits: number;
  /** Upstream requests made for it (fetches, revalidations, downloads). */
  misses: number;
  /** When the upstream last confirmed the packument. */
  fetched_at: string;
  /** The latest use recorded for the packument or a tarball. */
  last_used_at: string;
}

export interface CacheStats {
  packuments: number;
  not_found: number;
  tarballs: number;
  bytes: number;
  packument_bytes: number;
  tarball_bytes: number;
  hits: number;
  misses: number;
  /** `npm_proxy_max_cache_bytes`: what `wharf gc` evicts down to (null: no limit). */
  max_cache_bytes: number | null;
}

export interface PurgeResult {
  /** The name purged, or null for the whole cache. */
  name: string | null;
  packuments: number;
  tarballs: number;
  /** What the deleted rows held; their blobs go with the next `wharf gc` (unless shared). */
  bytes: number;
}

export interface EvictionResult {
  tarballs: number;
  packuments: number;
  bytes: number;
}

export interface NpmProxyCacheServiceDeps {
  db: Connection & Executor;
  store: NpmProxyCacheAdminPort;
  settings: { get(): Promise<Readonly<ApplicationSettings>> };
  clock: Clock;
  audit: AuditService;
}

const keyOf = (c: { upstream: string; name: string }) => `${c.upstream}\0${c.name}`;

export class NpmProxyCacheService {
  readonly #d: NpmProxyCacheServiceDeps;
  constructor(deps: NpmProxyCacheServiceDeps) {
    this.#d = deps;
  }

  async list(caller: Identity, query: { search?: string | undefined }, page: Page): Promise<PageOf<CachedName>> {
    requireAdmin(caller);
    const search = query.search?.trim() || undefined;
    const { items, total } = await this.#d.store.listCache(this.#d.db, search, page);
    return { items: items.map(summary), total };
  }

  async stats(caller: Identity): Promise<CacheStats> {
    requireAdmin(caller);
    const t = await this.#d.store.totals(this.#d.db);
    return {
      packuments: t.packuments,
      not_found: t.notFound,
      tarballs: t.tarballs,
      bytes: t.packumentBytes + t.tarballBytes,
      packument_bytes: t.packumentBytes,
      tarball_bytes: t.tarballBytes,
      hits: t.hits,
      misses: t.misses,
      max_cache_bytes: (await this.#d.settings.get()).npm_proxy_max_cache_bytes,
    };
  }

  /** Forgets everything cached for `name` (every upstream): the next request fetches it again. */
  async purge(caller: Identity, name: string, audit: AuditContext = contextOf(caller)): Promise<PurgeResult> {
    requireAdmin(caller);
    if (!isValidNpmName(name)) throw errors.params([`name "${name}" is not a valid npm package name`]);
    const count = await this.#d.db.transaction().execute(async (trx) => {
      const purged = await this.#d.store.purgeName(trx, name);
      if (purged.packuments + purged.tarballs === 0) throw errors.notFound('Cached package');
      await this.#record(trx, audit, name, purged);
      return purged;
    });
    return { name, ...count };
  }

  /** Forgets the whole cache. */
  async purgeAll(caller: Identity, audit: AuditContext = contextOf(caller)): Promise<PurgeResult> {
    requireAdmin(caller);
    const count = await this.#d.db.transaction().execute(async (trx) => {
      const purged = await this.#d.store.purgeAll(trx);
      await this.#record(trx, audit, null, purged);
      return purged;
    });
    return { name: null, ...count };
  }

  /**
   * `wharf gc`'s eviction: while the cache holds more than `npm_proxy_max_cache_bytes`, deletes the least recently
   * used row. Tarballs and packuments are ranked together by `last_used_at`, but a packument only once no tarball
   * of its name is left (a packument is what a cached tarball is found through, and is small). A row whose fetch
   * holds a lease is left alone, and so is a row used since it was ranked. A dry run deletes nothing.
   */
  async evict(options: { dryRun?: boolean } = {}): Promise<EvictionResult> {
    const result: EvictionResult = { tarballs: 0, packuments: 0, bytes: 0 };
    const limit = (await this.#d.settings.get()).npm_proxy_max_cache_bytes;
    if (limit === null) return result;
    const { db, store, clock } = this.#d;
    const { tarballs, packuments } = await store.evictionCandidates(db);
    let total = 0;
    for (const c of tarballs) total += c.size;
    for (const c of packuments) total += c.size;
    if (total <= limit) return result;

    const tarballsLeft = new Map<string, number>();
    for (const t of tarballs) tarballsLeft.set(keyOf(t), (tarballsLeft.get(keyOf(t)) ?? 0) + 1);
    const packumentByName = new Map(packuments.map((p) => [keyOf(p), p]));
    // Packuments that may go, least recently used first (kept sorted as more become free).
    const free = packuments.filter((p) => !tarballsLeft.has(keyOf(p)));
    let ti = 0;
    let pi = 0;
    while (total > limit) {
      const t = tarballs[ti];
      const p = free[pi];
      if (!t && !p) break;
      const next: EvictionCandidate = t && (!p || t.last_used_at <= p.last_used_at) ? t : p!;
      if (next === t) ti++;
      else pi++;
      const now = clock.now().toISOString();
      const lease = next.fileName === null ? packumentLeaseKey(next.upstream, next.name) : tarballLeaseKey(next.upstream, next.name, next.fileName);
      if (await store.leaseHeld(db, lease, now)) continue;
      if (!options.dryRun && !(await store.evict(db, next))) continue;
      total -= next.size;
      result.bytes += next.size;
      if (next.fileName === null) {
        result.packuments++;
        continue;
      }
      result.tarballs++;
      const left = tarballsLeft.get(keyOf(next))! - 1;
      tarballsLeft.set(keyOf(next), left);
      const packument = packumentByName.get(keyOf(next));
      if (left === 0 && packument) insertSorted(free, packument, pi);
    }
    return result;
  }

  async #record(db: Executor, audit: AuditContext, name: string | null, purged: PurgeCount): Promise<void> {
    await this.#d.audit.record(db, audit, {
      name: 'npm_proxy_cache_purged',
      entity: INSTANCE,
      target: { type: 'NpmProxyCache', id: null, details: name ?? '*' },
      message:
        name === null
          ? `Purged the npm proxy cache (${purged.packuments} packuments, ${purged.tarballs} tarballs)`
          : `Purged ${name} from the npm proxy cache (${purged.tarballs} tarballs)`,
    });
  }
}

/** Inserts `c` into `list` (sorted by `last_used_at`) at or after `from`, keeping the order. */
function insertSorted(list: EvictionCandidate[], c: EvictionCandidate, from: number): void {
  let at = from;
  while (at < list.length && list[at]!.last_used_at <= c.last_used_at) at++;
  list.splice(at, 0, c);
}

function summary(entry: ProxyCacheEntry): CachedName {
  const p = entry.packument;
  let tarballBytes = 0;
  let hits = p.hits;
  let misses = p.misses;
  let lastUsed = p.last_used_at;
  for (const t of entry.tarballs) {
    tarballBytes += t.size;
    hits += t.hits;
    misses += t.misses;
    if (t.last_used_at > lastUsed) lastUsed = t.last_used_at;
  }
  const packumentBytes = p.size ?? 0;
  return {
    name: p.name,
    upstream: p.upstream,
    status: p.status,
    versions: [...new Set(entry.tarballs.map((t) => t.version))],
    tarballs: entry.tarballs.length,
    bytes: packumentBytes + tarballBytes,
    packument_bytes: packumentBytes,
    tarball_bytes: tarballBytes,
    hits,
    misses,
    fetched_at: p.fetched_at,
    last_used_at: lastUsed,
  };
}
