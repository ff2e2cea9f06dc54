/** Projects: where packages live, with a visibility and a package registry access level. */
import { iso, type Clock } from '../domain/clock.js';
import { errors, type FieldErrors } from '../domain/errors.js';
import { canAdminister, listingScope, type RegistryAccessLevel, type Visibility } from '../domain/access/abilities.js';
import type { Identity } from '../domain/access/identity.js';
import { nameProblems, pathFromName, pathProblems } from '../domain/paths.js';
import type { NamespaceRow, Page, PageOf, ProjectRow, UserRow } from '../domain/records.js';
import type { Connection, Executor, UniqueViolations } from './ports.js';
import type { AccessService } from './access.service.js';
import { VISIBILITY_RANK } from './groups.service.js';

export interface CreateProjectInput {
  name?: string | undefined;
  path?: string | undefined;
  namespace_id?: number | undefined;
  visibility?: Visibility | undefined;
  description?: string | undefined;
  package_registry_access_level?: RegistryAccessLevel | undefined;
}

export interface UpdateProjectInput {
  name?: string | undefined;
  description?: string | undefined;
  visibility?: Visibility | undefined;
  package_registry_access_level?: RegistryAccessLevel | undefined;
}

export interface ProjectListFilter {
  /** null = anonymous: public projects only. A number: public, internal, and projects the user is a member of
   *  directly or through a group. undefined = no visibility filter (admins). */
  visibleToUserId?: number | null;
  membershipUserId?: number | undefined;
  search?: string | undefined;
  visibility?: string | undefined;
  /** Only projects in these namespaces. */
  namespaceIds?: readonly number[] | undefined;
  /** Memberships that expired before this instant do not count. */
  nowIso?: string | undefined;
}

/** Where projects are kept (`ProjectsRepository`). */
export interface ProjectsPort {
  insert(db: Executor, row: Omit<ProjectRow, 'id'>): Promise<ProjectRow>;
  /** The project of that name in the namespace (names are unique per namespace). */
  findByName(db: Executor, namespaceId: number, name: string): Promise<ProjectRow | undefined>;
  /** The updated project; undefined when there is none with that id. */
  update(db: Executor, id: number, patch: Partial<Omit<ProjectRow, 'id'>>): Promise<ProjectRow | undefined>;
  list(db: Executor, filter: ProjectListFilter, page: Page): Promise<PageOf<ProjectRow>>;
}

/** The namespace a project lives in, and the routes that make paths unique (`NamespacesRepository`). */
export interface ProjectNamespacesPort extends UniqueViolations {
  findById(db: Executor, id: number): Promise<NamespaceRow | undefined>;
  insertRoute(db: Executor, pathLower: string, sourceType: 'namespace' | 'project', sourceId: number): Promise<void>;
  routeExists(db: Executor, pathLower: string): Promise<boolean>;
}

/** The caller's personal namespace, the default home of a new project (`UsersRepository`). */
export interface ProjectUsersPort {
  findById(db: Executor, id: number): Promise<UserRow | undefined>;
}

export interface ProjectsServiceDeps {
  db: Connection & Executor;
  projects: ProjectsPort;
  namespaces: ProjectNamespacesPort;
  users: ProjectUsersPort;
  access: Pick<AccessService, 'groupContext' | 'readableProject'>;
  clock: Clock;
}

/** A project is never more visible than its namespace: GitLab lowers it quietly. */
const capVisibility = (wanted: Visibility, ns: NamespaceRow): Visibility =>
  ns.kind === 'group' && VISIBILITY_RANK[wanted] > VISIBILITY_RANK[ns.visibility] ? ns.visibility : wanted;

export class ProjectsService {
  readonly #d: ProjectsServiceDeps;
  constructor(deps: ProjectsServiceDeps) {
    this.#d = deps;
  }

