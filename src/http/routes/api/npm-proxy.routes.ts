/**
 * The npm proxy cache's administration (docs/npm-proxy.md#operating-the-cache): administrators only, like the
 * settings that drive the proxy. Lists and totals, and purges (recorded in the audit log).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Deps } from '../../../app-deps.js';
import { auditContext } from '../../audit-context.js';
import { PageQuery, pageOf, setPaginationHeaders } from '../../pagination.js';
import { adminOnly } from './guards.js';

export const npmProxyRoutes =
  (deps: Deps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { services, config } = deps;
    const cache = services.npm.proxyAdmin;

    app.get(
      '/npm_proxy/cache',
      { config: adminOnly(), schema: { querystring: Type.Object({ ...PageQuery, search: Type.Optional(Type.String()) }) } },
      async (request, reply) => {
        const caller = await request.caller({ required: true });
        const page = pageOf(request.query);
        const { items, total } = await cache.list(caller, { search: request.query.search }, page);
        setPaginationHeaders(request, reply, config.externalUrl, page, total);
        return items;
      },
    );

    app.get('/npm_proxy/cache/stats', { config: adminOnly() }, async (request) => cache.stats(await request.caller({ required: true })));

    // The name is one path segment: a scoped name's slash is sent encoded (`@scope%2Fname`), as project paths are.
    app.delete('/npm_proxy/cache/:name', { config: adminOnly(), schema: { params: Type.Object({ name: Type.String() }) } }, async (request) => {
      const caller = await request.caller({ required: true });
      return cache.purge(caller, request.params.name, auditContext(request, caller));
    });

    app.delete('/npm_proxy/cache', { config: adminOnly() }, async (request) => {
      const caller = await request.caller({ required: true });
      return cache.purgeAll(caller, auditContext(request, caller));
    });
  };
