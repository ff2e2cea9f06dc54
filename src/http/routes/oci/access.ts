/**
 * Who may do what under `/v2/` (docs/design/helm-oci.md#access). The project is named by the repository name, not
 * by `:id`, so the routes decide through `access.decide`: the path is parsed, the caller established (HTTP Basic, or
 * anonymous), then GitLab's package ability checked on the project — pull is `read_package`, push
 * `create_package`, delete `destroy_package`. Writes are decided before a byte of their body is read.
 */
import type { FastifyRequest } from 'fastify';
import type { PackageAbility } from '../../../domain/access/abilities.js';
import { errors } from '../../../domain/errors.js';
import { parseOciPath, splitRepositoryName, type OciTarget, type RepositoryName } from '../../../domain/oci/names.js';
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

function abilityOf(method: string, target: OciTarget): PackageAbility {
  if (isRead(method)) return 'read_package';
  // Cancelling one's own upload is part of pushing; deleting what is stored is a destroy.
  if (method === 'DELETE' && target.kind !== 'upload') return 'destroy_package';
  return 'create_package';
}

/** The declaration every `/v2/<name>/…` route carries. */
export const ociAccess = (services: Services): RouteAccess => ({
  ability: 'read_package',
  scope: 'project',
  credentials: 'basic-only',
  decide: async (request: FastifyRequest, stage: CheckStage): Promise<void> => {
    if ((stage === 'before-body') === isRead(request.method)) return;
    const { target, name } = resolveTarget(request);
    const identity = await request.caller();
    const { project, ctx } = await services.access.authorizePackageAccess(identity, name.projectPath, abilityOf(request.method, target), 'authenticate-non-public', () =>
      errors.oci('NAME_UNKNOWN', 'repository name not known to registry', { name: target.name }),
    );
    request.projectAccess = { identity, project, ctx };
  },
});
