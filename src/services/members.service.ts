/** Memberships of groups and projects. A group role applies to every subgroup and project below the group. */
import { iso, isoDate, type Clock } from '../domain/clock.js';
import { errors } from '../domain/errors.js';
import { canAdminister } from '../domain/access/abilities.js';
import { isAccessLevel, type AccessLevel, type Identity } from '../domain/access/identity.js';
import { parseTraversal, type MemberRow, type MemberWithUser, type Page, type PageOf, type UserRow } from '../domain/records.js';
import type { Executor, UniqueViolations } from './ports.js';
import type { AccessService } from './access.service.js';
import { isCalendarDate } from './tokens.service.js';
import { contextOf, type AuditContext } from '../domain/audit.js';
import type { AuditService } from './audit.service.js';

type SourceType = MemberRow['source_type'];

export interface MemberSource {
  type: SourceType;
  id: number;
  /** The namespaces above the source (for a project: its namespace and ancestors; for a group: its ancestors). */
  inheritedFrom: readonly number[];
  /** The caller's effective role on the source. */
  callerLevel: AccessLevel | null;
}

export interface AddMemberInput {
  user_id?: number | undefined;
  username?: string | undefined;
  access_level: number;
  expires_at?: string | null | undefined;
}

/** Memberships (`MembersRepository`); it also tells a membership added twice at once. */
export interface MembersPort extends UniqueViolations {
  insert(db: Executor, row: Omit<MemberRow, 'id'>): Promise<MemberRow>;
  find(db: Executor, sourceType: SourceType, sourceId: number, userId: number): Promise<MemberRow | undefined>;
  findWithUser(db: Executor, sourceType: SourceType, sourceId: number, userId: number): Promise<MemberWithUser | undefined>;
  /** `query` matches usernames and names. */
  list(db: Executor, sourceType: SourceType, sourceId: number, page: Page, query?: string): Promise<PageOf<MemberWithUser>>;
  update(db: Executor, id: number, patch: { access_level?: number; expires_at?: string | null }): Promise<MemberRow | undefined>;
  delete(db: Executor, id: number): Promise<void>;
  /**
   * The user's highest level among unexpired memberships of these namespaces (and of the project, when given) at
   * `nowIso`; null when there is none.
   */
  maxLevel(db: Executor, userId: number, namespaceIds: readonly number[], projectId: number | null, nowIso: string): Promise<{ level: number | null }>;
}

/** The user a membership is for (`UsersRepository`). */
export interface MemberUsersPort {
  findById(db: Executor, id: number): Promise<UserRow | undefined>;
  findByUsername(db: Executor, username: string): Promise<UserRow | undefined>;
}

export interface MembersServiceDeps {
  db: Executor;
  members: MembersPort;
  users: MemberUsersPort;
  access: Pick<AccessService, 'readableProject' | 'readableGroup'>;
  clock: Clock;
  audit: AuditService;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'Guest', 20: 'Reporter', 30: 'Developer', 40: 'Maintainer', 50: 'Owner' };

export class MembersService {
  readonly #d: MembersServiceDeps;
  constructor(deps: MembersServiceDeps) {
    this.#d = deps;
  }

  /** Resolves `/projects/:id` or `/groups/:id` to a member source the caller may see. */
  async source(caller: Identity, type: 'project' | 'group', idOrPath: string): Promise<MemberSource> {
    const { access } = this.#d;
    if (type === 'project') {
      const { project, ctx } = await access.readableProject(caller, idOrPath);
      return { type: 'project', id: project.id, inheritedFrom: ctx.namespaceIds, callerLevel: ctx.memberLevel };
    }
    const { group, ctx } = await access.readableGroup(caller, idOrPath);
    return { type: 'namespace', id: group.id, inheritedFrom: parseTraversal(group.traversal_ids).filter((id) => id !== group.id), callerLevel: ctx.memberLevel };
  }

