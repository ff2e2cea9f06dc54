/**
 * The management API's route declarations (`config.access`, checked by `plugins/route-access.ts`).
 *
 * Authentication runs before parameter validation, as in GitLab (Grape's `before` blocks run before its
 * validations): an anonymous or badly authenticated write gets 401, a `read_api` token on a write 403, and a
 * non-admin on an admin route 403, whatever the parameters — never a 400 describing the route's parameters. A
 * deploy token authenticates package and registry requests only, as in GitLab; on the management API it is
 * refused (401), reads included. Rights on the object a route names (Maintainer of this project, one's own
 * token) are the service's decision, through `domain/access`.
 */
import type { RouteAccess } from '../../plugins/route-access.js';

type Scope = RouteAccess['scope'];
const declare = (ability: 'anyone' | 'signed_in' | 'admin', scope: Scope): { access: RouteAccess } => ({
  access: { ability, scope, credentials: 'personal' },
});

/** Anyone may call; what an anonymous caller sees is the service's decision (public projects and groups). */
export const anyone = (scope: Scope) => declare('anyone', scope);
/** A caller is needed, even to read. */
export const signedIn = (scope: Scope) => declare('signed_in', scope);
/** Instance administrators only, refused before the body is read. */
export const adminOnly = () => declare('admin', 'instance');
