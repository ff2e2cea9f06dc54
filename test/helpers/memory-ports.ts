/**
 * In-memory implementations of the ports the services declare, for the service tier (`test/service/`): the rules
 * of a service run against plain arrays, with no database to open and no schema to migrate.
 *
 * They keep what the services rely on and nothing more: ids handed out in order, lookups case-insensitive where the
 * repositories' are, unique constraints that throw (and are recognised by `isUniqueViolation`), and transactions
 * that roll every table back when their work throws. Each write moves `changes`, the change signal, as the SQLite
 * signal does. What the SQL itself gets right (filters, paging, locking) stays the integration tier's to test.
 */
import type { AccessService } from '../../src/services/access.service.js';
import { AuditService, type AuditEventFilter, type AuditEventsPort } from '../../src/services/audit.service.js';
import type { ChangeSignal, Connection, Executor } from '../../src/services/ports.js';
import type { MembersPort } from '../../src/services/members.service.js';
import type { ProtectionRulePatch, ProtectionRulesPort } from '../../src/services/protection.service.js';
import type { SettingsPort } from '../../src/services/settings.service.js';
import type { PatFilter, TokensPort } from '../../src/services/tokens.service.js';
import type { UserFilter, UsersPort } from '../../src/services/users.service.js';
import type { IdentityTokensPort } from '../../src/services/identity.service.js';
import type { ProjectAccessContext, GroupAccessContext } from '../../src/domain/access/abilities.js';
import type { AccessLevel, Identity, UserIdentity } from '../../src/domain/access/identity.js';
import { errors } from '../../src/domain/errors.js';
import type { Clock } from '../../src/domain/clock.js';
import type {
  AuditEventRow,
  DeployTokenRow,
  MemberRow,
  MemberWithUser,
  NamespaceRow,
  PackageType,
  Page,
  PageOf,
  PersonalAccessTokenRow,
  ProjectRow,
  ProtectionRuleRow,
  UserRow,
} from '../../src/domain/records.js';

/** What a unique index refuses; only the memory ports throw it. */
export class MemoryUniqueViolation extends Error {}

const isMemoryUniqueViolation = (err: unknown): boolean => err instanceof MemoryUniqueViolation;

const pageOf = <T>(all: readonly T[], page: Page): PageOf<T> => ({
  items: all.slice((page.page - 1) * page.perPage, page.page * page.perPage),
  total: all.length,
});

/** Every table of the memory database. */
interface Tables {
  users: UserRow[];
  namespaces: NamespaceRow[];
  routes: { path_lower: string; source_type: 'namespace' | 'project'; source_id: number }[];
  members: MemberRow[];
  pats: PersonalAccessTokenRow[];
  deployTokens: DeployTokenRow[];
  settings: Record<string, unknown>;
  rules: ProtectionRuleRow[];
  events: AuditEventRow[];
  /** The last id handed out per table. */
  ids: Record<string, number>;
}

const emptyTables = (): Tables => ({
  users: [],
  namespaces: [],
  routes: [],
  members: [],
  pats: [],
  deployTokens: [],
  settings: {},
  rules: [],
  events: [],
  ids: {},
});

/**
 * The memory database: the tables, a connection whose transactions roll back on a throw, and the change signal.
 * Ports take it (or the transaction, which is the same object) as their executor.
 */
export class MemoryDatabase implements Connection, ChangeSignal {
  t: Tables = emptyTables();
  #version = 0;

  transaction(): { execute<T>(work: (trx: Executor) => Promise<T>): Promise<T> } {
    return {
      execute: async <T>(work: (trx: Executor) => Promise<T>): Promise<T> => {
        const saved = structuredClone(this.t);
        try {
          return await work(this);
        } catch (err) {
          this.t = saved;
          this.#version++;
          throw err;
        }
      },
    };
  }

  current(): number {
    return this.#version;
  }

  /** Marks a write (the change signal moves) and returns the next id of `table`. */
  wrote(table?: string): number {
    this.#version++;
    if (table === undefined) return 0;
    const id = (this.t.ids[table] ?? 0) + 1;
    this.t.ids[table] = id;
    return id;
  }
}

