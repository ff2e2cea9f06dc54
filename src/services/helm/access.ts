/**
 * Who may use a project's Helm repository: GitLab's package-access procedure (docs/design/gitlab-compatibility.md#npm-decision-procedure) with Helm's
 * difference that every 401 carries the Basic challenge (docs/design/gitlab-compatibility.md#npm-credential-lookup, #helm-credentials).
 */
import type { PackageAbility } from '../../domain/access/abilities.js';
import type { Identity } from '../../domain/access/identity.js';
import { errors } from '../../domain/errors.js';
import { isValidChannel } from '../../domain/helm/rules.js';
import type { ProjectRow } from '../../storage/db/schema.js';
import type { AccessService } from '../access.service.js';

/** Grape's parameter check runs before anything else: `{"error":"channel is invalid"}`. */
export function requireValidChannel(channel: string): void {
  if (!isValidChannel(channel)) throw errors.params(['channel is invalid']);
}

/** GitLab's procedure with Helm's plain `404 Project Not Found`; a 401 gets its Basic challenge from the route (`error-handler.ts`). */
export async function authorizeHelm(access: AccessService, identity: Identity, idOrPath: string, ability: PackageAbility): Promise<ProjectRow> {
  const { project } = await access.authorizePackageAccess(identity, idOrPath, ability, 'authenticate-non-public', () => errors.notFound('Project'));
  return project;
}
