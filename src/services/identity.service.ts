/**
 * Turns a request's credential into an identity: one SHA-256 and one indexed lookup, cached briefly per process.
 *
 * The cache holds positive results only, for `ttlMs` (default 5 s), and each entry is served only while the
 * credential epoch (`credential-epoch.ts`: a counter that database triggers move whenever a token is revoked,
 * deleted or changed, or a user blocked, renamed or demoted) is the one read before the entry was looked up. So a
 * revocation through any instance, the CLI or SQL holds on every instance from the next request on. Unknown
 * tokens are never cached, so a newly created token works immediately everywhere.
 */
import { errors } from '../domain/errors.js';
import type { Clock } from '../domain/clock.js';
import { iso, isoDate } from '../domain/clock.js';
import type { Credential } from '../domain/access/credentials.js';
import {
  ANONYMOUS,
  DEPLOY_TOKEN_SCOPES,
  PAT_SCOPES,
  type DeployTokenScope,
  type Identity,
  type PatScope,
} from '../domain/access/identity.js';
import { TOKEN_PREFIX, digestToken } from '../domain/access/tokens.js';
import type { DeployTokenRow, PersonalAccessTokenRow, UserRow } from '../domain/records.js';
import type { Executor } from './ports.js';

interface CacheEntry {
  identity: Identity;
  /** Token expiry as epoch ms (end of its expiry day for PATs), checked on every hit. */
  tokenExpiresAt: number;
  cachedUntil: number;
  /** The credential epoch read before the lookup; the entry is stale once the epoch moves. */
  epoch: number;
}

const LAST_USED_THROTTLE_MS = 10 * 60 * 1000;
const MAX_CACHE_ENTRIES = 10_000;

export const parseScopes = <T extends string>(json: string, allowed: readonly T[]): T[] => {
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? (v.filter((s) => (allowed as readonly string[]).includes(s as string)) as T[]) : [];
  } catch {
    return [];
  }
};

/**
 * "Has any credential ended or narrowed since?": a counter the database moves whenever a token is revoked, deleted
 * or changed, or a user blocked, renamed or demoted (`DatabaseCredentialEpoch` explains how it is read cheaply).
 */
export interface CredentialEpoch {
  /** The current value; a number at once when it is known not to have moved, otherwise a promise. */
  current(): number | Promise<number>;
}

/** Token lookups by the digest of the secret (`TokensRepository`). */
export interface IdentityTokensPort {
  findPersonalByDigest(db: Executor, digest: string): Promise<PersonalAccessTokenRow | undefined>;
  findDeployByDigest(db: Executor, digest: string): Promise<DeployTokenRow | undefined>;
  findPersonalById(db: Executor, id: number): Promise<PersonalAccessTokenRow | undefined>;
  findDeployById(db: Executor, id: number): Promise<DeployTokenRow | undefined>;
  /** Bookkeeping for the token lists' `last_used_at`. */
  touchPersonal(db: Executor, id: number, at: string): Promise<void>;
}

/** A token's owner, who must be active (`UsersRepository`). */
export interface IdentityUsersPort {
  findById(db: Executor, id: number): Promise<UserRow | undefined>;
}

export interface IdentityServiceDeps {
  db: Executor;
  tokens: IdentityTokensPort;
  users: IdentityUsersPort;
  clock: Clock;
  epoch: CredentialEpoch;
  ttlMs?: number;
}

export class IdentityService {
  readonly #deps: IdentityServiceDeps;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #ttl: number;

  constructor(deps: IdentityServiceDeps) {
    this.#deps = deps;
    this.#ttl = deps.ttlMs ?? 5000;
  }