export class MemoryUsers implements UsersPort {
  constructor(private readonly m: MemoryDatabase) {}
  isUniqueViolation = isMemoryUniqueViolation;
  async insert(_db: Executor, row: Omit<UserRow, 'id'>): Promise<UserRow> {
    if (this.m.t.users.some((u) => u.username_lower === row.username_lower || u.email_lower === row.email_lower)) throw new MemoryUniqueViolation('users');
    const user = { ...row, id: this.m.wrote('users') };
    this.m.t.users.push(user);
    return { ...user };
  }
  async findById(_db: Executor, id: number): Promise<UserRow | undefined> {
    return this.m.t.users.find((u) => u.id === id);
  }
  async findByUsername(_db: Executor, username: string): Promise<UserRow | undefined> {
    return this.m.t.users.find((u) => u.username_lower === username.toLowerCase());
  }
  async findByEmail(_db: Executor, email: string): Promise<UserRow | undefined> {
    return this.m.t.users.find((u) => u.email_lower === email.toLowerCase());
  }
  async count(): Promise<number> {
    return this.m.t.users.length;
  }
  async list(_db: Executor, filter: UserFilter, page: Page): Promise<PageOf<UserRow>> {
    const q = filter.search?.toLowerCase();
    const found = this.m.t.users.filter(
      (u) =>
        (filter.username === undefined || u.username_lower === filter.username.toLowerCase()) &&
        (q === undefined || u.username_lower.includes(q) || u.name.toLowerCase().includes(q) || (filter.searchEmail === true && u.email_lower.includes(q))),
    );
    return pageOf(found, page);
  }
  async update(_db: Executor, id: number, patch: Partial<Omit<UserRow, 'id'>>): Promise<UserRow | undefined> {
    const user = this.m.t.users.find((u) => u.id === id);
    if (!user) return undefined;
    Object.assign(user, patch);
    this.m.wrote();
    return { ...user };
  }

  /** A user as the fixtures need one: active, with a personal namespace of the same path. */
  async add(username: string, fields: Partial<Omit<UserRow, 'id'>> = {}): Promise<UserRow> {
    const now = '2026-01-01T00:00:00.000Z';
    const ns = new MemoryNamespaces(this.m);
    const namespace = await ns.insert(this.m, {
      kind: 'user', name: username, path: username, full_path: username, parent_id: null, owner_id: null,
      visibility: 'public', description: '', created_at: now, updated_at: now,
    });
    const user = await this.insert(this.m, {
      username, username_lower: username.toLowerCase(), name: username, email: `${username}@example.com`,
      email_lower: `${username}@example.com`.toLowerCase(), password_hash: null, is_admin: 0, state: 'active',
      namespace_id: namespace.id, created_at: now, updated_at: now, ...fields,
    });
    await ns.setOwner(this.m, namespace.id, user.id);
    return user;
  }
}

export class MemoryNamespaces {
  constructor(private readonly m: MemoryDatabase) {}
  isUniqueViolation = isMemoryUniqueViolation;
  async insert(_db: Executor, row: Omit<NamespaceRow, 'id' | 'traversal_ids'>, parent?: NamespaceRow): Promise<NamespaceRow> {
    const id = this.m.wrote('namespaces');
    const ns = { ...row, id, traversal_ids: `${parent ? parent.traversal_ids : ''}${id}/` };
    this.m.t.namespaces.push(ns);
    return { ...ns };
  }
  async insertRoute(_db: Executor, pathLower: string, sourceType: 'namespace' | 'project', sourceId: number): Promise<void> {
    if (this.m.t.routes.some((r) => r.path_lower === pathLower)) throw new MemoryUniqueViolation('routes');
    this.m.wrote();
    this.m.t.routes.push({ path_lower: pathLower, source_type: sourceType, source_id: sourceId });
  }
  async routeExists(_db: Executor, pathLower: string): Promise<boolean> {
    return this.m.t.routes.some((r) => r.path_lower === pathLower);
  }
  async setOwner(_db: Executor, namespaceId: number, ownerId: number): Promise<void> {
    const ns = this.m.t.namespaces.find((n) => n.id === namespaceId);
    if (ns) ns.owner_id = ownerId;
    this.m.wrote();
  }
  async findById(_db: Executor, id: number): Promise<NamespaceRow | undefined> {
    return this.m.t.namespaces.find((n) => n.id === id);
  }
}

