/** Personal access tokens and deploy tokens: created with their secret shown once, listed, revoked. */
import { iso, isoDate, type Clock } from '../domain/clock.js';
import { errors } from '../domain/errors.js';
import {
  DEPLOY_TOKEN_SCOPES,
  PAT_SCOPES,
  type DeployTokenScope,
  type Identity,
  type PatScope,
} from '../domain/access/identity.js';
import { digestToken, generateToken } from '../domain/access/tokens.js';
import type { DeployTokenRow, Page, PageOf, PersonalAccessTokenRow, UserRow } from '../domain/records.js';
import type { Connection, Executor } from './ports.js';
import type { IdentityService } from './identity.service.js';
import { boundedText, contextOf, type AuditContext } from '../domain/audit.js';
import type { AuditService } from './audit.service.js';

export interface CreatePatInput {
  name: string;
  scopes: string[];
  /**
   * `YYYY-MM-DD`; omitted (or null, or empty, as Grape reads them) = the longest lifetime allowed, as GitLab does,
   * or no expiry when an administrator turned `require_personal_access_token_expiry` off.
   */
  expires_at?: string | null | undefined;
  /**
   * Only for the server's operator (the `wharf` CLI on the server, the first start's bootstrap token): the
   * instance's expiry policy does not bind them, and null means "never". No API or web request sets it.
   */
  operator?: boolean | undefined;
}

/** GitLab's `MAX_PERSONAL_ACCESS_TOKEN_LIFETIME_IN_DAYS`. */
export const MAX_TOKEN_LIFETIME_DAYS = 365;

/** What the token policy reads from the application settings. */
export interface TokenPolicySettings {
  get(): Promise<{ readonly require_personal_access_token_expiry: boolean; readonly max_personal_access_token_lifetime: number | null }>;
}

export interface CreateDeployTokenInput {
  name: string;
  scopes: string[];
  username?: string | undefined;
  /** ISO date or date-time; omitted or null = never expires. */
  expires_at?: string | null | undefined;
}

export interface PatFilter {
  userId?: number | undefined;
  revoked?: boolean | undefined;
  /** 'active' = not revoked and not expired; 'inactive' = the opposite. */
  state?: 'active' | 'inactive' | undefined;
  search?: string | undefined;
}

type DeployTokenOwner = { projectId: number } | { groupId: number };

/** Where tokens are kept, by the digest of their secret (`TokensRepository`). */
export interface TokensPort {
  insertPersonal(db: Executor, row: Omit<PersonalAccessTokenRow, 'id'>): Promise<PersonalAccessTokenRow>;
  findPersonalByDigest(db: Executor, digest: string): Promise<PersonalAccessTokenRow | undefined>;
  findPersonalById(db: Executor, id: number): Promise<PersonalAccessTokenRow | undefined>;
  /** `todayIso` (`YYYY-MM-DD`) decides which tokens the `state` filter counts as expired. */
  listPersonal(db: Executor, filter: PatFilter, page: Page, todayIso: string): Promise<PageOf<PersonalAccessTokenRow>>;
  revokePersonal(db: Executor, id: number): Promise<void>;
  insertDeploy(db: Executor, row: Omit<DeployTokenRow, 'id'>): Promise<DeployTokenRow>;
  /** GitLab's default deploy token username names the token by its id, known only once it is inserted. */
  setDeployUsername(db: Executor, id: number, username: string): Promise<void>;
  findDeployById(db: Executor, id: number): Promise<DeployTokenRow | undefined>;
  /** `activeOnly`: neither revoked nor expired at `nowIso`. */
  listDeploy(db: Executor, owner: DeployTokenOwner, page: Page, activeOnly: boolean, nowIso: string): Promise<PageOf<DeployTokenRow>>;
  deleteDeploy(db: Executor, id: number): Promise<void>;
}

/** A token's owner, and the usernames a deploy token may not take (`UsersRepository`). */
export interface TokenUsersPort {
  findById(db: Executor, id: number): Promise<UserRow | undefined>;
  findByUsername(db: Executor, username: string): Promise<UserRow | undefined>;
}

