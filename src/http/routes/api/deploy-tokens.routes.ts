/** Project and group deploy tokens (GitLab's `lib/api/deploy_tokens.rb`); managing them needs Maintainer. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { Deps } from '../../../app-deps.js';
import { iso } from '../../../domain/clock.js';
import { errors } from '../../../domain/errors.js';
import { canAdminister } from '../../../domain/access/abilities.js';
import { auditContext } from '../../audit-context.js';
import { PageQuery, pageOf, setPaginationHeaders } from '../../pagination.js';
import { IdParams } from './groups.routes.js';
import { Presenter } from './presenters.js';
import { scopeList } from './tokens.routes.js';
import { signedIn } from './guards.js';

const TokenParams = Type.Object({ id: Type.String({ minLength: 1 }), token_id: Type.Integer() });

export const deployTokenRoutes =
  (deps: Deps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { services, config, clock } = deps;
    const present = (row: Parameters<Presenter['deployToken']>[0]) =>
      new Presenter(config.externalUrl, services.groups).deployToken(row, iso(clock.now()));

    /** The token owner, after checking the caller may manage its deploy tokens. */
    const ownerFor = async (request: FastifyRequest, kind: 'projects' | 'groups', id: string) => {
      const caller = await request.caller({ required: true });
      if (kind === 'projects') {
        const { project, ctx } = await services.access.readableProject(caller, id);
        if (!canAdminister(caller, ctx.memberLevel)) throw errors.insufficientAccess();
        return { projectId: project.id };
      }
      const { group, ctx } = await services.access.readableGroup(caller, id);
      if (!canAdminister(caller, ctx.memberLevel)) throw errors.insufficientAccess();
      return { groupId: group.id };
    };

    for (const kind of ['projects', 'groups'] as const) {
      app.get(
        `/${kind}/:id/deploy_tokens`,
        { config: signedIn(kind === 'projects' ? 'project' : 'group'), schema: { params: IdParams, querystring: Type.Object({ ...PageQuery, active: Type.Optional(Type.Boolean()) }) } },
        async (request, reply) => {
          const owner = await ownerFor(request, kind, request.params.id);
          const page = pageOf(request.query);
          const { items, total } = await services.tokens.listDeploy(owner, page, request.query.active ?? false);
          setPaginationHeaders(request, reply, config.externalUrl, page, total);
          return items.map(present);
        },
      );

      app.get(`/${kind}/:id/deploy_tokens/:token_id`, { config: signedIn(kind === 'projects' ? 'project' : 'group'), schema: { params: TokenParams } }, async (request) => {
        const owner = await ownerFor(request, kind, request.params.id);
        return present(await services.tokens.getDeploy(owner, request.params.token_id));
      });

      app.post(
        `/${kind}/:id/deploy_tokens`,
        {
          config: signedIn(kind === 'projects' ? 'project' : 'group'),
          schema: {
            params: IdParams,
            body: Type.Object({
              name: Type.String(),
              scopes: Type.Union([Type.Array(Type.String(), { minItems: 1 }), Type.String({ minLength: 1 })]),
              expires_at: Type.Optional(Type.Union([Type.String(), Type.Null()])),
              username: Type.Optional(Type.String()),
            }),
          },
        },
        async (request, reply) => {
          const owner = await ownerFor(request, kind, request.params.id);
          const b = request.body;
          const { row, token } = await services.tokens.createDeploy(
            owner,
            { name: b.name, scopes: scopeList(b.scopes), expires_at: b.expires_at, username: b.username },
            auditContext(request, await request.caller({ required: true })),
          );
          return reply.code(201).send({ ...present(row), token });
        },
      );

      app.delete(`/${kind}/:id/deploy_tokens/:token_id`, { config: signedIn(kind === 'projects' ? 'project' : 'group'), schema: { params: TokenParams } }, async (request, reply) => {
        const owner = await ownerFor(request, kind, request.params.id);
        await services.tokens.revokeDeploy(owner, request.params.token_id, auditContext(request, await request.caller({ required: true })));
        return reply.code(204).send();
      });
    }
  };
