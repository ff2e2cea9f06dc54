/**
 * First start: an empty database gets the instance administrator `root`. `WHARF_ROOT_TOKEN` becomes root's `api`
 * token (on every start, so the configured token always works); without it a token is generated and handed back
 * once for the caller to print. `WHARF_ROOT_PASSWORD` sets root's password on the first start only.
 */
import { isAppError } from '../domain/errors.js';
import type { TokensService } from './tokens.service.js';
import type { UsersService } from './users.service.js';

export interface BootstrapResult {
  /** Root was created by this call. */
  created: boolean;
  /** A token generated for root; present only when it was just created and no token was configured. */
  generatedToken?: string;
}

export class BootstrapService {
  readonly #users: UsersService;
  readonly #tokens: TokensService;
  constructor(users: UsersService, tokens: TokensService) {
    this.#users = users;
    this.#tokens = tokens;
  }

  async run(options: { rootToken?: string | undefined; rootPassword?: string | undefined }): Promise<BootstrapResult> {
    let created = false;
    let root = await this.#users.byUsername('root');
    if (!root && (await this.#users.count()) === 0) {
      try {
        root = await this.#users.create({
          username: 'root',
          name: 'Administrator',
          email: 'root@wharf.invalid',
          password: options.rootPassword,
          admin: true,
        });
        created = true;
      } catch (err) {
        // Another instance bootstrapped the same empty database a moment ago: depending on the timing its root shows
        // up as a unique-constraint conflict or as "username has already been taken". Either way, use that root.
        if (!isAppError(err)) throw err;
        root = await this.#users.byUsername('root');
        if (!root) throw err;
      }
    }
    if (!root) return { created: false };
    if (options.rootToken) {
      try {
        await this.#tokens.ensurePersonal(root.id, 'WHARF_ROOT_TOKEN', options.rootToken, ['api']);
      } catch (err) {
        // Two instances inserting the same configured token: one wins, both are fine.
        if (!(err as { code?: string }).code?.match(/23505|SQLITE_CONSTRAINT/)) throw err;
      }
      return { created };
    }
    if (!created) return { created };
    const { token } = await this.#tokens.createPersonal(root.id, { name: 'bootstrap', scopes: ['api'], expires_at: null, operator: true });
    return { created, generatedToken: token };
  }
}

