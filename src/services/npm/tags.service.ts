/**
 * `npm dist-tag add` and `npm dist-tag rm` (docs/design/gitlab-compatibility.md#dist-tags), for the project, group and instance routes alike.
 * Each write bumps the package's document revision in the same transaction, so the next packument read shows the
 * change.
 *
 * Moving or removing a tag changes which version `npm install name@tag` (and, for `latest`, a plain `npm install`)
 * takes: to protection rules every tag write is a push of the name, checked in the write's transaction.
 */
import type { Clock } from '../../domain/clock.js';
import { iso } from '../../domain/clock.js';
import { errors } from '../../domain/errors.js';
import type { ProjectAccessContext } from '../../domain/access/abilities.js';
import type { Identity } from '../../domain/access/identity.js';
import type { PackageRow, PackageType, ProjectRow } from '../../domain/records.js';
import type { Connection, Executor } from '../ports.js';
import { packumentKey, type DocumentRevisions } from '../documents/revisions.js';
import type { NpmProtectionPort, NpmTagWritesPort } from './ports.js';

/** What dist-tag writes read and write of the packages (`PackagesRepository`). */
export interface NpmTagsPackagesPort extends NpmTagWritesPort {
  /** The newest installable package of that exact version. */
  findInstallable(db: Executor, projectId: number, type: PackageType, name: string, version: string): Promise<PackageRow | undefined>;
  findTag(db: Executor, projectId: number, name: string, tag: string): Promise<{ id: number; package_id: number } | undefined>;
  deleteTag(db: Executor, id: number): Promise<void>;
}

export interface NpmTagsServiceDeps {
  db: Connection & Executor;
  packages: NpmTagsPackagesPort;
  /** The packument's revision moves with every tag write, in its transaction. */
  revisions: Pick<DocumentRevisions, 'changed'>;
  clock: Clock;
  protection: NpmProtectionPort;
}

/** Who writes the tag, where (the project the route resolved, and the caller's context on it). */
export interface TagWriter {
  identity: Identity;
  project: ProjectRow;
  ctx: ProjectAccessContext;
}

export class NpmTagsService {
  readonly #d: NpmTagsServiceDeps;
  constructor(deps: NpmTagsServiceDeps) {
    this.#d = deps;
  }

  /** Points `tag` at `version`, moving it if the name already has that tag; 404 `Package not found` otherwise. */
  async add(writer: TagWriter, name: string, tag: string, version: string): Promise<void> {
    const { db, packages, revisions, clock, protection } = this.#d;
    const { project } = writer;
    const pkg = await packages.findInstallable(db, project.id, 'npm', name, version);
    if (!pkg) throw errors.npmNotFound('Package');
    const now = iso(clock.now());
    await db.transaction().execute(async (trx) => {
      await protection.require({ action: 'push', ...writer, type: 'npm', name, surface: 'npm' }, trx);
      await packages.upsertTag(trx, project.id, name, tag, pkg.id, now);
      await revisions.changed(trx, packumentKey(project.id, name), now);
    });
  }

  /** Removes the tag (even `latest`, whose place the automatic `latest` then takes); 404 `Package tag not found`. */
  async remove(writer: TagWriter, name: string, tag: string): Promise<void> {
    const { db, packages, revisions, clock, protection } = this.#d;
    const { project } = writer;
    const now = iso(clock.now());
    await db.transaction().execute(async (trx) => {
      const found = await packages.findTag(trx, project.id, name, tag);
      if (!found) throw errors.npmNotFound('Package tag');
      await protection.require({ action: 'push', ...writer, type: 'npm', name, surface: 'npm' }, trx);
      await packages.deleteTag(trx, found.id);
      await revisions.changed(trx, packumentKey(project.id, name), now);
    });
  }
}
