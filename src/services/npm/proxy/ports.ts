/** What the npm proxy needs from storage (`storage/db/repositories/npm-proxy.repository.ts` implements it). */
import type { Page, PageOf, ProxiedPackumentRow, ProxiedTarballRow } from '../../../domain/records.js';
import type { Executor } from '../../ports.js';

/** What a fetch writes: the counters are the store's (a new row starts at one miss, an update adds one). */
export type NewPackumentRow = Omit<ProxiedPackumentRow, 'hits' | 'misses'>;
export type NewTarballRow = Omit<ProxiedTarballRow, 'hits' | 'misses'>;

export interface NpmProxyCachePort {
  packument(db: Executor, upstream: string, name: string): Promise<ProxiedPackumentRow | undefined>;
  /** Inserts or replaces the row; counts one miss (the upstream request whose answer it stores). */
  savePackument(db: Executor, row: NewPackumentRow): Promise<void>;
  /** A 304: moves `fetched_at` and counts one miss. */
  confirmPackument(db: Executor, upstream: string, name: string, fetchedAt: string): Promise<void>;
  notePackumentUse(db: Executor, upstream: string, name: string, hits: number, at: string): Promise<void>;
  tarball(db: Executor, upstream: string, name: string, fileName: string): Promise<ProxiedTarballRow | undefined>;
  /** Records a verified tarball; counts one miss (its download). */
  saveTarball(db: Executor, row: NewTarballRow): Promise<void>;
  noteTarballUse(db: Executor, upstream: string, name: string, fileName: string, hits: number, at: string): Promise<void>;
  forgetTarball(db: Executor, upstream: string, name: string, fileName: string): Promise<void>;
  acquireLease(db: Executor, key: string, owner: string, now: string, until: string): Promise<boolean>;
  leaseHeld(db: Executor, key: string, now: string): Promise<boolean>;
  extendLease(db: Executor, key: string, owner: string, until: string): Promise<void>;
  releaseLease(db: Executor, key: string, owner: string): Promise<void>;
}

/** Whether a top-level namespace (group or user) has this path, compared case-insensitively. */
export type LocalScopes = (scope: string) => Promise<boolean>;
/** Whether any project of this instance holds an npm package of this exact name (any visibility, any status). */
export type LocalNames = (name: string) => Promise<boolean>;

/** One cached name as the administrator's listing shows it: its packument row and its cached tarballs. */
export interface ProxyCacheEntry {
  packument: ProxiedPackumentRow;
  tarballs: readonly Pick<ProxiedTarballRow, 'file_name' | 'version' | 'size' | 'hits' | 'misses' | 'last_used_at'>[];
}

/** Sums over the whole cache (every upstream). */
export interface ProxyCacheTotals {
  packuments: number;
  /** Packument rows that remember an upstream 404 (no bytes). */
  notFound: number;
  packumentBytes: number;
  tarballs: number;
  tarballBytes: number;
  hits: number;
  misses: number;
}

/** A row `wharf gc` may evict, with what it frees. */
export interface EvictionCandidate {
  upstream: string;
  name: string;
  /** Null for a packument. */
  fileName: string | null;
  size: number;
  last_used_at: string;
}

/** The cache administration's reads and deletes (`NpmProxyRepository`). */
export interface NpmProxyCacheAdminPort {
  /** Names in order (then upstream), optionally those containing `search` (case-insensitive). */
  listCache(db: Executor, search: string | undefined, page: Page): Promise<PageOf<ProxyCacheEntry>>;
  totals(db: Executor): Promise<ProxyCacheTotals>;
  /** Deletes every row of `name` (all upstreams); how many rows and bytes of each kind went. */
  purgeName(db: Executor, name: string): Promise<PurgeCount>;
  purgeAll(db: Executor): Promise<PurgeCount>;
  /** Every tarball, and every 200 packument, least recently used first. */
  evictionCandidates(db: Executor): Promise<{ tarballs: EvictionCandidate[]; packuments: EvictionCandidate[] }>;
  /** Deletes the row if it is still unused since `lastUsedAt` (a packument: and no tarball of its name is left). */
  evict(db: Executor, candidate: EvictionCandidate): Promise<boolean>;
  leaseHeld(db: Executor, key: string, now: string): Promise<boolean>;
}

export interface PurgeCount {
  packuments: number;
  tarballs: number;
  bytes: number;
}
