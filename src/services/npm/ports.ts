/**
 * Ports more than one npm service uses. Each service declares what it reads and writes of the packages next to
 * itself; these are the collaborators the write paths share.
 */
import type { PackageWrite } from '../protection.service.js';
import type { Executor } from '../ports.js';

/** Protection rules (`ProtectionService`), asked before a write and again inside its transaction (`db`). */
export interface NpmProtectionPort {
  /** Refuses (throws) when a rule keeps the caller from this push or delete. */
  require(write: PackageWrite, db?: Executor): Promise<void>;
}

/** Dist-tag writes (`PackagesRepository`): publish sets its tag, `npm dist-tag add` moves one. */
export interface NpmTagWritesPort {
  /** Creates the tag, or moves it (same row, new package) when the name already has it. */
  upsertTag(db: Executor, projectId: number, name: string, tag: string, packageId: number, now: string): Promise<void>;
}
