/** Who is calling. Resolved once per request from its credentials (see `credentials.ts`). */

export const ACCESS_LEVELS = { guest: 10, reporter: 20, developer: 30, maintainer: 40, owner: 50 } as const;
export type AccessLevel = 10 | 20 | 30 | 40 | 50;
export const isAccessLevel = (n: number): n is AccessLevel => n === 10 || n === 20 || n === 30 || n === 40 || n === 50;

export const PAT_SCOPES = ['api', 'read_api'] as const;
export type PatScope = (typeof PAT_SCOPES)[number];

export const DEPLOY_TOKEN_SCOPES = ['read_package_registry', 'write_package_registry'] as const;
export type DeployTokenScope = (typeof DEPLOY_TOKEN_SCOPES)[number];

export interface UserIdentity {
  readonly kind: 'user';
  readonly userId: number;
  readonly username: string;
  readonly isAdmin: boolean;
  /** Scopes of the token that authenticated the request. */
  readonly scopes: readonly PatScope[];
  readonly tokenId: number;
}

export interface DeployTokenIdentity {
  readonly kind: 'deploy_token';
  readonly tokenId: number;
  readonly username: string;
  readonly scopes: readonly DeployTokenScope[];
  /** Exactly one of these is set: a project token covers that project, a group token the whole group tree. */
  readonly projectId: number | null;
  readonly groupId: number | null;
}

export interface AnonymousIdentity {
  readonly kind: 'anonymous';
}

/**
 * A trusted publisher's short-lived token (docs/design/trusted-publishing.md), exchanged for a CI ID token: it may
 * publish one package name in one project, and nothing else.
 */
export interface TrustedPublisherIdentity {
  readonly kind: 'trusted_publisher';
  readonly publisherId: number;
  readonly projectId: number;
  readonly packageName: string;
  /** What the publish is recorded under (`GitLab CI/CD`, `GitHub Actions`). */
  readonly name: string;
  /** `_npmUser.trustedPublisher` of what it publishes, as JSON text. */
  readonly record: string;
}

export type Identity = UserIdentity | DeployTokenIdentity | TrustedPublisherIdentity | AnonymousIdentity;

/**
 * The name an action is recorded and shown under (npm's `_npmUser`, `npm whoami`): a user's username, and for a
 * deploy token always `gitlab+deploy-token-<id>` (GitLab's default deploy-token username), whatever username the
 * token was given. No user can hold that name (`+` is not allowed in usernames), so a deploy token named after a
 * user can never pass for them.
 */
export const actorName = (identity: UserIdentity | DeployTokenIdentity | TrustedPublisherIdentity): string =>
  identity.kind === 'user' ? identity.username : identity.kind === 'deploy_token' ? `gitlab+deploy-token-${identity.tokenId}` : identity.name;

export const ANONYMOUS: AnonymousIdentity = Object.freeze({ kind: 'anonymous' });