export class MemoryMembers implements MembersPort {
  constructor(private readonly m: MemoryDatabase) {}
  isUniqueViolation = isMemoryUniqueViolation;
  async insert(_db: Executor, row: Omit<MemberRow, 'id'>): Promise<MemberRow> {
    if (this.m.t.members.some((x) => x.source_type === row.source_type && x.source_id === row.source_id && x.user_id === row.user_id)) {
      throw new MemoryUniqueViolation('members');
    }
    const member = { ...row, id: this.m.wrote('members') };
    this.m.t.members.push(member);
    return { ...member };
  }
  async find(_db: Executor, sourceType: MemberRow['source_type'], sourceId: number, userId: number): Promise<MemberRow | undefined> {
    const found = this.m.t.members.find((x) => x.source_type === sourceType && x.source_id === sourceId && x.user_id === userId);
    return found && { ...found };
  }
  async findWithUser(db: Executor, sourceType: MemberRow['source_type'], sourceId: number, userId: number): Promise<MemberWithUser | undefined> {
    const member = await this.find(db, sourceType, sourceId, userId);
    return member && this.#withUser(member);
  }
  async list(_db: Executor, sourceType: MemberRow['source_type'], sourceId: number, page: Page, query?: string): Promise<PageOf<MemberWithUser>> {
    const all = this.m.t.members
      .filter((x) => x.source_type === sourceType && x.source_id === sourceId)
      .map((x) => this.#withUser(x))
      .filter((x) => !query || x.username.toLowerCase().includes(query.toLowerCase()) || x.name.toLowerCase().includes(query.toLowerCase()));
    return pageOf(all, page);
  }
  async update(_db: Executor, id: number, patch: { access_level?: number; expires_at?: string | null }): Promise<MemberRow | undefined> {
    const member = this.m.t.members.find((x) => x.id === id);
    if (!member) return undefined;
    Object.assign(member, patch);
    this.m.wrote();
    return { ...member };
  }
  async delete(_db: Executor, id: number): Promise<void> {
    this.m.t.members = this.m.t.members.filter((x) => x.id !== id);
    this.m.wrote();
  }
  async maxLevel(_db: Executor, userId: number, namespaceIds: readonly number[], projectId: number | null, nowIso: string): Promise<{ level: number | null }> {
    const levels = this.m.t.members
      .filter(
        (x) =>
          x.user_id === userId &&
          ((x.source_type === 'namespace' && namespaceIds.includes(x.source_id)) || (x.source_type === 'project' && x.source_id === projectId)) &&
          (x.expires_at === null || x.expires_at > nowIso),
      )
      .map((x) => x.access_level);
    return { level: levels.length ? Math.max(...levels) : null };
  }
  #withUser(member: MemberRow): MemberWithUser {
    const user = this.m.t.users.find((u) => u.id === member.user_id);
    if (!user) throw new Error(`member ${member.id} has no user`);
    return { ...member, username: user.username, name: user.name, state: user.state };
  }
}

export class MemoryTokens implements TokensPort, IdentityTokensPort {
  constructor(private readonly m: MemoryDatabase) {}
  async insertPersonal(_db: Executor, row: Omit<PersonalAccessTokenRow, 'id'>): Promise<PersonalAccessTokenRow> {
    const pat = { ...row, id: this.m.wrote('pats') };
    this.m.t.pats.push(pat);
    return { ...pat };
  }
  async findPersonalByDigest(_db: Executor, digest: string): Promise<PersonalAccessTokenRow | undefined> {
    return this.m.t.pats.find((p) => p.token_digest === digest);
  }
  async findPersonalById(_db: Executor, id: number): Promise<PersonalAccessTokenRow | undefined> {
    return this.m.t.pats.find((p) => p.id === id);
  }
  async listPersonal(_db: Executor, filter: PatFilter, page: Page, todayIso: string): Promise<PageOf<PersonalAccessTokenRow>> {
    const active = (p: PersonalAccessTokenRow) => !p.revoked && (p.expires_at === null || p.expires_at > todayIso);
    const all = this.m.t.pats.filter(
      (p) =>
        (filter.userId === undefined || p.user_id === filter.userId) &&
        (filter.revoked === undefined || Boolean(p.revoked) === filter.revoked) &&
        (filter.state === undefined || active(p) === (filter.state === 'active')),
    );
    return pageOf(all, page);
  }
  async revokePersonal(_db: Executor, id: number): Promise<void> {
    const pat = this.m.t.pats.find((p) => p.id === id);
    if (pat) pat.revoked = 1;
    this.m.wrote();
  }
  async touchPersonal(_db: Executor, id: number, at: string): Promise<void> {
    const pat = this.m.t.pats.find((p) => p.id === id);
    if (pat) pat.last_used_at = at;
    this.m.wrote();
  }
  async insertDeploy(_db: Executor, row: Omit<DeployTokenRow, 'id'>): Promise<DeployTokenRow> {
    const token = { ...row, id: this.m.wrote('deployTokens') };
    this.m.t.deployTokens.push(token);
    return { ...token };
  }
  async setDeployUsername(_db: Executor, id: number, username: string): Promise<void> {
    const token = this.m.t.deployTokens.find((d) => d.id === id);
    if (token) token.username = username;
    this.m.wrote();
  }
  async findDeployByDigest(_db: Executor, digest: string): Promise<DeployTokenRow | undefined> {
    return this.m.t.deployTokens.find((d) => d.token_digest === digest);
  }
  async findDeployById(_db: Executor, id: number): Promise<DeployTokenRow | undefined> {
    return this.m.t.deployTokens.find((d) => d.id === id);
  }
  async listDeploy(_db: Executor, owner: { projectId: number } | { groupId: number }, page: Page, activeOnly: boolean, nowIso: string): Promise<PageOf<DeployTokenRow>> {
    const all = this.m.t.deployTokens.filter(
      (d) =>
        ('projectId' in owner ? d.project_id === owner.projectId : d.group_id === owner.groupId) &&
        (!activeOnly || (!d.revoked && (d.expires_at === null || d.expires_at > nowIso))),
    );
    return pageOf(all, page);
  }
  async deleteDeploy(_db: Executor, id: number): Promise<void> {
    this.m.t.deployTokens = this.m.t.deployTokens.filter((d) => d.id !== id);
    this.m.wrote();
  }
}

