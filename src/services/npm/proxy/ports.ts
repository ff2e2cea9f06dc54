/** What the npm proxy needs from storage (`storage/db/repositories/npm-proxy.repository.ts` implements it). */
import type { ProxiedPackumentRow, ProxiedTarballRow } from '../../../domain/records.js';
import type { Executor } from '../../ports.js';

export interface NpmProxyCachePort {
  packument(db: Executor, upstream: string, name: string): Promise<ProxiedPackumentRow | undefined>;
  savePackument(db: Executor, row: Omit<ProxiedPackumentRow, 'hits'>): Promise<void>;
  confirmPackument(db: Executor, upstream: string, name: string, fetchedAt: string): Promise<void>;
  notePackumentUse(db: Executor, upstream: string, name: string, hits: number, at: string): Promise<void>;
  tarball(db: Executor, upstream: string, name: string, fileName: string): Promise<ProxiedTarballRow | undefined>;
  saveTarball(db: Executor, row: Omit<ProxiedTarballRow, 'hits'>): Promise<void>;
  noteTarballUse(db: Executor, upstream: string, name: string, fileName: string, hits: number, at: string): Promise<void>;
  forgetTarball(db: Executor, upstream: string, name: string, fileName: string): Promise<void>;
  acquireLease(db: Executor, key: string, owner: string, now: string, until: string): Promise<boolean>;
  leaseHeld(db: Executor, key: string, now: string): Promise<boolean>;
  extendLease(db: Executor, key: string, owner: string, until: string): Promise<void>;
  releaseLease(db: Executor, key: string, owner: string): Promise<void>;
}

/** Whether a top-level namespace (group or user) has this path, compared case-insensitively. */
export type LocalScopes = (scope: string) => Promise<boolean>;
