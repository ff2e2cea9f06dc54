/**
 * Helm's path check, which GitLab makes before it looks at the caller. Who may use a project's Helm repository is
 * decided by each route's declared ability (`http/plugins/route-access.ts`): GitLab's package-access procedure
 * (docs/design/gitlab-compatibility.md#npm-decision-procedure) with Helm's plain `404 Project Not Found`, and a
 * Basic challenge on every 401 (docs/design/gitlab-compatibility.md#npm-credential-lookup, #helm-credentials).
 */
import { errors } from '../../domain/errors.js';
import { isValidChannel } from '../../domain/helm/rules.js';

/** Grape's parameter check runs before anything else: `{"error":"channel is invalid"}`. */
export function requireValidChannel(channel: string): void {
  if (!isValidChannel(channel)) throw errors.params(['channel is invalid']);
}
