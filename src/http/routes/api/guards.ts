/**
 * Authentication runs before parameter validation, as in GitLab (Grape's `before` blocks run before its
 * validations): an anonymous or badly authenticated write gets 401, a `read_api` token on a write 403, and a
 * non-admin on an admin route 403, whatever the parameters — never a 400 describing the route's parameters.
 */
import type { FastifyRequest } from 'fastify';
import type { Deps } from '../../../app-deps.js';
import { errors } from '../../../domain/errors.js';
import { requireAdmin } from '../../../services/users.service.js';
import { apiCaller } from '../../plugins/identity.js';

/**
 * For every management route, as an `onRequest` hook so that it runs before the body is read: a write from an
 * anonymous caller is refused without reading what it sends. Resolves the caller once (the handler reuses it). A deploy token authenticates
 * package and registry requests only, as in GitLab; on the management API it is refused (401), reads included.
 */
export const authenticateFirst =
  (deps: Deps) =>
  async (request: FastifyRequest): Promise<void> => {
    const write = request.method !== 'GET' && request.method !== 'HEAD';
    const caller = await apiCaller(request, deps.services.identity, write);
    if (caller.kind === 'deploy_token') throw errors.unauthorized();
  };

/** Route-level `onRequest` for instance-admin routes: a non-admin is refused before the body is read. */
export const adminOnly =
  (deps: Deps) =>
  async (request: FastifyRequest): Promise<void> => {
    requireAdmin(await apiCaller(request, deps.services.identity, true));
  };
