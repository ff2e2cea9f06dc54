/**
 * Credential extraction for routes. Resolution is lazy: only routes that need to know the caller pay for it, and
 * each request resolves at most once per credential mode.
 */
import type { FastifyRequest } from 'fastify';
import { checkTokenScope } from '../../domain/access/abilities.js';
import { extractCredential, type CredentialMode } from '../../domain/access/credentials.js';
import type { Identity } from '../../domain/access/identity.js';
import { errors } from '../../domain/errors.js';
import type { IdentityService } from '../../services/identity.service.js';

const resolved = new WeakMap<FastifyRequest, Map<CredentialMode, Promise<Identity>>>();

export function identityOf(request: FastifyRequest, service: IdentityService, mode: CredentialMode = 'standard'): Promise<Identity> {
  let perMode = resolved.get(request);
  if (!perMode) {
    perMode = new Map();
    resolved.set(request, perMode);
  }
  let p = perMode.get(mode);
  if (!p) {
    p = service.resolve(extractCredential(request.headers, (request.query ?? {}) as Record<string, unknown>, mode));
    perMode.set(mode, p);
  }
  return p;
}

/**
 * The caller of a management API route: token scope checked against the HTTP method (a `read_api` token may only
 * read), and, with `required`, anonymous callers refused with 401.
 */
export async function apiCaller(request: FastifyRequest, service: IdentityService, required: boolean): Promise<Identity> {
  const identity = await identityOf(request, service, 'standard');
  if (required && identity.kind === 'anonymous') throw errors.unauthorized();
  checkTokenScope(identity, request.method);
  return identity;
}
