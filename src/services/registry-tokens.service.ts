/**
 * The registry's Bearer tokens (docs/design/helm-oci.md#access): the distribution token spec's flow, as GitLab's
 * container registry runs it. A client challenged on `/v2/` asks `GET /jwt/auth?service=…&scope=…` (with HTTP Basic,
 * or anonymously) for a short-lived JWT; the token lists, per repository, the actions asked for that the caller may
 * do now; the client then sends it as `Authorization: Bearer` on `/v2/`.
 *
 * - Signed with HS256 and one secret kept in the database (migration 013), so every instance on one database signs
 *   and accepts the same tokens. HS256, not ES256: Wharf is both the issuer and the only verifier, so a public key
 *   would buy nothing, and an HMAC check is the cheapest verification for a check made on every `/v2/` request.
 * - A token only narrows: it names the credential it was issued to (a personal access token or deploy token id,
 *   or nobody), and every `/v2/` request re-resolves that credential (`IdentityService.resolveStored`, cached under
 *   the credential epoch, so a revoked token or blocked user stops at once on every instance) and re-checks the
 *   package ability on the project as a Basic request would. A removed member loses access at once too.
 */
import { randomUUID, webcrypto } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { can } from '../domain/access/abilities.js';
import { actorName, ANONYMOUS, type Identity } from '../domain/access/identity.js';
import type { Clock } from '../domain/clock.js';
import { errors } from '../domain/errors.js';
import { splitRepositoryName } from '../domain/oci/names.js';
import { grantedActions, parseScopes, REGISTRY_SERVICE, type RegistryAccessEntry, type RegistryAction } from '../domain/oci/token-access.js';
import type { AccessService } from './access.service.js';
import type { IdentityService } from './identity.service.js';
import type { Executor } from './ports.js';

/** How long a registry token lives: long enough for one push or pull of a chart, short enough to need no revocation list. */
export const REGISTRY_TOKEN_TTL_SECONDS = 300;
/** Clock skew tolerated between the instance that issued a token and the one checking it. */
const CLOCK_TOLERANCE_SECONDS = 10;
/** Verified tokens remembered per process (a client sends one token for many requests); cleared when full. */
const MAX_VERIFIED = 10_000;

/** The signing secret (`RegistryTokenKeysRepository`). */
export interface RegistryTokenKeysPort {
  current(db: Executor): Promise<string | undefined>;
}

export interface RegistryTokenServiceDeps {
  db: Executor;
  keys: RegistryTokenKeysPort;
  access: Pick<AccessService, 'findProject' | 'projectContext'>;
  identity: Pick<IdentityService, 'resolveStored'>;
  clock: Clock;
  /** The external URL: the tokens' issuer, and the realm clients are sent to. */
  externalUrl: string;
}

/** What `/jwt/auth` answers: the token twice (`token` for docker, `access_token` for OAuth clients). */
export interface IssuedToken {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
}

/** The credential a token was issued to: `p` a personal access token, `d` a deploy token, `a` nobody. */
type Holder = { k: 'p' | 'd'; id: number } | { k: 'a' };

export interface VerifiedToken {
  readonly identity: Identity;
  readonly access: readonly RegistryAccessEntry[];
}

const isHolder = (v: unknown): v is Holder => {
  const h = v as { k?: unknown; id?: unknown } | null;
  if (typeof h !== 'object' || h === null) return false;
  if (h.k === 'a') return true;
  return (h.k === 'p' || h.k === 'd') && typeof h.id === 'number' && Number.isSafeInteger(h.id);
};

const ACTIONS: readonly string[] = ['pull', 'push', 'delete'];
const isAccess = (v: unknown): v is RegistryAccessEntry[] =>
  Array.isArray(v) &&
  v.every(
    (e: { type?: unknown; name?: unknown; actions?: unknown }) =>
      e?.type === 'repository' && typeof e.name === 'string' && Array.isArray(e.actions) && e.actions.every((a) => ACTIONS.includes(a as string)),
  );

export class RegistryTokenService {
  readonly #d: RegistryTokenServiceDeps;
  #key: Promise<webcrypto.CryptoKey> | undefined;
  /**
   * Tokens whose signature and claims were checked, by their full text (a changed byte is another key), with their
   * validity window: a hit re-checks only the time. What a token names is resolved again on every request anyway.
   */
  readonly #verified = new Map<string, { claims: Record<string, unknown>; from: number; until: number }>();

  constructor(deps: RegistryTokenServiceDeps) {
    this.#d = deps;
  }

  /** Where clients get tokens (the challenge's `realm`). */
  get realm(): string {
    return `${this.#d.externalUrl.replace(/\/+$/, '')}/jwt/auth`;
  }

