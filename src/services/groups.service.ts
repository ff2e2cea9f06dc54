/** Groups: nested namespaces with a visibility, whose members' roles flow down to subgroups and projects. */
import { iso, type Clock } from '../domain/clock.js';
import { errors, type FieldErrors } from '../domain/errors.js';
import { canAdminister, canReadGroup, listingScope, type Visibility } from '../domain/access/abilities.js';
import type { Identity } from '../domain/access/identity.js';
import { nameProblems, pathProblems } from '../domain/paths.js';
import type { MemberRow, NamespaceRow, Page, PageOf } from '../domain/records.js';
import type { Connection, Executor, UniqueViolations } from './ports.js';
import type { AccessService } from './access.service.js';

export interface CreateGroupInput {
  name: string;
  path: string;
  parent_id?: number | undefined;
  visibility?: Visibility | undefined;
  description?: string | undefined;
}

export const VISIBILITY_RANK: Record<Visibility, number> = { private: 0, internal: 10, public: 20 };
/** GitLab's `Namespace::NUMBER_OF_ANCESTORS_ALLOWED`: a group may have at most 20 ancestors. */
const MAX_ANCESTORS = 20;

/** ActiveRecord reports errors in validation order: name, path, then the rest. */
const FIELD_ORDER = ['name', 'path', 'description', 'visibility_level', 'parent_id'];
const sorted = (fields: FieldErrors): FieldErrors =>
  Object.fromEntries(Object.entries(fields).sort(([a], [b]) => FIELD_ORDER.indexOf(a) - FIELD_ORDER.indexOf(b)));

export interface GroupListFilter {
  /** Restrict to groups the user may see: public, internal (any signed-in user), or where they are a member. */
  visibleToUserId?: number | null;
  /** Anonymous callers see public groups only. */
  publicOnly?: boolean;
  search?: string | undefined;
  topLevelOnly?: boolean;
  ownedOrMemberUserId?: number | undefined;
  /** Memberships that expired before this instant do not count. */
  nowIso?: string | undefined;
}

/** What groups need from the namespaces store (`NamespacesRepository`). */
export interface GroupNamespacesPort extends UniqueViolations {
  /** Inserts the namespace under `parent` (its traversal ids follow from the parent's and its own id). */
  insert(db: Executor, row: Omit<NamespaceRow, 'id' | 'traversal_ids'>, parent?: NamespaceRow): Promise<NamespaceRow>;
  insertRoute(db: Executor, pathLower: string, sourceType: 'namespace' | 'project', sourceId: number): Promise<void>;
  routeExists(db: Executor, pathLower: string): Promise<boolean>;
  findChildByName(db: Executor, parentId: number, name: string): Promise<NamespaceRow | undefined>;
  findByIds(db: Executor, ids: readonly number[]): Promise<NamespaceRow[]>;
  listGroups(db: Executor, filter: GroupListFilter, page: Page): Promise<PageOf<NamespaceRow>>;
  subtreeIds(db: Executor, ns: NamespaceRow): Promise<number[]>;
}

/** The creator's membership (`MembersRepository`). */
export interface GroupMembersPort {
  insert(db: Executor, row: Omit<MemberRow, 'id'>): Promise<MemberRow>;
}

export interface GroupsServiceDeps {
  db: Connection & Executor;
  namespaces: GroupNamespacesPort;
  members: GroupMembersPort;
  access: AccessService;
  clock: Clock;
}

export class GroupsService {
  readonly #d: GroupsServiceDeps;
  constructor(deps: GroupsServiceDeps) {
    this.#d = deps;
  }

