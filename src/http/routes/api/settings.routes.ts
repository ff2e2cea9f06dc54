import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Deps } from '../../../app-deps.js';
import { WRITE_ONLY_SETTINGS, type ApplicationSettings } from '../../../services/settings.service.js';
import { auditContext } from '../../audit-context.js';
import { adminOnly } from './guards.js';

/** The settings as the API shows them: a secret is replaced by `<key>_set: true|false`. */
function present(settings: Readonly<ApplicationSettings>): Record<string, unknown> {
  const out: Record<string, unknown> = { id: 1, ...settings };
  for (const key of WRITE_ONLY_SETTINGS) {
    out[`${key}_set`] = settings[key] !== null;
    delete out[key];
  }
  return out;
}

export const settingsRoutes =
  (deps: Deps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { services } = deps;

    app.get('/application/settings', { config: adminOnly() }, async (request) => {
      return present(await services.settings.get());
    });

    app.put('/application/settings', { config: adminOnly() }, async (request) => {
      const caller = await request.caller({ required: true });
      return present(await services.settings.update(request.body, auditContext(request, caller)));
    });
  };
