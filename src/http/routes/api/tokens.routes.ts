/** Personal access tokens: GitLab's `/users/:id/personal_access_tokens`, `/user/…` and `/personal_access_tokens`. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Deps } from '../../../app-deps.js';
import { errors } from '../../../domain/errors.js';
import type { Identity } from '../../../domain/access/identity.js';
import { auditContext } from '../../audit-context.js';
import { PageQuery, pageOf, setPaginationHeaders } from '../../pagination.js';
import { signedIn, adminOnly } from './guards.js';
import { Presenter, today } from './presenters.js';

/** GitLab accepts `scopes[]=api`, `scopes=api,read_api` and a JSON array. */
const Scopes = Type.Union([Type.Array(Type.String(), { minItems: 1 }), Type.String({ minLength: 1 })]);
export const scopeList = (s: string | string[]): string[] =>
  (Array.isArray(s) ? s : [s])
    .flatMap((x) => x.split(','))
    .map((x) => x.trim())
    .filter((x) => x !== '');

const CreatePatBody = Type.Object({
  name: Type.String(),
  scopes: Scopes,
  expires_at: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  description: Type.Optional(Type.String()),
});

export const tokenRoutes =
  (deps: Deps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { services, config, clock } = deps;
    const presenter = () => new Presenter(config.externalUrl, services.groups);
    const present = (row: Parameters<Presenter['personalAccessToken']>[0]) => presenter().personalAccessToken(row, today(clock.now()));

    app.post(
      '/users/:user_id/personal_access_tokens',
      { config: adminOnly(), schema: { params: Type.Object({ user_id: Type.Integer() }), body: CreatePatBody } },
      async (request, reply) => {
        const caller = await request.caller({ required: true });
        const b = request.body;
        const { row, token } = await services.tokens.createPersonal(
          request.params.user_id,
          { name: b.name, scopes: scopeList(b.scopes), expires_at: b.expires_at },
          auditContext(request, caller),
        );
        return reply.code(201).send({ ...present(row), token });
      },
    );

    app.post('/user/personal_access_tokens', { config: signedIn('user'), schema: { body: CreatePatBody } }, async (request, reply) => {
      const caller = await request.caller({ required: true });
      if (caller.kind !== 'user') throw errors.insufficientAccess();
      const b = request.body;
      const { row, token } = await services.tokens.createPersonal(
        caller.userId,
        { name: b.name, scopes: scopeList(b.scopes), expires_at: b.expires_at },
        auditContext(request, caller),
      );
      return reply.code(201).send({ ...present(row), token });
    });

    app.get(
      '/personal_access_tokens',
      {
        config: signedIn('user'),
        schema: {
          querystring: Type.Object({
            ...PageQuery,
            user_id: Type.Optional(Type.Integer()),
            revoked: Type.Optional(Type.Boolean()),
            state: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('inactive')])),
            search: Type.Optional(Type.String()),
          }),
        },
      },
      async (request, reply) => {
        const caller = await request.caller({ required: true });
        const q = request.query;
        const page = pageOf(q);
        const { items, total } = await services.tokens.listPersonal(caller, { userId: q.user_id, revoked: q.revoked, state: q.state, search: q.search }, page);
        setPaginationHeaders(request, reply, config.externalUrl, page, total);
        return items.map(present);
      },
    );

    const selfId = (caller: Identity): number => {
      if (caller.kind !== 'user') throw errors.unauthorized();
      return caller.tokenId;
    };

    app.get('/personal_access_tokens/self', { config: signedIn('user') }, async (request) => {
      const caller = await request.caller({ required: true });
      return present(await services.tokens.getPersonal(caller, selfId(caller)));
    });

    app.get('/personal_access_tokens/:token_id', { config: signedIn('user'), schema: { params: Type.Object({ token_id: Type.Integer() }) } }, async (request) => {
      const caller = await request.caller({ required: true });
      return present(await services.tokens.getPersonal(caller, request.params.token_id));
    });

    app.delete('/personal_access_tokens/self', { config: signedIn('user') }, async (request, reply) => {
      const caller = await request.caller({ required: true });
      await services.tokens.revokePersonal(caller, selfId(caller), auditContext(request, caller));
      return reply.code(204).send();
    });

    app.delete('/personal_access_tokens/:token_id', { config: signedIn('user'), schema: { params: Type.Object({ token_id: Type.Integer() }) } }, async (request, reply) => {
      const caller = await request.caller({ required: true });
      await services.tokens.revokePersonal(caller, request.params.token_id, auditContext(request, caller));
      return reply.code(204).send();
    });
  };
