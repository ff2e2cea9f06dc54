/**
 * Who may do what with a project's packages (docs/design/gitlab-compatibility.md#abilities, #npm-decision-procedure). Pure decisions over an identity and a
 * project context the services assemble; no route decides access inline.
 */
import { errors } from '../errors.js';
import type { AccessLevel, Identity } from './identity.js';

export type Visibility = 'public' | 'internal' | 'private';
export const VISIBILITIES: readonly Visibility[] = ['public', 'internal', 'private'];

/**
 * GitLab's `package_registry_access_level`: `disabled` (no registry), `private` (members only), `enabled` (follows
 * the project's visibility), `public` (anyone may pull, even from a private project).
 */
export type RegistryAccessLevel = 'disabled' | 'private' | 'enabled' | 'public';
export const REGISTRY_ACCESS_LEVELS: readonly RegistryAccessLevel[] = ['disabled', 'private', 'enabled', 'public'];

export interface ProjectAccessContext {
  readonly projectId: number;
  readonly visibility: Visibility;
  readonly registryAccessLevel: RegistryAccessLevel;
  /** The project's namespace and all its ancestors. */
  readonly namespaceIds: readonly number[];
  /** The caller's effective role: the highest of the project's and every ancestor group's memberships. */
  readonly memberLevel: AccessLevel | null;
}

export type PackageAbility = 'read_package' | 'create_package' | 'destroy_package';

const deployTokenCovers = (identity: Identity, ctx: ProjectAccessContext): boolean =>
  identity.kind === 'deploy_token' &&
  (identity.projectId === ctx.projectId || (identity.groupId !== null && ctx.namespaceIds.includes(identity.groupId)));

const isAdmin = (identity: Identity): boolean => identity.kind === 'user' && identity.isAdmin;

/** May the caller see that the project exists (GitLab's `read_project`)? */
export function canReadProject(identity: Identity, ctx: ProjectAccessContext): boolean {
  if (isAdmin(identity)) return true;
  if (ctx.visibility === 'public') return true;
  if (identity.kind === 'trusted_publisher') return identity.projectId === ctx.projectId;
  if (deployTokenCovers(identity, ctx)) return true;
  if (identity.kind === 'user' && ctx.visibility === 'internal') return true;
  return ctx.memberLevel !== null;
}

const anyoneMayRead = (ctx: ProjectAccessContext): boolean =>
  ctx.registryAccessLevel === 'public' || (ctx.registryAccessLevel === 'enabled' && ctx.visibility === 'public');

export function can(identity: Identity, ability: PackageAbility, ctx: ProjectAccessContext): boolean {
  if (ctx.registryAccessLevel === 'disabled') return false;
  if (isAdmin(identity)) return true;
  if (identity.kind === 'deploy_token') {
    // A deploy token outside its project or group reads only what an anonymous caller could.
    if (!deployTokenCovers(identity, ctx)) return ability === 'read_package' && anyoneMayRead(ctx);
    if (ability === 'read_package') return identity.scopes.length > 0;
    return identity.scopes.includes('write_package_registry');
  }
  if (identity.kind === 'trusted_publisher') {
    // A trusted publisher's token pushes to its own project only (which package: `canTrustedPublish`), never deletes.
    if (identity.projectId !== ctx.projectId) return ability === 'read_package' && anyoneMayRead(ctx);
    return ability !== 'destroy_package';
  }
  const level = ctx.memberLevel ?? 0;
  switch (ability) {
    case 'read_package':
      if (level >= 10 || anyoneMayRead(ctx)) return true;
      return ctx.registryAccessLevel === 'enabled' && ctx.visibility === 'internal' && identity.kind === 'user';
    case 'create_package':
      return level >= 30;
    case 'destroy_package':
      return level >= 40;
  }
}

export type AccessRouteKind =
  /** Routes with GitLab's `authenticate_non_public` (packuments, dist-tags, Helm): anonymous gets 401, not 404. */
  | 'authenticate-non-public'
  | 'plain';