  /**
   * A token for `identity` (already authenticated by the route: HTTP Basic, or anonymous) granting, per repository
   * scope asked for, the actions the caller may do now. Scopes on repositories that do not exist, or that the caller
   * may not see, grant nothing and say nothing more (the answer is a token either way).
   */
  async issue(identity: Identity, service: string | undefined, rawScopes: readonly string[]): Promise<IssuedToken> {
    if (service !== REGISTRY_SERVICE) throw errors.registryServiceUnknown(service);
    const parsed = parseScopes(rawScopes);
    if (!parsed.ok) throw errors.registryScopeInvalid(parsed.reason);
    // GitLab: an anonymous caller asking for nothing has nothing to be granted.
    if (identity.kind === 'anonymous' && parsed.scopes.length === 0) throw errors.registryAccessForbidden();

    const access: RegistryAccessEntry[] = [];
    for (const scope of parsed.scopes) {
      const actions = await this.#grant(identity, scope.name, scope.actions);
      if (actions.length > 0) access.push({ type: 'repository', name: scope.name, actions });
    }

    const now = Math.floor(this.#d.clock.now().getTime() / 1000);
    const holder: Holder = identity.kind === 'user' ? { k: 'p', id: identity.tokenId } : identity.kind === 'deploy_token' ? { k: 'd', id: identity.tokenId } : { k: 'a' };
    const token = await new SignJWT({ access, wharf: holder })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(this.#d.externalUrl)
      .setAudience(REGISTRY_SERVICE)
      .setSubject(identity.kind === 'anonymous' ? '' : actorName(identity))
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + REGISTRY_TOKEN_TTL_SECONDS)
      .setJti(randomUUID())
      .sign(await this.#secret());
    return { token, access_token: token, expires_in: REGISTRY_TOKEN_TTL_SECONDS, issued_at: new Date(now * 1000).toISOString() };
  }

  /**
   * The identity behind a Bearer token and what it grants, or a 401: a bad signature, another algorithm (`none`
   * included), another issuer or audience, outside its lifetime. The credential it names is resolved again, so a
   * revoked token or blocked user fails here, whatever the JWT says.
   */
  async verify(jwt: string): Promise<VerifiedToken> {
    const now = this.#d.clock.now().getTime() / 1000;
    let payload: Record<string, unknown>;
    const hit = this.#verified.get(jwt);
    if (hit && now >= hit.from && now < hit.until) payload = hit.claims;
    else payload = await this.#verifySignature(jwt);
    const { access, wharf } = payload;
    if (!isHolder(wharf) || !isAccess(access)) throw errors.registryTokenInvalid('invalid registry token');
    const identity = wharf.k === 'a' ? ANONYMOUS : await this.#d.identity.resolveStored(wharf.k === 'p' ? 'personal' : 'deploy', wharf.id);
    return { identity, access };
  }

  async #verifySignature(jwt: string): Promise<Record<string, unknown>> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(jwt, await this.#secret(), {
        algorithms: ['HS256'],
        issuer: this.#d.externalUrl,
        audience: REGISTRY_SERVICE,
        currentDate: this.#d.clock.now(),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'nbf', 'iat'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw errors.registryTokenInvalid('the registry token has expired: get a new one from /jwt/auth');
      if (err instanceof joseErrors.JWTClaimValidationFailed) {
        throw errors.registryTokenInvalid(`the registry token is not valid here (${err.claim === 'aud' ? 'another service' : `claim ${err.claim}`})`);
      }
      throw errors.registryTokenInvalid('invalid registry token');
    }
    if (this.#verified.size >= MAX_VERIFIED) this.#verified.clear();
    // jwtVerify required both claims to be numbers.
    this.#verified.set(jwt, { claims: payload, from: (payload.nbf as number) - CLOCK_TOLERANCE_SECONDS, until: (payload.exp as number) + CLOCK_TOLERANCE_SECONDS });
    return payload;
  }

  async #grant(identity: Identity, name: string, asked: ReadonlySet<RegistryAction>): Promise<RegistryAction[]> {
    const repository = splitRepositoryName(name);
    if (!repository || asked.size === 0) return [];
    const project = await this.#d.access.findProject(repository.projectPath);
    if (!project) return [];
    const ctx = await this.#d.access.projectContext(identity, project);
    return grantedActions(identity, asked, (ability) => can(identity, ability, ctx));
  }

  /** The secret, read once per process: it never changes while the process runs (a rotation needs a restart). */
  #secret(): Promise<webcrypto.CryptoKey> {
    this.#key ??= this.#d.keys
      .current(this.#d.db)
      .then((secret) => {
        if (!secret) throw new Error('registry_token_keys holds no key (migration 013 creates one)');
        // Imported once: handing jose the raw bytes would import them again on every verification (measured: most
        // of a Bearer request's extra cost).
        return webcrypto.subtle.importKey('raw', Buffer.from(secret, 'base64url'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
      })
      .catch((err: unknown) => {
        // Not remembered: the next request reads again.
        this.#key = undefined;
        throw err;
      });
    return this.#key;
  }
}
