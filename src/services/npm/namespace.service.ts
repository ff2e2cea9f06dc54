/**
 * The npm group endpoint (`/groups/:id/-/packages/npm/`) and instance endpoint (`/packages/npm/`): packuments
 * merged across the projects of a namespace tree, and the project the dist-tag and audit routes act on
 * (docs/design/gitlab-compatibility.md#group-and-instance-endpoints, #npm-decision-procedure, #merging-across-projects).
 *
 * A namespace packument read costs two queries while nothing changed: one for the projects holding the name (with
 * their document revisions), one for the caller's memberships. The merged document itself comes from the
 * metadata service's cache, keyed by those revisions.
 */
import type { AccessRouteKind } from '../../domain/access/abilities.js';
import type { Identity } from '../../domain/access/identity.js';
import { errors } from '../../domain/errors.js';
import { scopeOf } from '../../domain/npm/names.js';
import { readableProjects, refuseGroup } from '../../domain/npm/namespace-access.js';
import type { NamespaceRow, NpmTreeProject } from '../../domain/records.js';
import type { Executor } from '../ports.js';
import type { AccessService } from '../access.service.js';
import type { NpmMetadataService, PackumentSet } from './metadata.service.js';

/** The projects of a tree holding a name (`PackagesRepository`). */
export interface NpmTreePackagesPort {
  /**
   * The projects under `traversalPrefix` holding an installable npm package of exactly `name`, whatever the
   * caller's rights, with their document revision for the name; one query.
   */
  npmProjectsInTree(db: Executor, traversalPrefix: string, name: string): Promise<NpmTreeProject[]>;
}

/** The instance endpoint's scope lookup (`NamespacesRepository`). */
export interface NpmScopeNamespacesPort {
  findTopLevelByPath(db: Executor, path: string): Promise<NamespaceRow | undefined>;
}

export interface NpmNamespaceServiceDeps {
  db: Executor;
  packages: NpmTreePackagesPort;
  namespaces: NpmScopeNamespacesPort;
  access: Pick<AccessService, 'visibleGroup' | 'projectContexts'>;
  metadata: Pick<NpmMetadataService, 'mergedPackuments'>;
}

export type NamespacePackument =
  /** No installable package of that name anywhere in the tree (or no such namespace): forward or 404. */
  | { readonly kind: 'missing' }
  | { readonly kind: 'found'; readonly set: PackumentSet };

export class NpmNamespaceService {
  readonly #d: NpmNamespaceServiceDeps;
  constructor(deps: NpmNamespaceServiceDeps) {
    this.#d = deps;
  }

  /** The group of `:id` if the caller may see it (GitLab's `find_group` + `check_group_access`). */
  async group(identity: Identity, idOrPath: string, route: AccessRouteKind): Promise<NamespaceRow> {
    const visible = await this.#d.access.visibleGroup(identity, idOrPath);
    if (!visible) throw refuseGroup(identity, route);
    return visible.group;
  }

  /**
   * The instance endpoint's namespace: the top-level group or user namespace whose path is the package's scope
   * (`Namespace.top_level.by_path(scope_of(name))`); undefined for an unscoped name or an unknown scope.
   */
  async instanceNamespace(name: string): Promise<NamespaceRow | undefined> {
    const scope = scopeOf(name);
    if (scope === null) return undefined;
    return this.#d.namespaces.findTopLevelByPath(this.#d.db, scope);
  }

  /**
   * docs/design/gitlab-compatibility.md#group-and-instance-metadata, steps 2–4: every project of the tree holding the name (whatever the caller's
   * rights), then only those the caller may read — 401/403 when there are some but none readable.
   */
  async packument(identity: Identity, namespace: NamespaceRow | undefined, name: string, scope: 'group' | 'instance'): Promise<NamespacePackument> {
    if (!namespace) return { kind: 'missing' };
    const candidates = await this.#candidates(identity, namespace, name);
    if (candidates.length === 0) return { kind: 'missing' };
    const readable = readableProjects(identity, candidates);
    const set = await this.#d.metadata.mergedPackuments(
      namespace.id,
      name,
      readable.map((c) => ({ projectId: c.row.project_id, revision: c.row.revision, modified: c.row.modified_at })),
      scope === 'group' ? { scope, id: namespace.id } : { scope },
    );
    // Every matching package lost its last installable file: GitLab answers 404 first in that case (docs/design/gitlab-compatibility.md#packument-shape).
    return set ? { kind: 'found', set } : { kind: 'missing' };
  }

  /**
   * The projects whose versions of `name` the namespace packument merges for this caller, with the packument's
   * refusals (401/403 when some hold it but none is readable): what the attestations of a version are looked up in.
   */
  async readableProjectIds(identity: Identity, namespace: NamespaceRow | undefined, name: string): Promise<number[]> {
    if (!namespace) return [];
    return readableProjects(identity, await this.#candidates(identity, namespace, name)).map((c) => c.row.project_id);
  }

  /**
   * The project the namespace dist-tag and audit routes act on: that of the last (highest id) installable package
   * with this exact name in the tree, regardless of the caller's rights (`project_id_or_nil`); none → 404
   * `Project not found`. The caller's rights on it are checked afterwards, as for the project routes.
   */
  async targetProjectId(namespace: NamespaceRow | undefined, name: string): Promise<number> {
    if (!namespace) throw errors.npmNotFound('Project');
    const rows = await this.#d.packages.npmProjectsInTree(this.#d.db, namespace.traversal_ids, name);
    if (rows.length === 0) throw errors.npmNotFound('Project');
    return rows.reduce((a, b) => (b.last_package_id > a.last_package_id ? b : a)).project_id;
  }

  async #candidates(identity: Identity, namespace: NamespaceRow, name: string) {
    const { db, packages, access } = this.#d;
    const rows: NpmTreeProject[] = await packages.npmProjectsInTree(db, namespace.traversal_ids, name);
    const contexts = await access.projectContexts(
      identity,
      rows.map((r) => ({ projectId: r.project_id, visibility: r.visibility, registryAccessLevel: r.package_registry_access_level, traversalIds: r.traversal_ids })),
    );
    return rows.map((row, i) => ({ row, ctx: contexts[i]! }));
  }
}
