import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Deps } from '../../../app-deps.js';
import { PageQuery, pageOf, setPaginationHeaders } from '../../pagination.js';
import { Presenter } from './presenters.js';
import { anyone, signedIn } from './guards.js';

export const VisibilityParam = Type.Union([Type.Literal('private'), Type.Literal('internal'), Type.Literal('public')]);
export const IdParams = Type.Object({ id: Type.String({ minLength: 1 }) });

export const groupRoutes =
  (deps: Deps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { services, config } = deps;
    const presenter = () => new Presenter(config.externalUrl, services.groups);

    app.post(
      '/groups',
      {
        config: signedIn('instance'),
        schema: {
          body: Type.Object({
            name: Type.String(),
            path: Type.String(),
            parent_id: Type.Optional(Type.Integer()),
            visibility: Type.Optional(VisibilityParam),
            description: Type.Optional(Type.String()),
          }),
        },
      },
      async (request, reply) => {
        const caller = await request.caller({ required: true });
        const group = await services.groups.create(caller, request.body);
        const p = presenter();
        await p.preload([group]);
        return reply.code(201).send({ ...p.group(group), projects: [], shared_projects: [], shared_with_groups: [] });
      },
    );

    app.get(
      '/groups',
      {
        config: anyone('instance'),
        schema: {
          querystring: Type.Object({
            ...PageQuery,
            search: Type.Optional(Type.String()),
            top_level_only: Type.Optional(Type.Boolean()),
            owned: Type.Optional(Type.Boolean()),
          }),
        },
      },
      async (request, reply) => {
        const caller = await request.caller();
        const q = request.query;
        const page = pageOf(q);
        const { items, total } = await services.groups.list(
          caller,
          {
            search: q.search,
            topLevelOnly: q.top_level_only ?? false,
            ownedOrMemberUserId: q.owned && caller.kind === 'user' ? caller.userId : undefined,
          },
          page,
        );
        setPaginationHeaders(request, reply, config.externalUrl, page, total);
        const p = presenter();
        await p.preload(items);
        return items.map((g) => p.group(g));
      },
    );

    app.get('/groups/:id', { config: anyone('group'), schema: { params: IdParams } }, async (request) => {
      const caller = await request.caller();
      const group = await services.groups.get(caller, request.params.id);
      const { items } = await services.projects.list(caller, { namespaceIds: [group.id] }, { page: 1, perPage: 100 });
      const p = presenter();
      await p.preload([group]);
      return { ...p.group(group), projects: items.map((pr) => p.project(pr)), shared_projects: [], shared_with_groups: [] };
    });

    app.get(
      '/groups/:id/projects',
      {
        config: anyone('group'),
        schema: {
          params: IdParams,
          querystring: Type.Object({ ...PageQuery, include_subgroups: Type.Optional(Type.Boolean()), search: Type.Optional(Type.String()) }),
        },
      },
      async (request, reply) => {
        const caller = await request.caller();
        const group = await services.groups.get(caller, request.params.id);
        const q = request.query;
        const namespaceIds = q.include_subgroups ? await services.groups.subtreeIds(group) : [group.id];
        const page = pageOf(q);
        const { items, total } = await services.projects.list(caller, { namespaceIds, search: q.search }, page);
        setPaginationHeaders(request, reply, config.externalUrl, page, total);
        const p = presenter();
        await p.preloadIds(items.map((i) => i.namespace_id));
        return items.map((pr) => p.project(pr));
      },
    );
  };
