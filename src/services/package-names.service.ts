/**
 * Package name ownership within a top-level namespace (Wharf's rule; GitLab only refuses the same name *and
 * version* elsewhere in the namespace). The group and instance npm endpoints merge every project of a namespace
 * that holds a name, so without this a Developer of any sibling project could publish a higher version of a name
 * that lives elsewhere, and every `npm install` through those endpoints would take it as `latest`, past the owning
 * project's members and protection rules.
 *
 * The rule: an npm name belongs to the first project of its top-level namespace that published it; a publish from
 * another project is refused with 403 naming the owner. The owner keeps the name while it holds any package of
 * that name (in any state but being destroyed); once it holds none, the next project to publish the name takes it.
 * Names are compared case-insensitively. The instance setting `npm_package_names_shared_across_projects` restores
 * GitLab's looser rule; ownership is still recorded then, so turning the setting off again protects the original
 * owners.
 *
 * Helm is not subject to it: a chart is only ever served from its own project's channel, never merged across
 * projects.
 */
import type { ProjectAccessContext } from '../domain/access/abilities.js';
import type { Identity } from '../domain/access/identity.js';
import { errors, type AppError } from '../domain/errors.js';
import type { NamespaceRow, PackageType, ProjectRow } from '../domain/records.js';
import type { Executor } from './ports.js';
import type { AccessService } from './access.service.js';
import type { SettingsService } from './settings.service.js';

/** A name in a top-level namespace. */
export interface NameKey {
  rootNamespaceId: number;
  type: PackageType;
  /** As published; stored and compared lower-cased. */
  name: string;
}

/** Who owns which name (`PackageNameOwnersRepository`). */
export interface NameOwnersPort {
  /** The owning project, without locking anything (for an early, advisory refusal). */
  owner(db: Executor, key: NameKey): Promise<number | undefined>;
  /**
   * Records `projectId` as the owner unless the name has one, and returns the owner; the row stays locked until the
   * transaction ends, so a concurrent claim of the same name waits for it.
   */
  claim(db: Executor, key: NameKey, projectId: number, now: string): Promise<number>;
  /** Moves ownership from `from` to `to` (the caller holds the row's lock through `claim`). */
  transfer(db: Executor, key: NameKey, from: number, to: number, now: string): Promise<boolean>;
  /** Whether `projectId` still holds any package of the name (in any state but being destroyed). */
  holds(db: Executor, projectId: number, key: NameKey): Promise<boolean>;
}

/** The top-level namespace a refusal names (`NamespacesRepository`). */
export interface NameNamespacesPort {
  findById(db: Executor, id: number): Promise<NamespaceRow | undefined>;
}

export interface PackageNamesServiceDeps {
  db: Executor;
  owners: NameOwnersPort;
  namespaces: NameNamespacesPort;
  access: Pick<AccessService, 'visibleProject'>;
  settings: Pick<SettingsService, 'get'>;
}

export interface NameUse {
  identity: Identity;
  project: ProjectRow;
  ctx: ProjectAccessContext;
  type: PackageType;
  name: string;
}

/** A claim prepared outside the write transaction (settings read, early refusal done), to be made inside it. */
export interface PreparedClaim {
  readonly key: NameKey;
  readonly projectId: number;
  /** `npm_package_names_shared_across_projects`: record ownership, refuse nothing. */
  readonly shared: boolean;
}

export class PackageNamesService {
  readonly #d: PackageNamesServiceDeps;
  constructor(deps: PackageNamesServiceDeps) {
    this.#d = deps;
  }

  /**
   * Before the write: refuses early (no lock, nothing stored yet) when another project owns the name, and prepares
   * the claim the write transaction makes. Undefined when the name is not subject to ownership.
   */
  async prepare(use: NameUse): Promise<PreparedClaim | undefined> {
    if (use.type !== 'npm') return undefined;
    const rootNamespaceId = use.ctx.namespaceIds[0];
    if (rootNamespaceId === undefined) return undefined;
    const key: NameKey = { rootNamespaceId, type: use.type, name: use.name };
    const { npm_package_names_shared_across_projects: shared } = await this.#d.settings.get();
    if (!shared) {
      const owner = await this.#d.owners.owner(this.#d.db, key);
      if (owner !== undefined && owner !== use.project.id && (await this.#d.owners.holds(this.#d.db, owner, key))) {
        throw await this.refusal(use, owner);
      }
    }
    return { key, projectId: use.project.id, shared };
  }

  /**
   * Inside the write transaction, before anything of the package is written: makes `projectId` the owner of a name
   * nobody owns or whose owner holds no package of it any more. Returns the owning project when the write must be
   * refused (the caller ends the transaction and throws `refusal`), undefined when it may go on.
   */
  async claim(trx: Executor, prepared: PreparedClaim, now: string): Promise<number | undefined> {
    const { owners } = this.#d;
    const { key, projectId } = prepared;
    const owner = await owners.claim(trx, key, projectId, now);
    if (owner === projectId || prepared.shared) return undefined;
    // The row is locked by `claim`: the owner's own publishes wait for this transaction, so what `holds` sees stays true.
    if (await owners.holds(trx, owner, key)) return owner;
    await owners.transfer(trx, key, owner, projectId, now);
    return undefined;
  }

  /** The 403 for a name `ownerProjectId` owns; it names the owner only to a caller who may see that project. */
  async refusal(use: NameUse, ownerProjectId: number): Promise<AppError> {
    const { access, namespaces, db } = this.#d;
    const owner = await access.visibleProject(use.identity, String(ownerProjectId));
    const rootId = use.ctx.namespaceIds[0];
    const root = rootId !== undefined ? await namespaces.findById(db, rootId) : undefined;
    return errors.packageNameOwned(use.name, owner ? owner.project.full_path : null, root?.full_path ?? 'same top-level');
  }
}
