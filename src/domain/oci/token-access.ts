/**
 * The registry token flow's rules (docs/design/helm-oci.md#access), pure: what a `scope` asks for, what a caller
 * is granted, whether a token's grant covers a request, and the `WWW-Authenticate` challenge that sends a client
 * to `/jwt/auth`. The grammar is the distribution token spec's: `repository:<name>:<action>[,<action>]…`.
 */
import type { PackageAbility } from '../access/abilities.js';
import type { Identity } from '../access/identity.js';
import type { OciTarget } from './names.js';

export type RegistryAction = 'pull' | 'push' | 'delete';

/** One entry of a token's `access` claim, as the distribution spec shapes it. */
export interface RegistryAccessEntry {
  readonly type: 'repository';
  readonly name: string;
  readonly actions: readonly RegistryAction[];
}

/** The `service` (and JWT audience) of Wharf's registry: GitLab's own name, so scripts written for GitLab work. */
export const REGISTRY_SERVICE = 'container_registry';

/** At most this many scopes in one token request, and this many characters each: a request is bounded work. */
export const MAX_SCOPES = 16;
export const MAX_SCOPE_LENGTH = 600;

const ABILITY_OF: Readonly<Record<RegistryAction, PackageAbility>> = {
  pull: 'read_package',
  push: 'create_package',
  delete: 'destroy_package',
};
const ALL_ACTIONS: readonly RegistryAction[] = ['pull', 'push', 'delete'];

export interface RequestedScope {
  readonly name: string;
  readonly actions: ReadonlySet<RegistryAction>;
}

export type ScopeParse = { ok: true; scopes: RequestedScope[] } | { ok: false; reason: string };

/**
 * The `scope` parameters (repeated, or several in one separated by spaces, as OAuth writes them), merged per
 * repository. Scopes of another resource type (`registry:catalog:*`) and unknown actions ask for nothing Wharf
 * grants, so they are left out, as GitLab does; too many or too long scopes are refused.
 */
export function parseScopes(raw: readonly string[]): ScopeParse {
  const parts = raw.flatMap((s) => s.split(' ')).filter((s) => s !== '');
  if (parts.length > MAX_SCOPES) return { ok: false, reason: `at most ${MAX_SCOPES} scopes may be asked for at once` };
  const merged = new Map<string, Set<RegistryAction>>();
  for (const part of parts) {
    if (part.length > MAX_SCOPE_LENGTH) return { ok: false, reason: `a scope is at most ${MAX_SCOPE_LENGTH} characters` };
    const first = part.indexOf(':');
    const last = part.lastIndexOf(':');
    if (first < 0 || last === first) continue;
    // `repository(plugin):name:pull` names a resource class; it is still a repository.
    const type = part.slice(0, first).replace(/\(.*\)$/, '');
    if (type !== 'repository') continue;
    const name = part.slice(first + 1, last);
    const actions = merged.get(name) ?? new Set<RegistryAction>();
    for (const a of part.slice(last + 1).split(',')) {
      if (a === '*') for (const x of ALL_ACTIONS) actions.add(x);
      else if ((ALL_ACTIONS as readonly string[]).includes(a)) actions.add(a as RegistryAction);
    }
    merged.set(name, actions);
  }
  return { ok: true, scopes: [...merged].map(([name, actions]) => ({ name, actions })) };
}

/**
 * What a personal access token's scopes allow, whatever the role: a `read_api` token reads only
 * (docs/design/gitlab-compatibility.md#token-scopes). Deploy tokens' scopes are part of `can`.
 */
const tokenScopeAllows = (identity: Identity, action: RegistryAction): boolean => {
  if (identity.kind !== 'user' || identity.scopes.includes('api')) return true;
  return action === 'pull' && identity.scopes.includes('read_api');
};

/**
 * The actions granted on one repository: those asked for AND allowed to the caller now (`may`, GitLab's package
 * ability on the project). A token never widens what its identity may do.
 */
export function grantedActions(identity: Identity, asked: ReadonlySet<RegistryAction>, may: (ability: PackageAbility) => boolean): RegistryAction[] {
  return ALL_ACTIONS.filter((a) => asked.has(a) && tokenScopeAllows(identity, a) && may(ABILITY_OF[a]));
}

/** The action a `/v2/` request needs: pull to read, delete to delete what is stored, push for the rest. */
export function actionOf(method: string, target: OciTarget): RegistryAction {
  if (method === 'GET' || method === 'HEAD') return 'pull';
  // Cancelling one's own upload is part of pushing.
  if (method === 'DELETE' && target.kind !== 'upload') return 'delete';
  return 'push';
}

export const abilityOfAction = (action: RegistryAction): PackageAbility => ABILITY_OF[action];

/** Does a token's grant cover this action on this repository? */
export function accessCovers(access: readonly RegistryAccessEntry[], name: string, action: RegistryAction): boolean {
  return access.some((e) => e.type === 'repository' && e.name === name && e.actions.includes(action));
}

/**
 * The scope a client should ask for to make this request: a push also pulls (the client reads blobs and manifests
 * on its way), as the distribution registry's challenges say.
 */
export const challengeScope = (name: string, action: RegistryAction): string =>
  `repository:${name}:${action === 'push' ? 'pull,push' : action}`;

/** `Bearer realm="…/jwt/auth",service="container_registry"[,scope="…"][,error="insufficient_scope"]`. */
export function bearerChallenge(realm: string, scope?: string, error?: 'insufficient_scope' | 'invalid_token'): string {
  let c = `Bearer realm="${realm}",service="${REGISTRY_SERVICE}"`;
  if (scope !== undefined) c += `,scope="${scope}"`;
  if (error !== undefined) c += `,error="${error}"`;
  return c;
}
