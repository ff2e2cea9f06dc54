/** `/projects/:id/members` and `/groups/:id/members`: the same routes for both sources, as in GitLab. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Deps } from '../../../app-deps.js';
import { auditContext } from '../../audit-context.js';
import { PageQuery, pageOf, setPaginationHeaders } from '../../pagination.js';
import { IdParams } from './groups.routes.js';
import { Presenter } from './presenters.js';
import { anyone, signedIn } from './guards.js';

const MemberParams = Type.Object({ id: Type.String({ minLength: 1 }), user_id: Type.Integer() });
const ExpiresAt = Type.Optional(Type.Union([Type.String(), Type.Null()]));

export const memberRoutes =
  (deps: Deps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { services, config } = deps;
    const presenter = () => new Presenter(config.externalUrl, services.groups);

    for (const kind of ['projects', 'groups'] as const) {
      const type = kind === 'projects' ? 'project' : 'group';

      app.get(
        `/${kind}/:id/members`,
        { config: anyone(kind === 'projects' ? 'project' : 'group'), schema: { params: IdParams, querystring: Type.Object({ ...PageQuery, query: Type.Optional(Type.String()) }) } },
        async (request, reply) => {
          const caller = await request.caller();
          const source = await services.members.source(caller, type, request.params.id);
          const page = pageOf(request.query);
          const { items, total } = await services.members.list(source, page, request.query.query);
          setPaginationHeaders(request, reply, config.externalUrl, page, total);
          const p = presenter();
          return items.map((m) => p.member(m));
        },
      );

      app.get(`/${kind}/:id/members/:user_id`, { config: anyone(kind === 'projects' ? 'project' : 'group'), schema: { params: MemberParams } }, async (request) => {
        const caller = await request.caller();
        const source = await services.members.source(caller, type, request.params.id);
        return presenter().member(await services.members.get(source, request.params.user_id));
      });

      app.post(
        `/${kind}/:id/members`,
        {
          config: signedIn(kind === 'projects' ? 'project' : 'group'),
          schema: {
            params: IdParams,
            body: Type.Object({
              user_id: Type.Optional(Type.Integer()),
              username: Type.Optional(Type.String()),
              access_level: Type.Integer(),
              expires_at: ExpiresAt,
            }),
          },
        },
        async (request, reply) => {
          const caller = await request.caller({ required: true });
          const source = await services.members.source(caller, type, request.params.id);
          const member = await services.members.add(caller, source, request.body, auditContext(request, caller));
          return reply.code(201).send(presenter().member(member));
        },
      );

      app.put(
        `/${kind}/:id/members/:user_id`,
        { config: signedIn(kind === 'projects' ? 'project' : 'group'), schema: { params: MemberParams, body: Type.Object({ access_level: Type.Integer(), expires_at: ExpiresAt }) } },
        async (request) => {
          const caller = await request.caller({ required: true });
          const source = await services.members.source(caller, type, request.params.id);
          return presenter().member(await services.members.update(caller, source, request.params.user_id, request.body, auditContext(request, caller)));
        },
      );

      app.delete(`/${kind}/:id/members/:user_id`, { config: signedIn(kind === 'projects' ? 'project' : 'group'), schema: { params: MemberParams } }, async (request, reply) => {
        const caller = await request.caller({ required: true });
        const source = await services.members.source(caller, type, request.params.id);
        await services.members.remove(caller, source, request.params.user_id, auditContext(request, caller));
        return reply.code(204).send();
      });
    }
  };
