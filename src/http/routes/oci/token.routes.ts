/**
 * `GET /jwt/auth`: the registry's token endpoint (docs/design/helm-oci.md#access), at GitLab's path.
 *
 * The exchange (the distribution token spec): a client challenged on `/v2/` with
 * `Bearer realm="<external url>/jwt/auth",service="container_registry",scope="repository:<name>:pull"` asks
 * `GET /jwt/auth?service=container_registry&scope=repository:<name>:pull[,push]` (scope may repeat; `account`,
 * `client_id` and `offline_token` are ignored, as GitLab does), with HTTP Basic (any user name, a personal access
 * token or deploy token as the password, as on `/v2/`) or anonymously, and gets
 * `{"token", "access_token", "expires_in", "issued_at"}`. The token grants, per repository, the actions asked for
 * that the caller may do now; an anonymous caller gets pull on what anyone may pull. Bad credentials are a 401 with
 * the Basic challenge; an unknown service a 400 (a misconfigured client is told so, rather than handed a token
 * that fails later); an anonymous request asking for nothing a 403, as GitLab answers. Errors are in the OCI body
 * shape, which docker clients print.
 *
 * Who may call it: anyone. What it reveals: nothing about projects the caller may not see (a scope on one grants
 * nothing, exactly like a scope on a project that does not exist). Its work is bounded by the scope limits
 * (`MAX_SCOPES`, `MAX_SCOPE_LENGTH`) and counted by the package rate limits.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Deps } from '../../../app-deps.js';
import type { RouteAccess } from '../../plugins/route-access.js';

const access: RouteAccess = { ability: 'anyone', scope: 'instance', credentials: 'basic-only' };

const strings = (v: unknown): string[] => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);

export const registryTokenRoutes =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.get('/jwt/auth', { config: { access, ociErrors: true } }, async (request, reply) => {
      const query = (request.query ?? {}) as Record<string, unknown>;
      const identity = await request.caller();
      const service = typeof query.service === 'string' ? query.service : undefined;
      const issued = await deps.services.registryTokens.issue(identity, service, strings(query.scope));
      // A bearer credential: never stored by a cache on the way.
      return reply.header('cache-control', 'no-store').send(issued);
    });
  };
