import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Deps } from '../../../app-deps.js';
import { PageQuery, pageOf, setPaginationHeaders } from '../../pagination.js';
import { IdParams, VisibilityParam } from './groups.routes.js';
import { Presenter } from './presenters.js';
import { anyone, signedIn } from './guards.js';

const RegistryAccessLevelParam = Type.Union([
  Type.Literal('disabled'),
  Type.Literal('private'),
  Type.Literal('enabled'),
  Type.Literal('public'),
]);

export const projectRoutes =
  (deps: Deps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { services, config } = deps;
    const presenter = () => new Presenter(config.externalUrl, services.groups);
    const presentOne = async (project: Awaited<ReturnType<typeof services.projects.get>>) => {
      const p = presenter();
      await p.preloadIds([project.namespace_id]);
      return p.project(project);
    };

    app.post(
      '/projects',
      {
        config: signedIn('instance'),
        schema: {
          body: Type.Object({
            name: Type.Optional(Type.String()),
            path: Type.Optional(Type.String()),
            namespace_id: Type.Optional(Type.Integer()),
            visibility: Type.Optional(VisibilityParam),
            description: Type.Optional(Type.String()),
            package_registry_access_level: Type.Optional(RegistryAccessLevelParam),
          }),
        },
      },
      async (request, reply) => {
        const caller = await request.caller({ required: true });
        const project = await services.projects.create(caller, request.body);
        return reply.code(201).send(await presentOne(project));
      },
    );

    app.get(
      '/projects',
      {
        config: anyone('instance'),
        schema: {
          querystring: Type.Object({
            ...PageQuery,
            search: Type.Optional(Type.String()),
            visibility: Type.Optional(VisibilityParam),
            membership: Type.Optional(Type.Boolean()),
          }),
        },
      },
      async (request, reply) => {
        const caller = await request.caller();
        const q = request.query;
        const page = pageOf(q);
        const { items, total } = await services.projects.list(
          caller,
          { search: q.search, visibility: q.visibility, membershipUserId: q.membership && caller.kind === 'user' ? caller.userId : undefined },
          page,
        );
        setPaginationHeaders(request, reply, config.externalUrl, page, total);
        const p = presenter();
        await p.preloadIds(items.map((i) => i.namespace_id));
        return items.map((pr) => p.project(pr));
      },
    );

    app.get('/projects/:id', { config: anyone('project'), schema: { params: IdParams } }, async (request) => {
      const caller = await request.caller();
      return presentOne(await services.projects.get(caller, request.params.id));
    });

    app.put(
      '/projects/:id',
      {
        config: signedIn('project'),
        schema: {
          params: IdParams,
          body: Type.Object({
            name: Type.Optional(Type.String()),
            description: Type.Optional(Type.String()),
            visibility: Type.Optional(VisibilityParam),
            package_registry_access_level: Type.Optional(RegistryAccessLevelParam),
          }),
        },
      },
      async (request) => {
        const caller = await request.caller({ required: true });
        return presentOne(await services.projects.update(caller, request.params.id, request.body ?? {}));
      },
    );
  };
