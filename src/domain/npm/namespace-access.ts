/**
 * The access rules of GitLab's npm group and instance endpoints (docs/design/gitlab-compatibility.md#group-and-instance-endpoints, #group-and-instance-metadata). Pure: the namespace service feeds in what it found, these decide what the caller is told.
 */
import { can, type AccessRouteKind, type ProjectAccessContext } from '../access/abilities.js';
import type { Identity } from '../access/identity.js';
import { errors } from '../errors.js';

/**
 * `find_group` + `check_group_access`: a group that does not exist or that the caller may not see is `401` for an
 * anonymous caller on a route with `authenticate_non_public` (packuments, dist-tag reads), else GitLab's npm
 * `404 Group Not Found` — the same answer for both, so a private group's existence is not revealed.
 */
export function refuseGroup(identity: Identity, route: AccessRouteKind): Error {
  if (identity.kind === 'anonymous' && route === 'authenticate-non-public') return errors.unauthorized();
  return errors.npmNotFound('Group');
}

/**
 * Step 4 of the namespace packument: of the projects holding the package (found whatever the caller's rights),
 * those whose packages the caller may read. None at all while some exist → `401` anonymous, `403` otherwise:
 * GitLab says "it exists, but not for you" here rather than hiding it, and never forwards such a name upstream.
 */
export function readableProjects<T extends { ctx: ProjectAccessContext }>(identity: Identity, candidates: readonly T[]): T[] {
  const readable = candidates.filter((c) => can(identity, 'read_package', c.ctx));
  if (candidates.length > 0 && readable.length === 0) throw identity.kind === 'anonymous' ? errors.unauthorized() : errors.insufficientAccess();
  return readable;
}
