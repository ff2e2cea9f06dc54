/**
 * Who may do what under `/v2/` (docs/design/helm-oci.md#access). The project is named by the repository name, not
 * by `:id`, so the routes decide through `access.decide`: the path is parsed, the caller established (HTTP Basic, a
 * registry Bearer token from `/jwt/auth`, or anonymous), then GitLab's package ability checked on the project —
 * pull is `read_package`, push `create_package`, delete `destroy_package`. A Bearer token must, on top of that,
 * grant the action on this repository: it only narrows what its identity may do now. Writes are decided before a
 * byte of their body is read.
 */
import type { FastifyRequest } from 'fastify';
import type { AppError } from '../../../domain/errors.js';
import { errors } from '../../../domain/errors.js';
import { parseOciPath, splitRepositoryName, type OciTarget, type RepositoryName } from '../../../domain/oci/names.js';
import { abilityOfAction, accessCovers, actionOf, bearerChallenge, challengeScope } from '../../../domain/oci/token-access.js';
import type { Services } from '../../../app-deps.js';
import type { CheckStage, RouteAccess } from '../../plugins/route-access.js';

const isRead = (method: string): boolean => method === 'GET' || method === 'HEAD';

export interface ResolvedTarget {
  target: OciTarget;
  name: RepositoryName;
}

/** The path's endpoint and repository name; the spec's refusals for what does not parse. */
export function resolveTarget(request: FastifyRequest): ResolvedTarget {
  const rest = (request.params as { '*': string })['*'];
  const target = parseOciPath(rest);
  if (!target) throw errors.routeNotFound();
  const name = splitRepositoryName(target.name);
  if (!name) throw errors.oci('NAME_INVALID', 'invalid repository name: it must be <project path>/<chart name>', { name: target.name });
  return { target, name };
}

/** The declaration every `/v2/<name>/…` route carries. */
export const ociAccess = (services: Services): RouteAccess => ({
  ability: 'read_package',
  scope: 'project',
  credentials: 'registry',
  decide: async (request: FastifyRequest, stage: CheckStage): Promise<void> => {
    if ((stage === 'before-body') === isRead(request.method)) return;
    const { target, name } = resolveTarget(request);
    const identity = await request.caller();
    const action = actionOf(request.method, target);
    const { project, ctx } = await services.access.authorizePackageAccess(identity, name.projectPath, abilityOfAction(action), 'authenticate-non-public', () =>
      errors.oci('NAME_UNKNOWN', 'repository name not known to registry', { name: target.name }),
    );
    // The identity may; the token must say so too (a token for another repository or action asks for a new one).
    if (request.registryAccess && !accessCovers(request.registryAccess, target.name, action)) throw errors.registryTokenScope(target.name, action);
    request.projectAccess = { identity, project, ctx };
  },
});

/**
 * The challenge of a 401 under `/v2/`: the token endpoint, the service, and the scope this request needs (none on
 * `GET /v2/`), as the distribution token spec and GitLab's registry write it. A token that was refused says why.
 */
export const ociChallenge =
  (services: Services) =>
  (request: FastifyRequest, err: AppError): string => {
    const error = err.code === 'registry_token_scope' ? 'insufficient_scope' : err.code === 'registry_token_invalid' ? 'invalid_token' : undefined;
    const rest = (request.params as { '*'?: string })['*'];
    const target = rest === undefined ? undefined : parseOciPath(rest);
    const scope = target && splitRepositoryName(target.name) ? challengeScope(target.name, actionOf(request.method, target)) : undefined;
    return bearerChallenge(services.registryTokens.realm, scope, error);
  };

/** The route config of `/v2/<name>/…`. */
export const ociRouteConfig = (services: Services) => ({ access: ociAccess(services), ociErrors: true, ociChallenge: ociChallenge(services) });

/** `GET /v2/`: any valid caller; an anonymous one is challenged (the way clients find out that they should log in). */
export const ociBaseConfig = (services: Services) => ({
  access: { ability: 'signed_in', scope: 'instance', credentials: 'registry' } satisfies RouteAccess,
  ociErrors: true,
  ociChallenge: ociChallenge(services),
});