  async add(caller: Identity, source: MemberSource, input: AddMemberInput, audit: AuditContext = contextOf(caller)): Promise<MemberWithUser> {
    const { db, members, users, clock } = this.#d;
    if (caller.kind !== 'user') throw errors.unauthorized();
    if (!canAdminister(caller, source.callerLevel)) throw errors.insufficientAccess();
    if (input.user_id === undefined && input.username === undefined) {
      throw errors.params(['user_id, username are missing, at least one parameter must be provided']);
    }
    if (input.user_id !== undefined && input.username !== undefined) throw errors.params(['user_id, username are mutually exclusive']);
    if (!isAccessLevel(input.access_level)) throw errors.params(['access_level does not have a valid value']);
    // Only Owners hand out the Owner role.
    if (input.access_level === 50 && !caller.isAdmin && (source.callerLevel ?? 0) < 50) throw errors.insufficientAccess();
    const expiresAt = this.#expiry(input.expires_at);

    const user = input.user_id !== undefined ? await users.findById(db, input.user_id) : await users.findByUsername(db, input.username!);
    if (!user) throw errors.notFound('User');
    if (await members.find(db, source.type, source.id, user.id)) throw errors.memberExists();

    const { level: inherited } = await members.maxLevel(db, user.id, source.inheritedFrom, null, iso(clock.now()));
    if (inherited !== null && input.access_level < inherited) {
      throw errors.validation({
        access_level: [`should be greater than or equal to ${LEVEL_NAMES[inherited] ?? inherited} inherited membership from group`],
      });
    }
    try {
      const row = await members.insert(db, {
        user_id: user.id,
        source_type: source.type,
        source_id: source.id,
        access_level: input.access_level,
        expires_at: expiresAt,
        created_by_id: caller.userId,
        created_at: iso(clock.now()),
      });
      await this.#event(audit, 'member_created', source, user.id, user.username, `Added ${user.username} as ${LEVEL_NAMES[row.access_level]}`, {
        field: 'access_level',
        from: null,
        to: LEVEL_NAMES[row.access_level] ?? String(row.access_level),
      });
      return { ...row, username: user.username, name: user.name, state: user.state };
    } catch (err) {
      if (members.isUniqueViolation(err)) throw errors.memberExists();
      throw err;
    }
  }

  async list(source: MemberSource, page: Page, query?: string): Promise<PageOf<MemberWithUser>> {
    return this.#d.members.list(this.#d.db, source.type, source.id, page, query);
  }

  async get(source: MemberSource, userId: number): Promise<MemberWithUser> {
    const found = await this.#d.members.findWithUser(this.#d.db, source.type, source.id, userId);
    if (!found) throw errors.recordNotFound();
    return found;
  }

  async update(
    caller: Identity,
    source: MemberSource,
    userId: number,
    input: { access_level: number; expires_at?: string | null | undefined },
    audit: AuditContext = contextOf(caller),
  ): Promise<MemberWithUser> {
    if (caller.kind !== 'user') throw errors.unauthorized();
    if (!canAdminister(caller, source.callerLevel)) throw errors.insufficientAccess();
    if (!isAccessLevel(input.access_level)) throw errors.params(['access_level does not have a valid value']);
    if (input.access_level === 50 && !caller.isAdmin && (source.callerLevel ?? 0) < 50) throw errors.insufficientAccess();
    const existing = await this.#d.members.find(this.#d.db, source.type, source.id, userId);
    if (!existing) throw errors.recordNotFound();
    // Only Owners change an Owner's role: otherwise a Maintainer could demote the Owners above them.
    if (existing.access_level === 50 && !caller.isAdmin && (source.callerLevel ?? 0) < 50) throw errors.insufficientAccess();
    const patch: { access_level: number; expires_at?: string | null } = { access_level: input.access_level };
    if (input.expires_at !== undefined) patch.expires_at = this.#expiry(input.expires_at);
    await this.#d.members.update(this.#d.db, existing.id, patch);
    const updated = await this.get(source, userId);
    const [from, to] = [LEVEL_NAMES[existing.access_level] ?? String(existing.access_level), LEVEL_NAMES[updated.access_level] ?? String(updated.access_level)];
    await this.#event(audit, 'member_updated', source, userId, updated.username, `Changed ${updated.username}'s role from ${from} to ${to}`, { field: 'access_level', from, to });
    return updated;
  }

  async remove(caller: Identity, source: MemberSource, userId: number, audit: AuditContext = contextOf(caller)): Promise<void> {
    if (caller.kind !== 'user') throw errors.unauthorized();
    const existing: MemberRow | undefined = await this.#d.members.find(this.#d.db, source.type, source.id, userId);
    // Members may leave on their own; removing others needs Maintainer.
    if (!(existing && existing.user_id === caller.userId) && !canAdminister(caller, source.callerLevel)) throw errors.insufficientAccess();
    if (!existing) throw errors.recordNotFound();
    if (existing.access_level === 50 && !caller.isAdmin && (source.callerLevel ?? 0) < 50) throw errors.insufficientAccess();
    await this.#d.members.delete(this.#d.db, existing.id);
    const username = (await this.#d.users.findById(this.#d.db, userId))?.username ?? null;
    const level = LEVEL_NAMES[existing.access_level] ?? String(existing.access_level);
    await this.#event(audit, 'member_destroyed', source, userId, username, `Removed ${username ?? `user ${userId}`} (${level})`, { field: 'access_level', from: level, to: null });
  }

  /** GitLab's member events: on the group or project, targeting the member's user. */
  async #event(
    audit: AuditContext,
    name: 'member_created' | 'member_updated' | 'member_destroyed',
    source: MemberSource,
    userId: number,
    username: string | null,
    message: string,
    change: { field: string; from: string | null; to: string | null },
  ): Promise<void> {
    await this.#d.audit.record(this.#d.db, audit, {
      name,
      entity: { type: source.type === 'project' ? 'Project' : 'Group', id: source.id },
      target: { type: 'User', id: userId, details: username },
      message,
      change,
    });
  }

  #expiry(value: string | null | undefined): string | null {
    if (value === undefined || value === null || value === '') return null;
    if (!isCalendarDate(value)) throw errors.params(['expires_at is invalid']);
    if (value <= isoDate(this.#d.clock.now())) throw errors.validation({ expires_at: ['cannot be a date in the past'] });
    // Stored as the date: compared with the current timestamp, a membership ends when its expiry date begins,
    // as GitLab's `expires_at > today` does.
    return value;
  }
}
