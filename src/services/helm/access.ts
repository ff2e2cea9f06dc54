/**
 * Who may use a project's Helm repository: GitLab's package-access procedure (docs/design/gitlab-compatibility.md#npm-decision-procedure) with Helm's
 * difference that every 401 carries the Basic challenge (docs/design/gitlab-compatibility.md#npm-credential-lookup, #helm-credentials).
 */
import type { PackageAbility } from '../../domain/access/abilities.js';
import type { Identity } from '../../domain/access/identity.js';
import { errors, isAppError } from '../../domain/errors.js';
import { isValidChannel } from '../../domain/helm/rules.js';
import type { ProjectRow } from '../../storage/db/schema.js';
import type { AccessService } from '../access.service.js';

/** Grape's parameter check runs before anything else: `{"error":"channel is invalid"}`. */
export function requireValidChannel(channel: string): void {
  if (!isValidChannel(channel)) throw errors.params(['channel is invalid']);
}

/** A 401 from any layer, answered as the Helm routes answer it. */
export function asHelmUnauthorized(err: unknown): unknown {
  return isAppError(err) && err.status === 401 ? errors.helmUnauthorized(err) : err;
}

export async function authorizeHelm(access: AccessService, identity: Identity, idOrPath: string, ability: PackageAbility): Promise<ProjectRow> {
  try {
    const { project } = await access.authorizePackageAccess(identity, idOrPath, ability, 'authenticate-non-public', () =>
      errors.notFound('Project'),
    );
    return project;
  } catch (err) {
    throw asHelmUnauthorized(err);
  }
}
