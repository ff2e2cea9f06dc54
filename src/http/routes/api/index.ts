/** The GitLab-compatible management API under `/api/v4`. */
import type { FastifyPluginAsync } from 'fastify';
import type { Deps } from '../../../app-deps.js';
import { mergeQueryIntoBody, registerLenientJsonParser } from '../../plugins/body-parsers.js';
import { auditEventRoutes } from './audit-events.routes.js';
import { deployTokenRoutes } from './deploy-tokens.routes.js';
import { groupRoutes } from './groups.routes.js';
import { memberRoutes } from './members.routes.js';
import { npmProxyRoutes } from './npm-proxy.routes.js';
import { projectRoutes } from './projects.routes.js';
import { protectionRuleRoutes } from './protection-rules.routes.js';
import { settingsRoutes } from './settings.routes.js';
import { tokenRoutes } from './tokens.routes.js';
import { trustedPublisherRoutes } from './trusted-publishers.routes.js';
import { userRoutes } from './users.routes.js';

export const apiRoutes =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    registerLenientJsonParser(app);
    app.addHook('preValidation', async (request) => mergeQueryIntoBody(request));
    await app.register(userRoutes(deps));
    await app.register(tokenRoutes(deps));
    await app.register(groupRoutes(deps));
    await app.register(projectRoutes(deps));
    await app.register(memberRoutes(deps));
    await app.register(deployTokenRoutes(deps));
    await app.register(settingsRoutes(deps));
    await app.register(protectionRuleRoutes(deps));
    await app.register(auditEventRoutes(deps));
    await app.register(npmProxyRoutes(deps));
    await app.register(trustedPublisherRoutes(deps));
  };