  /** Anonymous when there is no credential; throws 401 for any token that is unknown, expired or revoked. */
  async resolve(credential: Credential | undefined): Promise<Identity> {
    if (!credential) return ANONYMOUS;
    const digest = digestToken(credential.token);
    const { db, tokens } = this.#deps;
    return this.#cached(digest, async () =>
      credential.token.startsWith(TOKEN_PREFIX.deploy)
        ? ((await this.#deploy(await tokens.findDeployByDigest(db, digest))) ?? (await this.#personal(await tokens.findPersonalByDigest(db, digest))))
        : ((await this.#personal(await tokens.findPersonalByDigest(db, digest))) ?? (await this.#deploy(await tokens.findDeployByDigest(db, digest)))),
    );
  }

  /**
   * The identity of a stored token by its id, checked as `resolve` checks a presented one (revoked, expired, its
   * user blocked or gone): what a registry Bearer token names, so that the token never outlives its credential
   * (docs/design/helm-oci.md#access). Cached like `resolve`, under the same credential epoch.
   */
  async resolveStored(kind: 'personal' | 'deploy', id: number): Promise<Identity> {
    const { db, tokens } = this.#deps;
    return this.#cached(`${kind}#${id}`, async () =>
      kind === 'personal' ? this.#personal(await tokens.findPersonalById(db, id)) : this.#deploy(await tokens.findDeployById(db, id)),
    );
  }

  async #cached(key: string, lookup: () => Promise<Omit<CacheEntry, 'cachedUntil' | 'epoch'> | undefined>): Promise<Identity> {
    const now = this.#deps.clock.now().getTime();
    const current = this.#deps.epoch.current();
    const epoch = typeof current === 'number' ? current : await current;
    const hit = this.#cache.get(key);
    if (hit && hit.cachedUntil > now && hit.epoch === epoch) {
      if (hit.tokenExpiresAt <= now) {
        this.#cache.delete(key);
        throw errors.tokenExpired();
      }
      return hit.identity;
    }
    const found = await lookup();
    if (!found) throw errors.tokenUnknown();
    if (this.#cache.size >= MAX_CACHE_ENTRIES) this.#cache.clear();
    this.#cache.set(key, { ...found, cachedUntil: now + this.#ttl, epoch });
    return found.identity;
  }

  /** Drops a token from this process's cache; called when a token is revoked or its user changes. */
  forget(digest: string): void {
    this.#cache.delete(digest);
  }

  forgetAll(): void {
    this.#cache.clear();
  }

  async #personal(row: PersonalAccessTokenRow | undefined): Promise<Omit<CacheEntry, 'cachedUntil' | 'epoch'> | undefined> {
    const { db, tokens, users, clock } = this.#deps;
    if (!row) return undefined;
    const now = clock.now();
    if (row.revoked) throw errors.tokenRevoked();
    // A PAT expires at midnight UTC at the start of its expiry date, as in GitLab (and as token listings show it).
    const expiresAt = row.expires_at ? Date.parse(`${row.expires_at}T00:00:00Z`) : Number.POSITIVE_INFINITY;
    if (expiresAt <= now.getTime()) {
      throw errors.tokenExpired();
    }
    const user = await users.findById(db, row.user_id);
    if (!user || user.state !== 'active') throw errors.userInactive();
    if (!row.last_used_at || now.getTime() - Date.parse(row.last_used_at) > LAST_USED_THROTTLE_MS) {
      // Best effort and off the request path: a failed bookkeeping write must not fail the request.
      void tokens.touchPersonal(db, row.id, iso(now)).catch(() => undefined);
    }
    return {
      identity: Object.freeze({
        kind: 'user',
        userId: user.id,
        username: user.username,
        isAdmin: user.is_admin === 1,
        scopes: Object.freeze(parseScopes<PatScope>(row.scopes, PAT_SCOPES)),
        tokenId: row.id,
      }),
      tokenExpiresAt: expiresAt,
    };
  }

  async #deploy(row: DeployTokenRow | undefined): Promise<Omit<CacheEntry, 'cachedUntil' | 'epoch'> | undefined> {
    const { clock } = this.#deps;
    if (!row) return undefined;
    const now = clock.now();
    if (row.revoked) throw errors.tokenRevoked();
    const expiresAt = row.expires_at ? Date.parse(row.expires_at) : Number.POSITIVE_INFINITY;
    if (expiresAt <= now.getTime()) {
      throw errors.tokenExpired();
    }
    return {
      identity: Object.freeze({
        kind: 'deploy_token',
        tokenId: row.id,
        username: row.username,
        scopes: Object.freeze(parseScopes<DeployTokenScope>(row.scopes, DEPLOY_TOKEN_SCOPES)),
        projectId: row.project_id,
        groupId: row.group_id,
      }),
      tokenExpiresAt: expiresAt,
    };
  }
}

/** Today's date for PAT expiry comparisons. */
export const todayIso = (clock: Clock): string => isoDate(clock.now());
