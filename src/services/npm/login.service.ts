/**
 * `npm login --auth-type=legacy` (docs/design/client-protocols.md#legacy-login), which GitLab does not route (docs/design/gitlab-compatibility.md#what-gitlab-leaves-out): the user
 * name and password become a new personal access token with the `api` scope, which npm stores under the
 * registry's nerf dart. The token is an ordinary PAT: listed, expiring and revocable like any other.
 * `npm logout` (docs/design/client-protocols.md#npm-logout) revokes the token it names.
 */
import type { Clock } from '../../domain/clock.js';
import { iso } from '../../domain/clock.js';
import { errors } from '../../domain/errors.js';
import { isPlainObject } from '../../domain/npm/publish.js';
import type { TokensService } from '../tokens.service.js';
import type { UsersService } from '../users.service.js';
import { contextOf, type AuditContext } from '../../domain/audit.js';
import type { AuditService } from '../audit.service.js';

export interface NpmLoginServiceDeps {
  users: UsersService;
  tokens: TokensService;
  clock: Clock;
  audit: AuditService;
}

export interface LoginResult {
  readonly username: string;
  readonly token: string;
}

export class NpmLoginService {
  readonly #d: NpmLoginServiceDeps;
  constructor(deps: NpmLoginServiceDeps) {
    this.#d = deps;
  }

  /**
   * `PUT …/-/user/org.couchdb.user:<name>` with `{name, password, …}`. Any mismatch — unknown user, wrong
   * password, blocked user, user without a password — is the same 401, so the answer tells nothing about which.
   */
  async login(pathName: string, body: unknown, audit: AuditContext = contextOf(undefined)): Promise<LoginResult> {
    const { users, tokens, clock } = this.#d;
    const doc = isPlainObject(body) ? body : {};
    const name = typeof doc.name === 'string' && doc.name !== '' ? doc.name : pathName;
    if (name !== pathName) throw errors.npmLoginNameMismatch(name, pathName);
    if (typeof doc.password !== 'string' || doc.password === '') throw errors.npmMissingAttribute('password');
    const user = await users.authenticate(name, doc.password, audit.ip ?? undefined);
    if (!user) {
      await this.#d.audit.signInFailed(audit, name, 'npm login');
      throw errors.npmLoginFailed();
    }
    await this.#d.audit.signedIn(audit, user, 'npm login');
    // The longest lifetime the instance allows (365 days by default), as GitLab gives a token asked for without a
    // date; the name says where it came from.
    const created = await tokens.createPersonal(user.id, { name: `npm login ${iso(clock.now())}`, scopes: ['api'] }, { ...audit, author: { id: user.id, name: user.username, type: 'User' } });
    return { username: user.username, token: created.token };
  }

  /**
   * `DELETE …/-/user/token/<token>`. npm removes the token from `.npmrc` only after a 2xx, so every secret —
   * unknown, already revoked, or a deploy token that is not revoked (see `revokePersonalBySecret`) — is answered
   * the same way, and the caller's own credentials are not checked: the request names what it revokes.
   */
  async logout(secret: string, audit: AuditContext = contextOf(undefined)): Promise<{ revoked: boolean }> {
    return { revoked: await this.#d.tokens.revokePersonalBySecret(secret, audit) };
  }
}
