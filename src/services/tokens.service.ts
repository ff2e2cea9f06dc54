/** Personal access tokens and deploy tokens: created with their secret shown once, listed, revoked. */
import type { Kysely } from 'kysely';
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
import type { Database, DeployTokenRow, PersonalAccessTokenRow } from '../storage/db/schema.js';
import type { TokensRepository, PatFilter } from '../storage/db/repositories/tokens.repository.js';
import type { UsersRepository } from '../storage/db/repositories/users.repository.js';
import type { Page, PageOf } from '../storage/db/repositories/types.js';
import type { IdentityService } from './identity.service.js';

export interface CreatePatInput {
  name: string;
  scopes: string[];
  /** `YYYY-MM-DD`; omitted = one year from today, as GitLab does. */
  expires_at?: string | null | undefined;
}

export interface CreateDeployTokenInput {
  name: string;
  scopes: string[];
  username?: string | undefined;
  /** ISO date or date-time; omitted or null = never expires. */
  expires_at?: string | null | undefined;
}

export interface TokensServiceDeps {
  db: Kysely<Database>;
  tokens: TokensRepository;
  users: UsersRepository;
  identity: IdentityService;
  clock: Clock;
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

  async createPersonal(userId: number, input: CreatePatInput): Promise<{ row: PersonalAccessTokenRow; token: string }> {
    const { db, tokens, users, clock } = this.#d;
    if (input.name.trim() === '') throw errors.validation({ name: ["can't be blank"] });
    const scopes = checkScopes<PatScope>(input.scopes, PAT_SCOPES);
    const today = isoDate(clock.now());
    let expiresAt: string | null;
    if (input.expires_at === undefined) {
      const d = clock.now();
      d.setUTCFullYear(d.getUTCFullYear() + 1);
      expiresAt = isoDate(d);
    } else if (input.expires_at === null || input.expires_at === '') {
      expiresAt = null;
    } else {
      if (!isCalendarDate(input.expires_at)) throw errors.params(['expires_at is invalid']);
      if (input.expires_at <= today) throw errors.validation({ expires_at: ['must be in the future'] });
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
  async revokePersonal(caller: Identity, id: number): Promise<void> {
    if (caller.kind !== 'user') throw errors.unauthorized();
    const row = await this.#d.tokens.findPersonalById(this.#d.db, id);
    if (!row) throw errors.recordNotFound();
    if (!caller.isAdmin && row.user_id !== caller.userId) throw errors.badRequest('Not permitted to revoke');
    await this.#d.tokens.revokePersonal(this.#d.db, row.id);
    this.#d.identity.forget(row.token_digest);
  }

  /**
   * `npm logout`: revokes the personal access token whose secret this is. Deploy tokens are left alone — one is
   * shared by a project's pipelines, and one developer logging out must not break them — as are unknown secrets.
   * Returns whether a token was revoked.
   */
  async revokePersonalBySecret(secret: string): Promise<boolean> {
    const digest = digestToken(secret);
    const row = await this.#d.tokens.findPersonalByDigest(this.#d.db, digest);
    if (!row || row.revoked) return false;
    await this.#d.tokens.revokePersonal(this.#d.db, row.id);
    this.#d.identity.forget(digest);
    return true;
  }

  async createDeploy(owner: { projectId: number } | { groupId: number }, input: CreateDeployTokenInput): Promise<{ row: DeployTokenRow; token: string }> {
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
      if (input.username !== undefined) return inserted;
      // GitLab's default username names the token by its id.
      const username = `gitlab+deploy-token-${inserted.id}`;
      await trx.updateTable('deploy_tokens').set({ username }).where('id', '=', inserted.id).execute();
      return { ...inserted, username };
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

  /** GitLab destroys the token: it stops working at once (in this process; elsewhere within the identity cache TTL). */
  async revokeDeploy(owner: { projectId: number } | { groupId: number }, id: number): Promise<void> {
    const row = await this.getDeploy(owner, id);
    await this.#d.tokens.deleteDeploy(this.#d.db, row.id);
    this.#d.identity.forget(row.token_digest);
  }
}
