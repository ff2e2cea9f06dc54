/**
 * The invalidation rule of every document Wharf builds once and serves many times, in one place.
 *
 * A document (an npm packument, a Helm channel's `index.yaml`) is a function of database rows. Each has a
 * **revision**, a counter stored next to those rows. The rule:
 *
 * 1. Every write that changes what a document shows calls `changed` (or `changedIfAt`) for that document *inside the
 *    transaction that changes the rows*. A reader that can see the new rows therefore also sees the new revision, on
 *    every instance, at once, and no cache ever has to be told about a write made elsewhere.
 * 2. For Helm indexes, database triggers (migration `003-helm`) also move a channel's revision whenever any code —
 *    the generic package API, `gc`, an operator's SQL — changes a chart's status or deletes a live chart file. They
 *    are the backstop for writers that do not know about channels; Wharf's own Helm writes still call `changed`,
 *    because an upload needs the revision it started from (see `ChannelChange`).
 * 3. Readers ask `packumentState` / `helmIndexState` for the current revision (one indexed query, or none while the
 *    database has not changed at all — `FreshMemo`), and serve bytes built for exactly that revision
 *    (`RevisionedDocuments`). What else the bytes depend on (the external URL, a listing limit) is part of the
 *    version as `builtFor`, never a reason to bump.
 *
 * Nothing else moves a revision: the SQL that does lives only in the storage that implements `RevisionStore`.
 * See docs/design/documents-and-caching.md.
 */
import type { ChangeSignal, Executor } from '../ports.js';
import { FreshMemo } from '../fresh-memo.js';

/** An npm package's packuments (full and abbreviated) in one project. */
export interface PackumentKey {
  readonly kind: 'packument';
  readonly projectId: number;
  readonly name: string;
}

/** A Helm channel's `index.yaml` in one project. */
export interface HelmIndexKey {
  readonly kind: 'helm-index';
  readonly projectId: number;
  readonly channel: string;
}

/** Every revisioned document. A new kind (a proxied packument, an OCI tag list) is one more member here. */
export type DocumentKey = PackumentKey | HelmIndexKey;

export const packumentKey = (projectId: number, name: string): PackumentKey => ({ kind: 'packument', projectId, name });
export const helmIndexKey = (projectId: number, channel: string): HelmIndexKey => ({ kind: 'helm-index', projectId, channel });

/** What every revision row holds: the revision, when it last moved, and what the stored copy (if any) was built for. */
export interface RevisionState {
  revision: number;
  modified_at: string;
  built_revision: number | null;
  built_for: string | null;
}

export interface PackumentState extends RevisionState {
  /** Installable versions in the stored documents. */
  version_count: number;
}

export interface HelmIndexState extends RevisionState {
  project_id: number;
  channel: string;
  /** ETag of the stored document. */
  etag: string | null;
}

/**
 * Where revisions live: implemented by the database storage (`DocumentRevisionsRepository`). `db` is a connection or
 * the writer's open transaction, handed through untouched.
 */
export interface RevisionStore {
  /** Moves the revision on (creating it on first use) and returns the new one. */
  bump(db: Executor, key: DocumentKey, now: string): Promise<number>;
  /** Moves the revision on only if it still is `expected` (atomic on both dialects); false when another writer did. */
  bumpIfRevision(db: Executor, key: PackumentKey, expected: number, now: string): Promise<boolean>;
  packumentState(db: Executor, key: PackumentKey): Promise<PackumentState | undefined>;
  helmIndexState(db: Executor, key: HelmIndexKey): Promise<HelmIndexState | undefined>;
}

export interface DocumentRevisionsDeps {
  db: Executor;
  store: RevisionStore;
  /** Lets the current revision be known without a query while nothing was written (SQLite). */
  changes: ChangeSignal;
}

export class DocumentRevisions {
  readonly #d: DocumentRevisionsDeps;
  /** Revisions, and "no such document" (every 404 and every first publish asks). */
  readonly #packuments: FreshMemo<PackumentState | undefined>;
  readonly #helmIndexes: FreshMemo<HelmIndexState | undefined>;

  constructor(deps: DocumentRevisionsDeps) {
    this.#d = deps;
    this.#packuments = new FreshMemo(deps.changes);
    this.#helmIndexes = new FreshMemo(deps.changes);
  }

  /** The write in `trx` changes what the document shows: its next read is built anew. Returns the new revision. */
  changed(trx: Executor, key: DocumentKey, now: string): Promise<number> {
    return this.#d.store.bump(trx, key, now);
  }

  /**
   * `changed`, as a lock: only if the revision still is `expected` (the `_rev` an `npm unpublish` read). Of two
   * writers holding the same revision exactly one gets true.
   */
  changedIfAt(trx: Executor, key: PackumentKey, expected: number, now: string): Promise<boolean> {
    return this.#d.store.bumpIfRevision(trx, key, expected, now);
  }

  /** The packument's revision now; `trx` reads inside a transaction (never remembered). */
  async packumentState(key: PackumentKey, trx?: Executor): Promise<PackumentState | undefined> {
    const { db, store } = this.#d;
    if (trx) return store.packumentState(trx, key);
    return this.#packuments.get(`${key.projectId}\0${key.name}`, async () => {
      const found = await store.packumentState(db, key);
      return found && Object.freeze(found);
    });
  }

  async helmIndexState(key: HelmIndexKey): Promise<HelmIndexState | undefined> {
    const { db, store } = this.#d;
    return this.#helmIndexes.get(`${key.projectId}\0${key.channel}`, async () => {
      const found = await store.helmIndexState(db, key);
      return found && Object.freeze(found);
    });
  }

  /** Forgets remembered revisions (they are only ever reused while the database is unchanged anyway). */
  clear(): void {
    this.#packuments.clear();
    this.#helmIndexes.clear();
  }
}
