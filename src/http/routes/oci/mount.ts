/**
 * The source of a cross-repository mount (`POST …/blobs/uploads/?mount=<digest>&from=<name>`,
 * docs/design/helm-oci.md#cross-repository-mount). Pushing to the target was decided by the route's access check;
 * mounting also reads `from`, so the caller must be able to pull it (`read_package` on its project). Anything else
 * — no `from`, a name that is no repository, a project that does not exist or that the caller may not read — is no
 * source at all, and the caller gets the same new upload session it gets for a blob `from` lacks: a mount never
 * tells whether a blob exists where the caller cannot look. A Bearer token must also grant `pull` on `from` (it
 * only narrows what its identity may do).
 */
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../../app-deps.js';
import { AppError } from '../../../domain/errors.js';
import { splitRepositoryName } from '../../../domain/oci/names.js';
import { accessCovers } from '../../../domain/oci/token-access.js';
import type { OciRepositoryRef } from '../../../services/oci/blobs.service.js';

export async function mountSource(services: Services, request: FastifyRequest, from: unknown): Promise<OciRepositoryRef | undefined> {
  // The spec lets a registry look anywhere for a mount without `from`; Wharf looks only where the caller may read.
  if (typeof from !== 'string') return undefined;
  const name = splitRepositoryName(from);
  if (!name) return undefined;
  if (request.registryAccess && !accessCovers(request.registryAccess, from, 'pull')) return undefined;
  const identity = await request.caller();
  try {
    const { project } = await services.access.authorizePackageAccess(identity, name.projectPath, 'read_package', 'authenticate-non-public');
    return { projectId: project.id, repository: from };
  } catch (err) {
    // A refusal (401, 403, 404) is the answer "no source"; a fault is not.
    if (err instanceof AppError && err.status < 500) return undefined;
    throw err;
  }
}
