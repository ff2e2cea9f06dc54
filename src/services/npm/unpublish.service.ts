/**
 * `npm unpublish` (docs/design/client-protocols.md#npm-unpublish) at project level, which GitLab does not route (docs/design/gitlab-compatibility.md#what-gitlab-leaves-out, #unpublish):
 *
 *   one version   PUT    P/<pkg>/-rev/<rev>            body = the packument without that version
 *                 DELETE P/<pkg>/-/<file>/-rev/<rev>   (after re-reading `_rev`)
 *   the package   DELETE P/<pkg>/-rev/<rev>
 *
 * Each write checks `<rev>` against the package's current revision and moves it on in the same statement, so a
 * stale client gets 409 instead of undoing someone else's change. Versions go with their files and dist-tags in
 * one transaction, and the document revision moves so every packument (project, group, instance)
 * is rebuilt on its next read. Rows are retired (`pending_destruction`) as the packages API retires them, so the
 * version may be published again at once; `gc` later removes the rows and the blobs nothing else references.
 */
import type { ProjectAccessContext } from '../../domain/access/abilities.js';
import type { Identity } from '../../domain/access/identity.js';
import { iso, type Clock } from '../../domain/clock.js';
import { errors } from '../../domain/errors.js';
import { revString } from '../../domain/npm/packument.js';
import { isPlainObject } from '../../domain/npm/publish.js';
import type { PackageFileRow, PackageRow, PackageType, ProjectRow } from '../../domain/records.js';
import type { Connection, Executor } from '../ports.js';
import { packumentKey, type DocumentRevisions } from '../documents/revisions.js';
import { contextOf, type AuditContext } from '../../domain/audit.js';
import type { AuditService } from '../audit.service.js';
import type { NpmProtectionPort } from './ports.js';

/** What unpublish reads of the packages (`PackagesRepository`): installable rows only. */
export interface NpmUnpublishPackagesPort {
  /** Installable packages (one per version) of one name in one project, oldest first. */
  npmPackagesOf(db: Executor, projectId: number, name: string): Promise<PackageRow[]>;
  /** The installable package holding this exact file name, newest first. */
  findInstallableFile(
    db: Executor,
    projectId: number,
    type: PackageType,
    name: string,
    fileName: string,
  ): Promise<{ package: PackageRow; file: PackageFileRow } | undefined>;
}

/** Retiring versions (`PackageDeletionRepository`): out of every packument at once, removed later by `gc`. */
export interface NpmDeletionPort {
  /** Marks the package and its files `pending_destruction` and drops the dist-tags pointing at it. */
  retirePackage(db: Executor, pkg: PackageRow, now: string): Promise<void>;
}

export interface NpmUnpublishServiceDeps {
  db: Connection & Executor;
  packages: NpmUnpublishPackagesPort;
  /** `_rev` is the packument's revision: read and moved (conditionally) inside the transaction. */
  revisions: Pick<DocumentRevisions, 'packumentState' | 'changedIfAt'>;
  deletion: NpmDeletionPort;
  clock: Clock;
  protection: NpmProtectionPort;
  audit: Pick<AuditService, 'record'>;
}

/** Who unpublishes, from which project (the caller's context on it decides against delete-protection rules). */
export interface Unpublisher {
  identity: Identity;
  project: ProjectRow;
  ctx: ProjectAccessContext;
  /** The request's address for the audit log (without it, the event has none). */
  audit?: AuditContext | undefined;
}

export interface UnpublishResult {
  /** Versions removed by this request. */
  readonly removed: string[];
  /** The package's `_rev` afterwards. */
  readonly rev: string;
}

export class NpmUnpublishService {
  readonly #d: NpmUnpublishServiceDeps;
  constructor(deps: NpmUnpublishServiceDeps) {
    this.#d = deps;
  }

