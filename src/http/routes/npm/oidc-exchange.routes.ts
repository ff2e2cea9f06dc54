/**
 * npm's trusted publishing exchange (docs/trusted-publishing.md): `POST /-/npm/v1/oidc/token/exchange/package/<name>`
 * with the CI job's ID token as `Authorization: Bearer`, answered `{"token": "whtp-…"}`.
 *
 * npm resolves the path against the registry URL with a leading `/`, so it always lands at the host's root, whatever
 * endpoint (project, group, instance) the registry URL names: the route is served there, once.
 *
 * Who may call it: anyone; the ID token is the credential, verified by the service (issuer allowed, signature,
 * audience, lifetime, a publisher's claims and pattern). The Bearer value is never looked up as a Wharf token
 * (`credentials: 'none'`). It takes no body (npm sends none), and its work is bounded: the token's length, the key
 * fetches (time, size, jose's refetch cooldown), the publishers scanned.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Deps } from '../../../app-deps.js';
import { decodePackageName } from '../../../domain/npm/path-segments.js';
import type { RouteAccess } from '../../plugins/route-access.js';

const access: RouteAccess = { ability: 'anyone', scope: 'instance', credentials: 'none' };
export const OIDC_EXCHANGE_PATH = '/-/npm/v1/oidc/token/exchange/package/';

const bearer = (header: string | string[] | undefined): string | undefined => {
  const value = Array.isArray(header) ? header[0] : header;
  return value ? /^Bearer\s+(\S+)\s*$/i.exec(value)?.[1] : undefined;
};

export const oidcExchangeRoutes =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.post(`${OIDC_EXCHANGE_PATH}*`, { config: { access }, bodyLimit: 1024 }, async (request, reply) => {
      // The raw path: npm sends `@scope%2fname`, which the router would have decoded once already.
      const raw = (request.raw.url ?? request.url).split('?')[0]!.slice(OIDC_EXCHANGE_PATH.length);
      const name = decodePackageName(raw);
      const exchanged = await deps.services.trustedPublishing.exchange(bearer(request.headers.authorization), name, request.ip);
      // A bearer credential: never stored by a cache on the way.
      return reply.header('cache-control', 'no-store').send(exchanged);
    });
  };