export class MemorySettings implements SettingsPort {
  constructor(private readonly m: MemoryDatabase) {}
  /** How many times the stored settings were read (a remembered answer costs none). */
  reads = 0;
  async all(): Promise<Record<string, unknown>> {
    this.reads++;
    return structuredClone(this.m.t.settings);
  }
  async put(_db: Executor, values: Record<string, unknown>): Promise<void> {
    Object.assign(this.m.t.settings, structuredClone(values));
    this.m.wrote();
  }
}

export class MemoryProtectionRules implements ProtectionRulesPort {
  constructor(private readonly m: MemoryDatabase) {}
  isUniqueViolation = isMemoryUniqueViolation;
  #taken(row: Pick<ProtectionRuleRow, 'project_id' | 'package_type' | 'package_name_pattern'>, except?: number): boolean {
    return this.m.t.rules.some(
      (r) => r.id !== except && r.project_id === row.project_id && r.package_type === row.package_type && r.package_name_pattern === row.package_name_pattern,
    );
  }
  async list(_db: Executor, projectId: number): Promise<ProtectionRuleRow[]> {
    return this.m.t.rules.filter((r) => r.project_id === projectId).map((r) => ({ ...r }));
  }
  async forType(_db: Executor, projectId: number, type: PackageType): Promise<ProtectionRuleRow[]> {
    return this.m.t.rules.filter((r) => r.project_id === projectId && r.package_type === type).map((r) => ({ ...r }));
  }
  async find(_db: Executor, projectId: number, id: number): Promise<ProtectionRuleRow | undefined> {
    const rule = this.m.t.rules.find((r) => r.project_id === projectId && r.id === id);
    return rule && { ...rule };
  }
  async insert(_db: Executor, row: Omit<ProtectionRuleRow, 'id'>): Promise<ProtectionRuleRow> {
    if (this.#taken(row)) throw new MemoryUniqueViolation('package_protection_rules');
    const rule = { ...row, id: this.m.wrote('rules') };
    this.m.t.rules.push(rule);
    return { ...rule };
  }
  async update(_db: Executor, projectId: number, id: number, patch: ProtectionRulePatch): Promise<ProtectionRuleRow | undefined> {
    const rule = this.m.t.rules.find((r) => r.project_id === projectId && r.id === id);
    if (!rule) return undefined;
    if (this.#taken({ ...rule, ...patch }, id)) throw new MemoryUniqueViolation('package_protection_rules');
    Object.assign(rule, patch);
    this.m.wrote();
    return { ...rule };
  }
  async delete(_db: Executor, projectId: number, id: number): Promise<boolean> {
    const before = this.m.t.rules.length;
    this.m.t.rules = this.m.t.rules.filter((r) => !(r.project_id === projectId && r.id === id));
    this.m.wrote();
    return this.m.t.rules.length < before;
  }
}

export class MemoryAuditEvents implements AuditEventsPort {
  constructor(private readonly m: MemoryDatabase) {}
  async insert(_db: Executor, row: Omit<AuditEventRow, 'id'>): Promise<void> {
    this.m.t.events.push({ ...row, id: this.m.wrote('events') });
  }
  async list(_db: Executor, filter: AuditEventFilter, page: Page): Promise<PageOf<AuditEventRow>> {
    const all = this.m.t.events
      .filter(
        (e) =>
          (filter.createdAfter === undefined || e.created_at >= filter.createdAfter) &&
          (filter.createdBefore === undefined || e.created_at <= filter.createdBefore) &&
          (filter.entityType === undefined || e.entity_type === filter.entityType) &&
          (filter.entityId === undefined || e.entity_id === filter.entityId),
      )
      .reverse();
    return pageOf(all, page);
  }
  async find(_db: Executor, id: number): Promise<AuditEventRow | undefined> {
    return this.m.t.events.find((e) => e.id === id);
  }
  async entityPath(_db: Executor, type: 'User' | 'Group' | 'Project', id: number): Promise<string | null> {
    if (type === 'User') return this.m.t.users.find((u) => u.id === id)?.username ?? null;
    return this.m.t.namespaces.find((n) => n.id === id && n.kind === 'group')?.full_path ?? null;
  }
  async deleteOlderThan(_db: Executor, before: string, limit: number): Promise<number> {
    const old = this.m.t.events.filter((e) => e.created_at < before).slice(0, limit);
    this.m.t.events = this.m.t.events.filter((e) => !old.includes(e));
    this.m.wrote();
    return old.length;
  }
  async countOlderThan(_db: Executor, before: string): Promise<number> {
    return this.m.t.events.filter((e) => e.created_at < before).length;
  }
}

/** One memory database with every port on it, and a real audit service writing into it. */
export function memoryPorts(clock: Clock) {
  const db = new MemoryDatabase();
  const users = new MemoryUsers(db);
  return {
    db,
    users,
    namespaces: new MemoryNamespaces(db),
    members: new MemoryMembers(db),
    tokens: new MemoryTokens(db),
    settings: new MemorySettings(db),
    rules: new MemoryProtectionRules(db),
    audit: new AuditService({ db, events: new MemoryAuditEvents(db), users, clock }),
    /** The events recorded so far, oldest first, with `details` parsed. */
    events: () => db.t.events.map((e) => ({ ...e, details: JSON.parse(e.details) as Record<string, unknown> })),
  };
}

/** A project as the access service hands it to a service, and the caller's role on it. */
export interface ProjectFixture {
  project: ProjectRow;
  /** The project's namespace and its ancestors. */
  namespaceIds: number[];
  /** Each user's effective role on the project (the highest of their memberships). */
  levels: Map<number, AccessLevel>;
}

export function projectFixture(id: number, fullPath: string, namespaceIds: number[], levels: Record<number, AccessLevel> = {}): ProjectFixture {
  const now = '2026-01-01T00:00:00.000Z';
  const path = fullPath.split('/').pop()!;
  return {
    project: {
      id, namespace_id: namespaceIds[namespaceIds.length - 1]!, name: path, path, full_path: fullPath, description: '',
      visibility: 'private', package_registry_access_level: 'enabled', creator_id: null, created_at: now, updated_at: now,
    },
    namespaceIds,
    levels: new Map(Object.entries(levels).map(([k, v]) => [Number(k), v])),
  };
}

export function projectContext(fixture: ProjectFixture, identity: Identity): ProjectAccessContext {
  return {
    projectId: fixture.project.id,
    visibility: fixture.project.visibility,
    registryAccessLevel: fixture.project.package_registry_access_level,
    namespaceIds: fixture.namespaceIds,
    memberLevel: identity.kind === 'user' ? (fixture.levels.get(identity.userId) ?? null) : null,
  };
}

/**
 * The access service's project lookups over fixed projects: a private project is found by members and
 * administrators only, as `AccessService.readableProject` answers (404 for anyone else).
 */
export function memoryAccess(fixtures: ProjectFixture[]): Pick<AccessService, 'readableProject' | 'readableGroup'> {
  return {
    async readableProject(identity: Identity, idOrPath: string) {
      const fixture = fixtures.find((f) => String(f.project.id) === idOrPath || f.project.full_path === idOrPath);
      const ctx = fixture && projectContext(fixture, identity);
      const admin = identity.kind === 'user' && identity.isAdmin;
      if (!fixture || !ctx || (!admin && ctx.memberLevel === null)) throw errors.notFound('Project');
      return { project: fixture.project, ctx };
    },
    async readableGroup(): Promise<{ group: NamespaceRow; ctx: GroupAccessContext }> {
      throw errors.notFound('Group');
    },
  };
}

/** A signed-in user as a token identifies them. */
export const userIdentity = (user: Pick<UserRow, 'id' | 'username'>, isAdmin = false): UserIdentity =>
  Object.freeze({ kind: 'user', userId: user.id, username: user.username, isAdmin, scopes: ['api'] as const, tokenId: 1 });