  /**
   * `PUT …/-rev/<rev>`: keeps the versions the body still lists and removes the others. A body without a
   * `versions` object (`npm owner add` sends `{_id, _rev, maintainers}`) is refused rather than read as "remove
   * every version".
   */
  async keepVersions(caller: Unpublisher, name: string, rev: string, body: unknown): Promise<UnpublishResult> {
    const { project } = caller;
    if (!isPlainObject(body) || !isPlainObject(body.versions)) {
      throw errors.npmUnpublishBodyInvalid();
    }
    const keep = new Set(Object.keys(body.versions));
    return this.#remove(caller, name, rev, async (trx) => {
      const all = await this.#d.packages.npmPackagesOf(trx, project.id, name);
      if (all.length === 0) throw errors.npmNotFound('Package');
      return all.filter((p) => !keep.has(p.version));
    });
  }

  /** `DELETE …/<pkg>/-/<file>/-rev/<rev>`: the version owning that tarball; 404 when it is already gone. */
  async removeTarball(caller: Unpublisher, name: string, fileName: string, rev: string): Promise<UnpublishResult> {
    const { project } = caller;
    return this.#remove(caller, name, rev, async (trx) => {
      const found = await this.#d.packages.findInstallableFile(trx, project.id, 'npm', name, fileName);
      if (!found) throw errors.npmRecordNotFound('Package file');
      return [found.package];
    });
  }

  /** `DELETE …/<pkg>/-rev/<rev>`: every version of the name in the project. */
  async removePackage(caller: Unpublisher, name: string, rev: string): Promise<UnpublishResult> {
    const { project } = caller;
    return this.#remove(caller, name, rev, async (trx) => {
      const all = await this.#d.packages.npmPackagesOf(trx, project.id, name);
      if (all.length === 0) throw errors.npmNotFound('Package');
      return all;
    });
  }

  async #remove(
    caller: Unpublisher,
    name: string,
    rev: string,
    select: (trx: Executor) => Promise<PackageRow[]>,
  ): Promise<UnpublishResult> {
    const { db, revisions, deletion, clock, protection } = this.#d;
    const { project } = caller;
    const key = packumentKey(project.id, name);
    const revKey = `${project.id}/${name}`;
    const now = iso(clock.now());
    return db.transaction().execute(async (trx) => {
      // First, as before this check moved into the transaction: a protected name answers 403 whatever the rev.
      await protection.require({ action: 'delete', ...caller, type: 'npm', name, surface: 'npm' }, trx);
      const state = await revisions.packumentState(key, trx);
      if (!state) throw errors.npmNotFound('Package');
      const expected = Number(/^(\d+)-/.exec(rev)?.[1]);
      const current = revString(revKey, state.revision);
      if (!Number.isSafeInteger(expected) || revString(revKey, expected) !== rev || expected !== state.revision) {
        throw errors.npmConflict(`Document update conflict: the revision is ${current}, not ${rev}. Read the package again and retry.`);
      }
      const doomed = await select(trx);
      if (doomed.length === 0) return { removed: [], rev: current };
      // The conditional bump is the lock: a concurrent writer with the same rev finds the revision moved.
      if (!(await revisions.changedIfAt(trx, key, expected, now))) {
        throw errors.npmConflict('Document update conflict: the package changed meanwhile. Read it again and retry.');
      }
      for (const pkg of doomed) await deletion.retirePackage(trx, pkg, now);
      for (const pkg of doomed) {
        await this.#d.audit.record(trx, caller.audit ?? contextOf(caller.identity), {
          name: 'package_deleted',
          entity: { type: 'Project', id: project.id, path: project.full_path },
          target: { type: 'Packages::Package', id: pkg.id, details: `${pkg.name}@${pkg.version}` },
          message: `Unpublished npm package ${pkg.name}@${pkg.version}`,
        });
      }
      return { removed: doomed.map((p) => p.version), rev: revString(revKey, expected + 1) };
    });
  }
}