  async create(caller: Identity, input: CreateGroupInput): Promise<NamespaceRow> {
    if (caller.kind !== 'user') throw errors.unauthorized();
    const { db, namespaces, members, access, clock } = this.#d;
    let parent: NamespaceRow | undefined;
    if (input.parent_id !== undefined) {
      const found = await access.findGroup(String(input.parent_id));
      if (!found) throw errors.notFound('Group');
      const ctx = await access.groupContext(caller, found);
      if (!canReadGroup(caller, ctx)) throw errors.notFound('Group');
      // Creating subgroups is a Maintainer's right (GitLab's default `subgroup_creation_level`).
      if (!canAdminister(caller, ctx.memberLevel)) throw errors.insufficientAccess();
      parent = found;
    }

    const problems: FieldErrors = {};
    const nameIssues = nameProblems(input.name, 'group');
    if (nameIssues.length) problems.name = nameIssues;
    const pathIssues = pathProblems(input.path, parent ? 'subgroup' : 'top-level-group');
    if (pathIssues.length) problems.path = pathIssues;
    if ((input.description ?? '').length > 500) problems.description = ['is too long (maximum is 500 characters)'];
    const visibility: Visibility = input.visibility ?? (parent ? parent.visibility : 'private');
    if (parent && VISIBILITY_RANK[visibility] > VISIBILITY_RANK[parent.visibility]) {
      problems.visibility_level = [`${visibility} is not allowed since the parent group has a ${parent.visibility} visibility.`];
    }
    // The new group's ancestors are the parent's traversal ids (the parent included).
    if (parent && parent.traversal_ids.split('/').filter(Boolean).length > MAX_ANCESTORS) {
      problems.parent_id = ['has too deep level of nesting'];
    }
    const fullPath = parent ? `${parent.full_path}/${input.path}` : input.path;
    // Uniqueness joins the other validation errors in one answer, as ActiveRecord collects them.
    if (!problems.name && parent && (await namespaces.findChildByName(db, parent.id, input.name))) {
      problems.name = ['has already been taken'];
    }
    if (!problems.path && (await namespaces.routeExists(db, fullPath.toLowerCase()))) problems.path = ['has already been taken'];
    if (Object.keys(problems).length) throw errors.groupSaveFailed(sorted(problems));

    const now = iso(clock.now());
    try {
      return await db.transaction().execute(async (trx) => {
        const ns = await namespaces.insert(
          trx,
          {
            kind: 'group',
            name: input.name,
            path: input.path,
            full_path: fullPath,
            parent_id: parent?.id ?? null,
            owner_id: null,
            visibility,
            description: input.description ?? '',
            created_at: now,
            updated_at: now,
          },
          parent,
        );
        await namespaces.insertRoute(trx, fullPath.toLowerCase(), 'namespace', ns.id);
        // The creator owns what they create, as in GitLab.
        await members.insert(trx, {
          user_id: caller.userId,
          source_type: 'namespace',
          source_id: ns.id,
          access_level: 50,
          expires_at: null,
          created_by_id: caller.userId,
          created_at: now,
        });
        return ns;
      });
    } catch (err) {
      if (namespaces.isUniqueViolation(err)) throw errors.groupSaveFailed({ path: ['has already been taken'] });
      throw err;
    }
  }

  async get(caller: Identity, idOrPath: string): Promise<NamespaceRow> {
    return (await this.#d.access.readableGroup(caller, idOrPath)).group;
  }

  async list(caller: Identity, filter: Omit<GroupListFilter, 'visibleToUserId' | 'publicOnly'>, page: Page): Promise<PageOf<NamespaceRow>> {
    const scope = listingScope(caller);
    const scoped: GroupListFilter =
      scope.kind === 'all' ? filter : scope.kind === 'public' ? { ...filter, publicOnly: true } : { ...filter, visibleToUserId: scope.userId };
    return this.#d.namespaces.listGroups(this.#d.db, { ...scoped, nowIso: iso(this.#d.clock.now()) }, page);
  }

  /** Namespaces (groups and users' personal ones) by id, in no particular order; for names along a path. */
  async namespacesByIds(ids: readonly number[]): Promise<NamespaceRow[]> {
    return this.#d.namespaces.findByIds(this.#d.db, ids);
  }

  /** Ids of the group and every subgroup below it. */
  async subtreeIds(group: NamespaceRow): Promise<number[]> {
    return this.#d.namespaces.subtreeIds(this.#d.db, group);
  }
}
