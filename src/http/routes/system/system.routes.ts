/** Liveness, readiness and version: what load balancers and `curl` ask first. */
import type { FastifyPluginAsync } from 'fastify';
import type { Deps } from '../../../app-deps.js';
import { VERSION } from '../../../version.js';

export const systemRoutes =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.get('/-/health', async (_request, reply) => reply.type('text/plain').send('GitLab OK'));

    app.get('/-/readiness', async (request, reply) => {
      try {
        await deps.services.health.databaseReachable();
        return reply.send({ status: 'ok', master_check: [{ status: 'ok' }], db_check: [{ status: 'ok' }] });
      } catch (err) {
        request.log.warn({ err }, 'readiness: database unreachable');
        return reply.code(503).send({ status: 'failed', db_check: [{ status: 'failed', message: 'database unreachable' }] });
      }
    });

    // GitLab answers the version to anyone; no credential is looked at.
    app.get('/api/v4/version', { config: { access: { ability: 'anyone', scope: 'instance', credentials: 'none' } } }, async () => ({ version: VERSION, revision: 'wharf', kas: { enabled: false }, enterprise: false }));
  };
