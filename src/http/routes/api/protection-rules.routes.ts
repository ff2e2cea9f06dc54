/**
 * Package protection rules (GitLab's `lib/api/project_packages_protection_rules.rb`); managing them needs
 * Maintainer. What they protect is decided in `domain/access/protection.ts`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Deps } from '../../../app-deps.js';
import type { ProtectionRuleRow } from '../../../domain/records.js';
import { auditContext } from '../../audit-context.js';
import { IdParams } from './groups.routes.js';
import { anyone, signedIn } from './guards.js';

const RuleParams = Type.Object({ id: Type.String({ minLength: 1 }), rule_id: Type.Integer() });
const Level = Type.Optional(Type.Union([Type.String(), Type.Null()]));
/** Every field optional here: the service names what is missing, in GitLab's words. */
const RuleBody = Type.Object({
  package_name_pattern: Type.Optional(Type.String()),
  package_type: Type.Optional(Type.String()),
  minimum_access_level_for_push: Level,
  minimum_access_level_for_delete: Level,
});

/** GitLab's `API::Entities::Projects::Packages::Protection::Rule`. */
const present = (r: ProtectionRuleRow) => ({
  id: r.id,
  project_id: r.project_id,
  package_name_pattern: r.package_name_pattern,
  package_type: r.package_type,
  minimum_access_level_for_push: r.minimum_access_level_for_push,
  minimum_access_level_for_delete: r.minimum_access_level_for_delete,
});

export const protectionRuleRoutes =
  (deps: Deps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { services } = deps;
    const base = '/projects/:id/packages/protection/rules';

    app.get(base, { config: anyone('project'), schema: { params: IdParams } }, async (request) => {
      const caller = await request.caller();
      return (await services.protection.list(caller, request.params.id)).map(present);
    });

    app.post(
      base,
      {
        config: signedIn('project'),
        schema: {
          params: IdParams,
          body: RuleBody,
        },
      },
      async (request, reply) => {
        const caller = await request.caller({ required: true });
        return reply.code(201).send(present(await services.protection.create(caller, request.params.id, request.body, auditContext(request, caller))));
      },
    );

    app.patch(
      `${base}/:rule_id`,
      {
        config: signedIn('project'),
        schema: {
          params: RuleParams,
          body: RuleBody,
        },
      },
      async (request) => {
        const caller = await request.caller({ required: true });
        return present(await services.protection.update(caller, request.params.id, request.params.rule_id, request.body, auditContext(request, caller)));
      },
    );

    app.delete(`${base}/:rule_id`, { config: signedIn('project'), schema: { params: RuleParams } }, async (request, reply) => {
      const caller = await request.caller({ required: true });
      await services.protection.remove(caller, request.params.id, request.params.rule_id, auditContext(request, caller));
      return reply.code(204).send();
    });
  };
