/**
 * Who is calling: the one place a request's credential becomes an identity. Resolution is lazy (only routes that
 * need to know the caller pay for it) and request-scoped: each request resolves at most once per credential mode,
 * and every hook and handler of the request shares the answer (`request.identity()`, `request.caller()`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { checkTokenScope } from '../../domain/access/abilities.js';
import { extractCredential, type CredentialMode } from '../../domain/access/credentials.js';
import type { Identity } from '../../domain/access/identity.js';
import { errors } from '../../domain/errors.js';
import type { RegistryAccessEntry } from '../../domain/oci/token-access.js';
import type { IdentityService } from '../../services/identity.service.js';
import type { RegistryTokenService } from '../../services/registry-tokens.service.js';
import { TRUSTED_PUBLISH_TOKEN_PREFIX, type TrustedPublishingService } from '../../services/trusted-publishing.service.js';

export interface CallerOptions {
  /**
   * Whether an anonymous caller is refused (401). By default only writes need a caller: GitLab's
   * `authenticate_non_get!`. Routes that need a signed-in caller even to read pass `true`.
   */
  required?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The identity behind the request's credential (anonymous without one; an unknown, expired or revoked token
     * is a 401), with `mode` or else the credentials the route accepts (`config.access.credentials`). No rights
     * are checked here.
     */
    identity(mode?: CredentialMode): Promise<Identity>;
    /** The caller of a route: its identity, the token's scope checked against the method, and `required`. */
    caller(options?: CallerOptions): Promise<Identity>;
    /** Identities resolved for this request, per credential mode (null until the first resolution). */
    resolvedIdentities: Map<CredentialMode, Promise<Identity>> | null;
    /**
     * What the request's registry Bearer token grants (`/v2/`), once its identity was resolved from one; null for
     * any other credential. The route's access check requires it to cover the repository and action.
     */
    registryAccess: readonly RegistryAccessEntry[] | null;
  }
}

const isRead = (method: string): boolean => method === 'GET' || method === 'HEAD';

/** The credential mode of a route: Helm accepts HTTP Basic only, the OCI API Basic or its Bearer tokens; everything else the standard forms. */
export function credentialModeOf(request: FastifyRequest): CredentialMode {
  const credentials = request.routeOptions.config?.access?.credentials;
  return credentials === 'basic-only' || credentials === 'registry' ? credentials : 'standard';
}

export function registerIdentity(
  app: FastifyInstance,
  service: IdentityService,
  registryTokens: Pick<RegistryTokenService, 'verify'>,
  trustedPublishing: Pick<TrustedPublishingService, 'verify'>,
): void {
  app.decorateRequest('resolvedIdentities', null);
  app.decorateRequest('registryAccess', null);
  app.decorateRequest('identity', function (this: FastifyRequest, mode?: CredentialMode): Promise<Identity> {
    const m = mode ?? credentialModeOf(this);
    this.resolvedIdentities ??= new Map();
    let p = this.resolvedIdentities.get(m);
    if (!p) {
      const credential = extractCredential(this.headers, (this.query ?? {}) as Record<string, unknown>, m);
      p =
        credential?.source === 'registry-token'
          ? registryTokens.verify(credential.token).then(({ identity, access }) => {
              this.registryAccess = access;
              return identity;
            })
          : // A trusted publishing token (docs/design/trusted-publishing.md) is honoured on the standard routes only
            // (npm, the packages API); Helm and the OCI API look it up as any other token and find nothing.
            m === 'standard' && credential?.token.startsWith(TRUSTED_PUBLISH_TOKEN_PREFIX)
            ? trustedPublishing.verify(credential.token)
            : service.resolve(credential);
      this.resolvedIdentities.set(m, p);
    }
    return p;
  });
  app.decorateRequest('caller', async function (this: FastifyRequest, options: CallerOptions = {}): Promise<Identity> {
    const identity = await this.identity();
    const required = options.required ?? !isRead(this.method);
    if (required && identity.kind === 'anonymous') throw errors.unauthorized();
    checkTokenScope(identity, this.method);
    return identity;
  });
}
