import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Deps } from '../../../app-deps.js';
import { auditContext } from '../../audit-context.js';
import { presentSettings } from '../../../services/settings.service.js';
import { adminOnly } from './guards.js';

export const settingsRoutes =
  (deps: Deps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { services } = deps;

    app.get('/application/settings', { config: adminOnly() }, async (request) => {
      return { id: 1, ...presentSettings(await services.settings.get()) };
    });

    app.put('/application/settings', { config: adminOnly() }, async (request) => {
      const caller = await request.caller({ required: true });
      return { id: 1, ...presentSettings(await services.settings.update(request.body, auditContext(request, caller))) };
    });
  };
