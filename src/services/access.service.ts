/**
 * Who may read what, in one service: finds projects and groups by `:id` (numeric id or full path, as GitLab's
 * `find_project`), assembles the contexts the pure rules in `domain/access` decide on (one project, or many at once
 * with one membership query), and answers which projects' packages a caller may read. Every package endpoint,
 * listing and page asks here; none loads memberships or derives roles itself (docs/design/access-model.md).
 */
import type { Clock } from '../domain/clock.js';
import { iso } from '../domain/clock.js';
import {
  authorizeProject,
  can,
  canReadGroup,
  canReadProject,
  type AccessRouteKind,
  type GroupAccessContext,
  type PackageAbility,
  type ProjectAccessContext,
} from '../domain/access/abilities.js';
import { isAccessLevel, type AccessLevel, type Identity } from '../domain/access/identity.js';
import { MembershipLevels, type MembershipLevel } from '../domain/access/memberships.js';
import { errors } from '../domain/errors.js';
import { parseTraversal, type NamespaceRow, type ProjectRow } from '../domain/records.js';
import { FreshMemo } from './fresh-memo.js';
import type { ChangeSignal, Executor } from './ports.js';

/** A project as `findProject` loads it: with its namespace's traversal ids, so deciding needs no second query. */
export type ProjectWithTraversal = ProjectRow & { namespace_traversal_ids: string };

/** What an access decision needs of a project, for many projects at once (see `readableProjectsIn`). */
export interface ProjectAccessFacts {
  project_id: number;
  full_path: string;
  visibility: ProjectRow['visibility'];
  package_registry_access_level: ProjectRow['package_registry_access_level'];
  traversal_ids: string;
}

/**
 * The caller's highest unexpired level over a source and its ancestors; `until` is the earliest `expires_at` among
 * the memberships counted (null: none expires).
 */
export interface MaxLevel {
  level: number | null;
  until: string | null;
}

/** What access needs of the projects store (`ProjectsRepository`). */
export interface AccessProjectsPort {
  findById(db: Executor, id: number): Promise<ProjectWithTraversal | undefined>;
  findByFullPath(db: Executor, fullPath: string): Promise<ProjectWithTraversal | undefined>;
  /** Every project (or those in the namespace tree of `withinTraversalIds`) with what access decides on. */
  accessFacts(db: Executor, withinTraversalIds?: string): Promise<ProjectAccessFacts[]>;
}

/** What access needs of the namespaces store (`NamespacesRepository`). */
export interface AccessNamespacesPort {
  findById(db: Executor, id: number): Promise<NamespaceRow | undefined>;
  findGroupByFullPath(db: Executor, fullPath: string): Promise<NamespaceRow | undefined>;
}

/** The caller's memberships (`MembersRepository`); `nowIso` leaves expired ones out. */
export interface AccessMembersPort {
  /** The highest level over the namespaces and the project, aggregated by the database. */
  maxLevel(db: Executor, userId: number, namespaceIds: readonly number[], projectId: number | null, nowIso: string): Promise<MaxLevel>;
  /** The caller's level per source, among these sources. */
  levels(db: Executor, userId: number, namespaceIds: readonly number[], projectIds: readonly number[], nowIso: string): Promise<MembershipLevel[]>;
  /** The caller's level per source, for every source. */
  allLevels(db: Executor, userId: number, nowIso: string): Promise<MembershipLevel[]>;
  /** Whether the caller is a member of a group or project below the namespace with these traversal ids. */
  memberBelow(db: Executor, userId: number, traversalIds: string, nowIso: string): Promise<boolean>;
}

export interface AccessServiceDeps {
  db: Executor;
  projects: AccessProjectsPort;
  namespaces: AccessNamespacesPort;
  members: AccessMembersPort;
  clock: Clock;
  /** Lets project and group lookups skip the database while nothing was written (SQLite). */
  changes: ChangeSignal;
}

/**
 * A project the caller was found to have a package ability on, with the context it was decided on: what a route's
 * declared ability hands to the service it calls (docs/design/access-model.md), which then decides nothing again.
 */
export interface ProjectAccess {
  readonly identity: Identity;
  readonly project: ProjectRow;
  readonly ctx: ProjectAccessContext;
}

/** What `projectContexts` needs of a project, as the package queries return it. */
export interface ProjectFacts {
  readonly projectId: number;
  readonly visibility: ProjectAccessContext['visibility'];
  readonly registryAccessLevel: ProjectAccessContext['registryAccessLevel'];
  /** The traversal ids of the project's namespace (`1/4/`). */
  readonly traversalIds: string;
}