/**
 * GitLab's `user_project_with_read_package` followed by the write checks (docs/design/gitlab-compatibility.md#npm-decision-procedure): throws the error GitLab would
 * answer, or returns when the caller may proceed. `ctx` is null for a project that does not exist.
 */
export function authorizeProject(
  identity: Identity,
  ctx: ProjectAccessContext | null,
  ability: PackageAbility,
  route: AccessRouteKind,
  notFound: () => Error = () => errors.npmNotFound('Project'),
): void {
  const anonymous = identity.kind === 'anonymous';
  if (!ctx) {
    if (anonymous && route === 'authenticate-non-public') throw errors.unauthorized();
    throw notFound();
  }
  if (!can(identity, 'read_package', ctx)) {
    if (canReadProject(identity, ctx)) throw errors.insufficientAccess();
    if (anonymous && route === 'authenticate-non-public') throw errors.unauthorized();
    throw notFound();
  }
  if (ability !== 'read_package') {
    if (anonymous) throw errors.unauthorized();
    if (!can(identity, ability, ctx)) throw errors.insufficientAccess();
  }
}

/**
 * What a trusted publisher's token may write: `npm publish` of its one package name (docs/design/trusted-publishing.md).
 * Every other write (a dist-tag, a deprecation, a chart) is refused, whatever the project.
 */
export function requireTrustedPublish(identity: Identity, command: 'publish' | 'other', name: string | undefined): void {
  if (identity.kind !== 'trusted_publisher') return;
  if (command !== 'publish' || name !== identity.packageName) throw errors.trustedPublishOutOfScope(identity.packageName);
}

/** PATs with only `read_api` may read (GET/HEAD) and nothing else (docs/design/gitlab-compatibility.md#token-scopes). */
export function checkTokenScope(identity: Identity, method: string): void {
  if (identity.kind !== 'user') return;
  if (identity.scopes.includes('api')) return;
  const reading = method === 'GET' || method === 'HEAD';
  if (reading && identity.scopes.includes('read_api')) return;
  throw errors.insufficientScope('api');
}

/** Group visibility: who may see a group at all (GitLab's `read_group`). */
export interface GroupAccessContext {
  readonly groupId: number;
  readonly visibility: Visibility;
  /** The group and all its ancestors. */
  readonly namespaceIds: readonly number[];
  /** Highest membership in the group or an ancestor. */
  readonly memberLevel: AccessLevel | null;
  /** The caller is a member somewhere below the group (GitLab lets them see the parents). */
  readonly memberOfDescendant: boolean;
}

export function canReadGroup(identity: Identity, ctx: GroupAccessContext): boolean {
  if (isAdmin(identity)) return true;
  if (ctx.visibility === 'public') return true;
  if (identity.kind === 'user' && ctx.visibility === 'internal') return true;
  if (identity.kind === 'deploy_token' && identity.groupId !== null && ctx.namespaceIds.includes(identity.groupId)) {
    return true;
  }
  return ctx.memberLevel !== null || ctx.memberOfDescendant;
}

/**
 * How the listings (`GET /projects`, `GET /groups`) apply `canReadProject` and `canReadGroup` in their queries:
 * every row for administrators; public rows for anonymous callers and deploy tokens (a deploy token lists nothing
 * of its own, as before: it may still fetch its project or group by id); for a user, public and internal rows and
 * those their unexpired memberships reach (the repositories' `visibleToUserId` filters).
 */
export type ListingScope = { readonly kind: 'all' } | { readonly kind: 'public' } | { readonly kind: 'user'; readonly userId: number };

export function listingScope(identity: Identity): ListingScope {
  if (identity.kind !== 'user') return { kind: 'public' };
  return identity.isAdmin ? { kind: 'all' } : { kind: 'user', userId: identity.userId };
}

/** Managing members, deploy tokens and settings of a project or group needs Maintainer (GitLab: `admin_project`). */
export function canAdminister(identity: Identity, memberLevel: AccessLevel | null): boolean {
  if (isAdmin(identity)) return true;
  return identity.kind === 'user' && (memberLevel ?? 0) >= 40;
}
