/**
 * A project's npm trusted publishers (docs/trusted-publishing.md): `GET`, `POST` and `DELETE …/:publisher_id` under
 * `/projects/:id/packages/npm/trusted_publishers`. Managing them needs Maintainer (the service decides, through
 * `domain/access`); deploy tokens and trusted publishing tokens are refused, as on every management route.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Deps } from '../../../app-deps.js';
import { presentPublisher } from '../../../services/trusted-publishing.service.js';
import { auditContext } from '../../audit-context.js';
import { IdParams } from './groups.routes.js';
import { signedIn } from './guards.js';

const PublisherParams = Type.Object({ id: Type.String({ minLength: 1 }), publisher_id: Type.Integer({ minimum: 1 }) });
/** Shapes are the service's to check (every problem named at once); the body only has to be an object. */
const PublisherBody = Type.Object({
  issuer: Type.Optional(Type.Unknown()),
  claims: Type.Optional(Type.Unknown()),
  package_name_pattern: Type.Optional(Type.Unknown()),
});

export const trustedPublisherRoutes =
  (deps: Deps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { services } = deps;
    const base = '/projects/:id/packages/npm/trusted_publishers';

    app.get(base, { config: signedIn('project'), schema: { params: IdParams } }, async (request) => {
      const caller = await request.caller({ required: true });
      return (await services.trustedPublishing.list(caller, request.params.id)).map(presentPublisher);
    });

    app.post(base, { config: signedIn('project'), bodyLimit: 16 * 1024, schema: { params: IdParams, body: PublisherBody } }, async (request, reply) => {
      const caller = await request.caller({ required: true });
      const row = await services.trustedPublishing.create(caller, request.params.id, request.body, auditContext(request, caller));
      return reply.code(201).send(presentPublisher(row));
    });

    app.delete(`${base}/:publisher_id`, { config: signedIn('project'), schema: { params: PublisherParams } }, async (request, reply) => {
      const caller = await request.caller({ required: true });
      await services.trustedPublishing.remove(caller, request.params.id, request.params.publisher_id, auditContext(request, caller));
      return reply.code(204).send();
    });
  };
