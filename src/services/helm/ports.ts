/**
 * What the Helm services need besides their store (each service declares its store's port next to itself): the
 * revision rule of channel indexes, and the protection check of a write. Both take the write's transaction, as
 * the rule requires (`documents/revisions.ts`; protection is checked where the rows are written).
 */
import type { Executor } from '../ports.js';
import type { HelmIndexKey, HelmIndexState } from '../documents/revisions.js';
import type { PackageWrite } from '../protection.service.js';

/** Channel revisions (`DocumentRevisions`). */
export interface HelmRevisionsPort {
  /** The write in `trx` changes what the channel's index shows; returns the new revision. */
  changed(trx: Executor, key: HelmIndexKey, now: string): Promise<number>;
  helmIndexState(key: HelmIndexKey): Promise<HelmIndexState | undefined>;
}

/** Package protection rules (`ProtectionService`): GitLab's 403 when a rule keeps the caller from this write. */
export interface HelmProtectionPort {
  /** Always given the write's transaction (optional only as `ProtectionService` declares it). */
  require(write: PackageWrite, trx?: Executor): Promise<void>;
}