export interface TokensServiceDeps {
  db: Connection & Executor;
  tokens: TokensPort;
  users: TokenUsersPort;
  /** This process's identity cache, which a revocation empties of the token at once. */
  identity: Pick<IdentityService, 'forget'>;
  clock: Clock;
  audit: AuditService;
  settings: TokenPolicySettings;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** A real `YYYY-MM-DD` calendar date (`Date.parse` would roll 2026-02-30 over into March). */
export const isCalendarDate = (value: string): boolean =>
  DATE.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`)) && new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) === value;

/** ISO 8601 date or date-time (UTC unless it says otherwise) as epoch ms; undefined when it is not one. */
export function parseIsoDateTime(value: string): number | undefined {
  const m = DATE_TIME.exec(value);
  if (!m || !isCalendarDate(m[1]!)) return undefined;
  const t = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : m[2] ? value : `${value}Z`);
  return Number.isNaN(t) ? undefined : t;
}

function checkScopes<T extends string>(scopes: string[], allowed: readonly T[]): T[] {
  if (scopes.length === 0) throw errors.params(['scopes is missing']);
  // Grape's `values:` check on `scopes`: `{"error":"scopes does not have a valid value"}`.
  if (scopes.some((s) => !(allowed as readonly string[]).includes(s))) throw errors.params(['scopes does not have a valid value']);
  return [...new Set(scopes)] as T[];
}

export class TokensService {
  readonly #d: TokensServiceDeps;
  constructor(deps: TokensServiceDeps) {
    this.#d = deps;
  }

  async createPersonal(userId: number, input: CreatePatInput, audit: AuditContext = contextOf(undefined)): Promise<{ row: PersonalAccessTokenRow; token: string }> {
    const { db, tokens, users, clock } = this.#d;
    if (input.name.trim() === '') throw errors.validation({ name: ["can't be blank"] });
    const scopes = checkScopes<PatScope>(input.scopes, PAT_SCOPES);
    const today = isoDate(clock.now());
    const settings = await this.#d.settings.get();
    // GitLab: while expiry is required, a token lives at most the instance's maximum (365 days unless lowered), and
    // one asked for without a date gets exactly that; an administrator may lift the requirement.
    const maxDays = settings.require_personal_access_token_expiry
      ? (settings.max_personal_access_token_lifetime ?? MAX_TOKEN_LIFETIME_DAYS)
      : settings.max_personal_access_token_lifetime;
    const maxDate = maxDays === null || input.operator ? undefined : isoDate(new Date(clock.now().getTime() + maxDays * 86_400_000));
    let expiresAt: string | null;
    if (input.expires_at === undefined || input.expires_at === null || input.expires_at === '') {
      expiresAt = input.operator && input.expires_at === null ? null : (maxDate ?? null);
      if (input.operator && input.expires_at === undefined) expiresAt = isoDate(new Date(clock.now().getTime() + MAX_TOKEN_LIFETIME_DAYS * 86_400_000));
    } else {
      if (!isCalendarDate(input.expires_at)) throw errors.params(['expires_at is invalid']);
      if (input.expires_at <= today) throw errors.validation({ expires_at: ['must be in the future'] });
      if (maxDate !== undefined && input.expires_at > maxDate) throw errors.tokenExpiryTooLate(maxDate);
      expiresAt = input.expires_at;
    }
    const user = await users.findById(db, userId);
    if (!user) throw errors.notFound('User');
    const token = generateToken('personal');
    const row = await tokens.insertPersonal(db, {
      user_id: userId,
      name: input.name,
      token_digest: digestToken(token),
      scopes: JSON.stringify(scopes),
      expires_at: expiresAt,
      revoked: 0,
      last_used_at: null,
      created_at: iso(clock.now()),
    });
    await this.#d.audit.record(db, audit, {
      name: 'personal_access_token_created',
      entity: { type: 'User', id: user.id, path: user.username },
      target: { type: 'PersonalAccessToken', id: row.id, details: boundedText(row.name, 255) },
      message: `Created personal access token with scopes ${scopes.join(', ')}, expiring ${expiresAt ?? 'never'}`,
    });
    return { row, token };
  }

  /** Stores a token whose secret the operator chose (`WHARF_ROOT_TOKEN`); a no-op if it already exists. */
  async ensurePersonal(userId: number, name: string, token: string, scopes: PatScope[]): Promise<boolean> {
    const { db, tokens, clock } = this.#d;
    const digest = digestToken(token);
    if (await tokens.findPersonalByDigest(db, digest)) return false;
    await tokens.insertPersonal(db, {
      user_id: userId,
      name,
      token_digest: digest,
      scopes: JSON.stringify(scopes),
      expires_at: null,
      revoked: 0,
      last_used_at: null,
      created_at: iso(clock.now()),
    });
    return true;
  }

  /** Admins see every token (and may filter by `user_id`); anyone else only their own. */
  async listPersonal(caller: Identity, filter: PatFilter, page: Page): Promise<PageOf<PersonalAccessTokenRow>> {
    if (caller.kind !== 'user') throw errors.unauthorized();
    if (!caller.isAdmin && filter.userId !== undefined && filter.userId !== caller.userId) {
      throw errors.unauthorized();
    }
    if (caller.isAdmin && filter.userId !== undefined && !(await this.#d.users.findById(this.#d.db, filter.userId))) {
      throw errors.notFound('User');
    }
    const effective = caller.isAdmin ? filter : { ...filter, userId: caller.userId };
    return this.#d.tokens.listPersonal(this.#d.db, effective, page, isoDate(this.#d.clock.now()));
  }

  /** GitLab: someone else's token (or a missing one) is 401 for a non-admin, so ids reveal nothing; 404 for admins. */
  async getPersonal(caller: Identity, id: number): Promise<PersonalAccessTokenRow> {
    if (caller.kind !== 'user') throw errors.unauthorized();
    const row = await this.#d.tokens.findPersonalById(this.#d.db, id);
    if (!caller.isAdmin && (!row || row.user_id !== caller.userId)) throw errors.unauthorized();
    if (!row) throw errors.recordNotFound();
    return row;
  }

  /** GitLab: a missing token is 404; someone else's is `400 Bad request - Not permitted to revoke`. */
  async revokePersonal(caller: Identity, id: number, audit: AuditContext = contextOf(caller)): Promise<void> {
    if (caller.kind !== 'user') throw errors.unauthorized();
    const row = await this.#d.tokens.findPersonalById(this.#d.db, id);
    if (!row) throw errors.recordNotFound();
    if (!caller.isAdmin && row.user_id !== caller.userId) throw errors.revokeNotPermitted();
    await this.#d.tokens.revokePersonal(this.#d.db, row.id);
    this.#d.identity.forget(row.token_digest);
    await this.#patRevoked(audit, row);
  }

  /**
   * `npm logout`: revokes the personal access token whose secret this is. Deploy tokens are left alone — one is
   * shared by a project's pipelines, and one developer logging out must not break them — as are unknown secrets.
   * Returns whether a token was revoked.
   */
  async revokePersonalBySecret(secret: string, audit: AuditContext = contextOf(undefined)): Promise<boolean> {
    const digest = digestToken(secret);
    const row = await this.#d.tokens.findPersonalByDigest(this.#d.db, digest);
    if (!row || row.revoked) return false;
    await this.#d.tokens.revokePersonal(this.#d.db, row.id);
    this.#d.identity.forget(digest);
    // Whoever holds the secret acts as its owner: the event is the owner's, from the request's address.
    const owner = await this.#d.users.findById(this.#d.db, row.user_id);
    await this.#patRevoked({ ...audit, author: owner ? { id: owner.id, name: owner.username, type: 'User' } : audit.author }, row, 'npm logout');
    return true;
  }

  async #patRevoked(audit: AuditContext, row: PersonalAccessTokenRow, via?: string): Promise<void> {
    await this.#d.audit.record(this.#d.db, audit, {
      name: 'personal_access_token_revoked',
      entity: { type: 'User', id: row.user_id },
      target: { type: 'PersonalAccessToken', id: row.id, details: boundedText(row.name, 255) },
      message: via ? `Revoked personal access token (${via})` : 'Revoked personal access token',
    });
  }

  async createDeploy(
    owner: { projectId: number } | { groupId: number },
    input: CreateDeployTokenInput,
    audit: AuditContext = contextOf(undefined),
  ): Promise<{ row: DeployTokenRow; token: string }> {
    const { db, tokens, clock } = this.#d;
    if (input.name.trim() === '') throw errors.validation({ name: ["can't be blank"] });
    const scopes = checkScopes<DeployTokenScope>(input.scopes, DEPLOY_TOKEN_SCOPES);
    let expiresAt: string | null = null;
    if (input.expires_at) {
      const t = parseIsoDateTime(input.expires_at);
      if (t === undefined) throw errors.params(['expires_at is invalid']);
      if (t <= clock.now().getTime()) throw errors.validation({ expires_at: ['must be in the future'] });
      expiresAt = new Date(t).toISOString();
    }
    if (input.username !== undefined && !/^[a-zA-Z0-9_.+-]{1,255}$/.test(input.username)) {
      throw errors.validation({ username: ["can contain only letters, digits, '_', '-', '+', and '.'"] });
    }
    // A deploy token called like a user would read as that user wherever a username is shown; Wharf refuses it
    // (GitLab does not). What a token publishes is recorded under `gitlab+deploy-token-<id>` either way.
    if (input.username !== undefined && (await this.#d.users.findByUsername(db, input.username))) {
      throw errors.validation({ username: ['is already the username of a user'] });
    }
    const token = generateToken('deploy');
    const row = await db.transaction().execute(async (trx) => {
      const inserted = await tokens.insertDeploy(trx, {
        name: input.name,
        username: input.username ?? 'pending',
        token_digest: digestToken(token),
        scopes: JSON.stringify(scopes),
        expires_at: expiresAt,
        revoked: 0,
        project_id: 'projectId' in owner ? owner.projectId : null,
        group_id: 'groupId' in owner ? owner.groupId : null,
        created_at: iso(clock.now()),
      });
      if (input.username !== undefined) return this.#deployTokenEvent(trx, audit, 'created', inserted);
      // GitLab's default username names the token by its id.
      const username = `gitlab+deploy-token-${inserted.id}`;
      await tokens.setDeployUsername(trx, inserted.id, username);
      return this.#deployTokenEvent(trx, audit, 'created', { ...inserted, username });
    });
    return { row, token };
  }

  async listDeploy(owner: { projectId: number } | { groupId: number }, page: Page, activeOnly: boolean): Promise<PageOf<DeployTokenRow>> {
    return this.#d.tokens.listDeploy(this.#d.db, owner, page, activeOnly, iso(this.#d.clock.now()));
  }

  async getDeploy(owner: { projectId: number } | { groupId: number }, id: number): Promise<DeployTokenRow> {
    const row = await this.#d.tokens.findDeployById(this.#d.db, id);
    const belongs = row && ('projectId' in owner ? row.project_id === owner.projectId : row.group_id === owner.groupId);
    if (!row || !belongs) throw errors.recordNotFound();
    return row;
  }

  /** GitLab destroys the token: it stops working at once, on every instance (see `identity.service.ts`). */
  async revokeDeploy(owner: { projectId: number } | { groupId: number }, id: number, audit: AuditContext = contextOf(undefined)): Promise<void> {
    const row = await this.getDeploy(owner, id);
    await this.#d.tokens.deleteDeploy(this.#d.db, row.id);
    this.#d.identity.forget(row.token_digest);
    await this.#deployTokenEvent(this.#d.db, audit, 'destroyed', row);
  }

  /** GitLab's `deploy_token_created`/`_destroyed` (`group_deploy_token_…` for a group's); returns the row. */
  async #deployTokenEvent(db: Executor, audit: AuditContext, what: 'created' | 'destroyed', row: DeployTokenRow): Promise<DeployTokenRow> {
    const group = row.group_id !== null;
    await this.#d.audit.record(db, audit, {
      name: group ? `group_deploy_token_${what}` : `deploy_token_${what}`,
      entity: group ? { type: 'Group', id: row.group_id } : { type: 'Project', id: row.project_id },
      target: { type: 'DeployToken', id: row.id, details: boundedText(row.name, 255) },
      message: `${what === 'created' ? 'Created' : 'Destroyed'} deploy token ${row.username} with scopes ${(JSON.parse(row.scopes) as string[]).join(', ')}`,
    });
    return row;
  }
}
