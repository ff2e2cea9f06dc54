/**
 * Finds projects and groups by `:id` (numeric id or full path, as GitLab's `find_project`) and assembles the
 * contexts the pure rules in `domain/access` decide on.
 */
import type { Kysely } from 'kysely';
import type { Clock } from '../domain/clock.js';
import { iso } from '../domain/clock.js';
import {
  authorizeProject,
  canReadGroup,
  canReadProject,
  type AccessRouteKind,
  type GroupAccessContext,
  type PackageAbility,
  type ProjectAccessContext,
} from '../domain/access/abilities.js';
import { isAccessLevel, type AccessLevel, type Identity } from '../domain/access/identity.js';
import { errors } from '../domain/errors.js';
import type { Database, NamespaceRow, ProjectRow } from '../storage/db/schema.js';
import type { MembersRepository } from '../storage/db/repositories/members.repository.js';
import { parseTraversal, type NamespacesRepository } from '../storage/db/repositories/namespaces.repository.js';
import type { ProjectsRepository } from '../storage/db/repositories/projects.repository.js';

export interface AccessServiceDeps {
  db: Kysely<Database>;
  projects: ProjectsRepository;
  namespaces: NamespacesRepository;
  members: MembersRepository;
  clock: Clock;
}

/** GitLab's `^-?\d+$` rule: a numeric `:id` is an id, anything else a full path. */
const NUMERIC_ID = /^-?\d+$/;

export class AccessService {
  readonly #d: AccessServiceDeps;
  constructor(deps: AccessServiceDeps) {
    this.#d = deps;
  }

  async findProject(idOrPath: string): Promise<ProjectRow | undefined> {
    const { db, projects } = this.#d;
    if (NUMERIC_ID.test(idOrPath)) {
      const id = Number(idOrPath);
      return Number.isSafeInteger(id) && id > 0 ? projects.findById(db, id) : undefined;
    }
    return projects.findByFullPath(db, idOrPath);
  }

  async findGroup(idOrPath: string): Promise<NamespaceRow | undefined> {
    const { db, namespaces } = this.#d;
    if (NUMERIC_ID.test(idOrPath)) {
      const id = Number(idOrPath);
      if (!Number.isSafeInteger(id) || id <= 0) return undefined;
      const ns = await namespaces.findById(db, id);
      return ns?.kind === 'group' ? ns : undefined;
    }
    return namespaces.findGroupByFullPath(db, idOrPath);
  }

  async projectContext(identity: Identity, project: ProjectRow): Promise<ProjectAccessContext> {
    const ns = await this.#d.namespaces.findById(this.#d.db, project.namespace_id);
    const namespaceIds = ns ? parseTraversal(ns.traversal_ids) : [project.namespace_id];
    return {
      projectId: project.id,
      visibility: project.visibility,
      registryAccessLevel: project.package_registry_access_level,
      namespaceIds,
      memberLevel: await this.#memberLevel(identity, namespaceIds, project.id),
    };
  }

  async groupContext(identity: Identity, group: NamespaceRow): Promise<GroupAccessContext> {
    const namespaceIds = parseTraversal(group.traversal_ids);
    const memberLevel = await this.#memberLevel(identity, namespaceIds, null);
    const memberOfDescendant =
      memberLevel === null && identity.kind === 'user'
        ? await this.#d.members.memberBelow(this.#d.db, identity.userId, group.traversal_ids, iso(this.#d.clock.now()))
        : false;
    return { groupId: group.id, visibility: group.visibility, namespaceIds, memberLevel, memberOfDescendant };
  }

  async #memberLevel(identity: Identity, namespaceIds: readonly number[], projectId: number | null): Promise<AccessLevel | null> {
    if (identity.kind !== 'user') return null;
    const level = await this.#d.members.maxLevel(this.#d.db, identity.userId, namespaceIds, projectId, iso(this.#d.clock.now()));
    return level !== null && isAccessLevel(level) ? level : null;
  }

  /**
   * Resolves `:id` and applies GitLab's package-route decision procedure (gitlab-api.md §3.4); returns the project
   * and its context when the caller may go on.
   */
  async authorizePackageAccess(
    identity: Identity,
    idOrPath: string,
    ability: PackageAbility,
    route: AccessRouteKind,
    notFound?: () => Error,
  ): Promise<{ project: ProjectRow; ctx: ProjectAccessContext }> {
    const project = await this.findProject(idOrPath);
    const ctx = project ? await this.projectContext(identity, project) : null;
    authorizeProject(identity, ctx, ability, route, notFound);
    return { project: project!, ctx: ctx! };
  }

  /** A project the caller may see (`read_project`), else GitLab's 404 — never revealing that it exists. */
  async readableProject(identity: Identity, idOrPath: string): Promise<{ project: ProjectRow; ctx: ProjectAccessContext }> {
    const project = await this.findProject(idOrPath);
    if (!project) throw errors.notFound('Project');
    const ctx = await this.projectContext(identity, project);
    if (!canReadProject(identity, ctx)) throw errors.notFound('Project');
    return { project, ctx };
  }

  async readableGroup(identity: Identity, idOrPath: string): Promise<{ group: NamespaceRow; ctx: GroupAccessContext }> {
    const group = await this.findGroup(idOrPath);
    if (!group) throw errors.notFound('Group');
    const ctx = await this.groupContext(identity, group);
    if (!canReadGroup(identity, ctx)) throw errors.notFound('Group');
    return { group, ctx };
  }
}
