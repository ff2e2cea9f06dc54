import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Deps } from '../../../app-deps.js';
import { requireAdmin } from '../../../services/users.service.js';
import { apiCaller } from '../../plugins/identity.js';
import { auditContext } from '../../audit-context.js';
import { adminOnly } from './guards.js';

export const settingsRoutes =
  (deps: Deps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { services } = deps;

    app.get('/application/settings', { onRequest: adminOnly(deps) }, async (request) => {
      requireAdmin(await apiCaller(request, services.identity, true));
      return { id: 1, ...(await services.settings.get()) };
    });

    app.put('/application/settings', { onRequest: adminOnly(deps) }, async (request) => {
      const caller = await apiCaller(request, services.identity, true);
      requireAdmin(caller);
      return { id: 1, ...(await services.settings.update(request.body, auditContext(request, caller))) };
    });
  };