  async create(caller: Identity, input: CreateProjectInput): Promise<ProjectRow> {
    if (caller.kind !== 'user') throw errors.unauthorized();
    const { db, projects, namespaces, users, access, clock } = this.#d;
    if (input.name === undefined && input.path === undefined) {
      throw errors.params(['name, path are missing, at least one parameter must be provided']);
    }
    const name = input.name ?? input.path!;
    const path = input.path ?? (pathProblems(name, 'project').length === 0 ? name : pathFromName(name));

    let ns: NamespaceRow | undefined;
    if (input.namespace_id === undefined) {
      const me = await users.findById(db, caller.userId);
      ns = me?.namespace_id ? await namespaces.findById(db, me.namespace_id) : undefined;
    } else {
      ns = await namespaces.findById(db, input.namespace_id);
    }
    // Developers may create projects in a group (GitLab's default `project_creation_level`); a personal
    // namespace is its owner's alone.
    if (!ns) throw errors.validation({ namespace: ['is not valid'] });
    if (ns.kind === 'user' && ns.owner_id !== caller.userId && !caller.isAdmin) {
      throw errors.validation({ namespace: ['is not valid'] });
    }
    if (ns.kind === 'group') {
      const ctx = await access.groupContext(caller, ns);
      if (!caller.isAdmin && (ctx.memberLevel ?? 0) < 30) throw errors.validation({ namespace: ['is not valid'] });
    }

    const problems: FieldErrors = {};
    const nameIssues = nameProblems(name, 'project');
    if (nameIssues.length) problems.name = nameIssues;
    const pathIssues = pathProblems(path, 'project');
    if (pathIssues.length) problems.path = pathIssues;
    if ((input.description ?? '').length > 2000) problems.description = ['is too long (maximum is 2000 characters)'];
    if (Object.keys(problems).length) throw errors.validation(problems);

    const fullPath = `${ns.full_path}/${path}`;
    // GitLab: the name is unique in its namespace and the path unique among all routes; both come back together.
    const duplicates: FieldErrors = {};
    if (await projects.findByName(db, ns.id, name)) duplicates.name = ['has already been taken'];
    if (await namespaces.routeExists(db, fullPath.toLowerCase())) duplicates.path = ['has already been taken'];
    if (Object.keys(duplicates).length) throw errors.validation(duplicates);
    const taken = (): never => {
      throw errors.validation({ name: ['has already been taken'], path: ['has already been taken'] });
    };

    const now = iso(clock.now());
    try {
      return await db.transaction().execute(async (trx) => {
        const project = await projects.insert(trx, {
          namespace_id: ns.id,
          name,
          path,
          full_path: fullPath,
          description: input.description ?? '',
          visibility: capVisibility(input.visibility ?? 'private', ns),
          package_registry_access_level: input.package_registry_access_level ?? 'enabled',
          creator_id: caller.userId,
          created_at: now,
          updated_at: now,
        });
        await namespaces.insertRoute(trx, fullPath.toLowerCase(), 'project', project.id);
        return project;
      });
    } catch (err) {
      // The name (projects) or the path (routes) was taken meanwhile; either store's driver error reads the same.
      if (namespaces.isUniqueViolation(err)) return taken();
      throw err;
    }
  }

  async get(caller: Identity, idOrPath: string): Promise<ProjectRow> {
    return (await this.#d.access.readableProject(caller, idOrPath)).project;
  }

  async update(caller: Identity, idOrPath: string, input: UpdateProjectInput): Promise<ProjectRow> {
    const { db, projects, namespaces, access, clock } = this.#d;
    const { project, ctx } = await access.readableProject(caller, idOrPath);
    if (!canAdminister(caller, ctx.memberLevel)) throw errors.insufficientAccess();
    const given = Object.entries(input).filter(([, v]) => v !== undefined);
    if (given.length === 0) {
      throw errors.params(['name, description, visibility, package_registry_access_level are missing, at least one parameter must be provided']);
    }
    const problems: FieldErrors = {};
    if (input.name !== undefined) {
      const issues = nameProblems(input.name, 'project');
      const other = issues.length === 0 ? await projects.findByName(db, project.namespace_id, input.name) : undefined;
      if (other && other.id !== project.id) issues.push('has already been taken');
      if (issues.length) problems.name = issues;
    }
    if (input.description !== undefined && input.description.length > 2000) {
      problems.description = ['is too long (maximum is 2000 characters)'];
    }
    if (input.visibility !== undefined) {
      const ns = await namespaces.findById(db, project.namespace_id);
      if (ns && capVisibility(input.visibility, ns) !== input.visibility) {
        problems.visibility_level = [`${input.visibility} is not allowed in a ${ns.visibility} group.`];
      }
    }
    if (Object.keys(problems).length) throw errors.validation(problems);
    const patch: Partial<ProjectRow> = { updated_at: iso(clock.now()) };
    if (input.name !== undefined) patch.name = input.name;
    if (input.description !== undefined) patch.description = input.description;
    if (input.visibility !== undefined) patch.visibility = input.visibility;
    if (input.package_registry_access_level !== undefined) patch.package_registry_access_level = input.package_registry_access_level;
    const updated = await projects.update(db, project.id, patch);
    if (!updated) throw errors.notFound('Project');
    return updated;
  }

  async list(caller: Identity, filter: Omit<ProjectListFilter, 'visibleToUserId'>, page: Page): Promise<PageOf<ProjectRow>> {
    // `membershipUserId`, when given, narrows further in the repository, whatever the scope.
    const scope = listingScope(caller);
    const scoped: ProjectListFilter = scope.kind === 'all' ? filter : { ...filter, visibleToUserId: scope.kind === 'public' ? null : scope.userId };
    return this.#d.projects.list(this.#d.db, { ...scoped, nowIso: iso(this.#d.clock.now()) }, page);
  }

  async namespaceOf(project: ProjectRow): Promise<NamespaceRow | undefined> {
    return this.#d.namespaces.findById(this.#d.db, project.namespace_id);
  }
}