/** GitLab's `^-?\d+$` rule: a numeric `:id` is an id, anything else a full path. */
const NUMERIC_ID = /^-?\d+$/;

/**
 * Above this many namespace and project ids, a batched decision loads all the caller's memberships instead of
 * passing the ids in an `in` list (a whole-instance listing would exceed the databases' bound-parameter limits).
 */
const IN_LIST_LIMIT = 500;

const freeze = <T extends object>(row: T | undefined): T | undefined => (row === undefined ? undefined : Object.freeze(row));

export class AccessService {
  readonly #d: AccessServiceDeps;
  // Every package request starts by finding its project or group: remembered until the next write.
  readonly #projects: FreshMemo<ProjectRow | undefined>;
  readonly #groups: FreshMemo<NamespaceRow | undefined>;
  // Every authenticated request asks for the caller's level: remembered until a write or a membership's expiry.
  readonly #levels: FreshMemo<MaxLevel>;
  constructor(deps: AccessServiceDeps) {
    this.#d = deps;
    this.#projects = new FreshMemo(deps.changes);
    this.#groups = new FreshMemo(deps.changes);
    this.#levels = new FreshMemo(deps.changes);
  }

  /** The project by numeric id or full path. The row is shared with other callers: never mutate it. */
  async findProject(idOrPath: string): Promise<ProjectRow | undefined> {
    return this.#projects.get(idOrPath, async () => {
      const { db, projects } = this.#d;
      if (NUMERIC_ID.test(idOrPath)) {
        const id = Number(idOrPath);
        return Number.isSafeInteger(id) && id > 0 ? freeze(await projects.findById(db, id)) : undefined;
      }
      return freeze(await projects.findByFullPath(db, idOrPath));
    });
  }

  /** The group by numeric id or full path. The row is shared with other callers: never mutate it. */
  async findGroup(idOrPath: string): Promise<NamespaceRow | undefined> {
    return this.#groups.get(idOrPath, async () => {
      const { db, namespaces } = this.#d;
      if (NUMERIC_ID.test(idOrPath)) {
        const id = Number(idOrPath);
        if (!Number.isSafeInteger(id) || id <= 0) return undefined;
        const ns = await namespaces.findById(db, id);
        return ns?.kind === 'group' ? freeze(ns) : undefined;
      }
      return freeze(await namespaces.findGroupByFullPath(db, idOrPath));
    });
  }

  async projectContext(identity: Identity, project: ProjectRow & { namespace_traversal_ids?: string }): Promise<ProjectAccessContext> {
    // Projects loaded through `findProject` carry their namespace's traversal ids: no second query on hot paths.
    const traversal = project.namespace_traversal_ids ?? (await this.#d.namespaces.findById(this.#d.db, project.namespace_id))?.traversal_ids;
    const namespaceIds = traversal ? parseTraversal(traversal) : [project.namespace_id];
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

  /**
   * Access contexts for many projects at once, from what the caller already loaded (visibility, registry level,
   * traversal ids): one membership query for all of them, never one per project. Every decision over several
   * projects (the npm group and instance endpoints, `npm search`, and every listing through `readableProjectsIn`)
   * goes through here, so roles are derived in one place (`MembershipLevels`).
   */
  async projectContexts(identity: Identity, projects: readonly ProjectFacts[]): Promise<ProjectAccessContext[]> {
    const withIds = projects.map((p) => ({ p, namespaceIds: parseTraversal(p.traversalIds) }));
    const levels = await this.#membershipLevels(
      identity,
      [...new Set(withIds.flatMap((x) => x.namespaceIds))],
      [...new Set(projects.map((p) => p.projectId))],
    );
    return withIds.map(({ p, namespaceIds }) => ({
      projectId: p.projectId,
      visibility: p.visibility,
      registryAccessLevel: p.registryAccessLevel,
      namespaceIds,
      memberLevel: levels.of(p.projectId, namespaceIds),
    }));
  }

  /** Of these projects, the ids of those whose packages the caller may read (`read_package`). */
  async packageReadable(identity: Identity, projects: readonly ProjectFacts[]): Promise<Set<number>> {
    const contexts = await this.projectContexts(identity, projects);
    return new Set(contexts.filter((ctx) => can(identity, 'read_package', ctx)).map((ctx) => ctx.projectId));
  }

  /**
   * Every project whose packages the caller may read, with its full path: on the whole instance, or in the tree of
   * `within` (the group and its subgroups). Two queries whatever the number of projects: their access facts, and
   * the caller's memberships. Every listing of packages across projects draws from here (the packages API's group
   * listing, the web's explore and group pages), so they all show the same projects.
   */
  async readableProjectsIn(identity: Identity, within?: NamespaceRow): Promise<Map<number, string>> {
    const rows = await this.#d.projects.accessFacts(this.#d.db, within?.traversal_ids);
    const readable = await this.packageReadable(
      identity,
      rows.map((r) => ({ projectId: r.project_id, visibility: r.visibility, registryAccessLevel: r.package_registry_access_level, traversalIds: r.traversal_ids })),
    );
    const out = new Map<number, string>();
    for (const r of rows) if (readable.has(r.project_id)) out.set(r.project_id, r.full_path);
    return out;
  }

  /** The caller's memberships among these sources: through an `in` list, or all of them when the list is long. */
  async #membershipLevels(identity: Identity, namespaceIds: readonly number[], projectIds: readonly number[]): Promise<MembershipLevels> {
    if (identity.kind !== 'user' || (namespaceIds.length === 0 && projectIds.length === 0)) return MembershipLevels.NONE;
    const { db, members, clock } = this.#d;
    const now = iso(clock.now());
    const rows =
      namespaceIds.length + projectIds.length > IN_LIST_LIMIT
        ? await members.allLevels(db, identity.userId, now)
        : await members.levels(db, identity.userId, namespaceIds, projectIds, now);
    return new MembershipLevels(rows);
  }

  /**
   * The one-project (or one-group) form of `MembershipLevels.of`: the same memberships (the source's own and its
   * ancestors', unexpired), aggregated by the database in one compiled query and remembered, because every
   * authenticated package request asks it.
   */
  async #memberLevel(identity: Identity, namespaceIds: readonly number[], projectId: number | null): Promise<AccessLevel | null> {
    if (identity.kind !== 'user') return null;
    const now = iso(this.#d.clock.now());
    const { level } = await this.#levels.get(
      `${identity.userId}:${projectId ?? ''}:${namespaceIds.join('/')}`,
      () => this.#d.members.maxLevel(this.#d.db, identity.userId, namespaceIds, projectId, now),
      // Compared as the query compares: both are ISO-8601 UTC strings.
      ({ until }) => until === null || until > now,
    );
    return level !== null && isAccessLevel(level) ? level : null;
  }

  /**
   * Resolves `:id` and applies GitLab's package-route decision procedure (docs/design/gitlab-compatibility.md#npm-decision-procedure); returns the project
   * and its context when the caller may go on.
   */
  async authorizePackageAccess(
    identity: Identity,
    idOrPath: string,
    ability: PackageAbility,
    route: AccessRouteKind,
    notFound?: () => Error,
    /** The project as the caller already loaded it by `idOrPath` (null: it does not exist), to save a query. */
    preloaded?: ProjectRow | null,
  ): Promise<{ project: ProjectRow; ctx: ProjectAccessContext }> {
    const project = preloaded !== undefined ? preloaded : await this.findProject(idOrPath);
    const ctx = project ? await this.projectContext(identity, project) : null;
    authorizeProject(identity, ctx, ability, route, notFound);
    return { project: project!, ctx: ctx! };
  }

  /** The project when the caller may see it (`read_project`), else undefined: missing and invisible look alike. */
  async visibleProject(identity: Identity, idOrPath: string): Promise<{ project: ProjectRow; ctx: ProjectAccessContext } | undefined> {
    const project = await this.findProject(idOrPath);
    if (!project) return undefined;
    const ctx = await this.projectContext(identity, project);
    return canReadProject(identity, ctx) ? { project, ctx } : undefined;
  }

  /** The group when the caller may see it (`read_group`), else undefined: missing and invisible look alike. */
  async visibleGroup(identity: Identity, idOrPath: string): Promise<{ group: NamespaceRow; ctx: GroupAccessContext } | undefined> {
    const group = await this.findGroup(idOrPath);
    if (!group) return undefined;
    const ctx = await this.groupContext(identity, group);
    return canReadGroup(identity, ctx) ? { group, ctx } : undefined;
  }

  /** A project the caller may see (`read_project`), else GitLab's 404 — never revealing that it exists. */
  async readableProject(identity: Identity, idOrPath: string): Promise<{ project: ProjectRow; ctx: ProjectAccessContext }> {
    const visible = await this.visibleProject(identity, idOrPath);
    if (!visible) throw errors.notFound('Project');
    return visible;
  }

  async readableGroup(identity: Identity, idOrPath: string): Promise<{ group: NamespaceRow; ctx: GroupAccessContext }> {
    const visible = await this.visibleGroup(identity, idOrPath);
    if (!visible) throw errors.notFound('Group');
    return visible;
  }
}
