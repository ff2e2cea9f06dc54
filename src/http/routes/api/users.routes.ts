import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Deps } from '../../../app-deps.js';
import { errors } from '../../../domain/errors.js';
import { auditContext } from '../../audit-context.js';
import { PageQuery, pageOf, setPaginationHeaders } from '../../pagination.js';
import { anyone, signedIn, adminOnly } from './guards.js';
import { Presenter } from './presenters.js';

const CreateUserBody = Type.Object({
  email: Type.String(),
  name: Type.String(),
  username: Type.String(),
  password: Type.Optional(Type.String()),
  reset_password: Type.Optional(Type.Boolean()),
  force_random_password: Type.Optional(Type.Boolean()),
  admin: Type.Optional(Type.Boolean()),
});

export const userRoutes =
  (deps: Deps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { services, config } = deps;
    const presenter = () => new Presenter(config.externalUrl, services.groups);

    app.post('/users', { config: adminOnly(), schema: { body: CreateUserBody } }, async (request, reply) => {
      const caller = await request.caller({ required: true });
      const b = request.body;
      if (b.password === undefined && !b.reset_password && !b.force_random_password) {
        throw errors.params(['password, reset_password, force_random_password are missing, at least one parameter must be provided']);
      }
      // Wharf sends no e-mail: a user created without a password signs in once an admin sets one.
      const user = await services.users.create(
        { username: b.username, name: b.name, email: b.email, password: b.password, admin: b.admin },
        auditContext(request, caller),
      );
      return reply.code(201).send(presenter().user(user, true));
    });

    app.get(
      '/users',
      { config: anyone('instance'), schema: { querystring: Type.Object({ ...PageQuery, username: Type.Optional(Type.String()), search: Type.Optional(Type.String()) }) } },
      async (request, reply) => {
        const caller = await request.caller();
        const q = request.query;
        if (caller.kind === 'anonymous' && q.username === undefined) {
          throw errors.usersListingForbidden();
        }
        const page = pageOf(q);
        const admin = caller.kind === 'user' && caller.isAdmin;
        // GitLab matches e-mail addresses for administrators only (others: the public e-mail, which Wharf does not
        // keep), so the search cannot tell anyone whether an address has an account.
        const { items, total } = await services.users.list({ username: q.username, search: q.search, searchEmail: admin }, page);
        setPaginationHeaders(request, reply, config.externalUrl, page, total);
        const p = presenter();
        return items.map((u) => (admin ? p.user(u, true) : p.userBasic(u)));
      },
    );

    app.get('/users/:user_id', { config: anyone('instance'), schema: { params: Type.Object({ user_id: Type.Integer() }) } }, async (request) => {
      const caller = await request.caller();
      const user = await services.users.get(request.params.user_id);
      if (!user) throw errors.notFound('User');
      const p = presenter();
      const admin = caller.kind === 'user' && caller.isAdmin;
      return admin ? p.user(user, true) : p.userBasic(user);
    });

    app.get('/user', { config: signedIn('user') }, async (request) => {
      const caller = await request.caller({ required: true });
      if (caller.kind !== 'user') throw errors.unauthorized();
      const user = await services.users.get(caller.userId);
      if (!user) throw errors.unauthorized();
      return presenter().user(user, caller.isAdmin);
    });
  };
