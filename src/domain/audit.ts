/**
 * Audit events: the security-relevant changes Wharf records (sign-ins, tokens, memberships, protection rules,
 * package deletions, users and settings), who made each one and from which address. Names and entity types follow
 * GitLab's audit events, so tools written against GitLab's `/audit_events` read them unchanged.
 */
import type { Identity } from './access/identity.js';

/** GitLab's entity types: where an event happened (the filter of `GET /audit_events`). */
export const AUDIT_ENTITY_TYPES = ['User', 'Group', 'Project', 'Gitlab::Audit::InstanceScope'] as const;
export type AuditEntityType = (typeof AUDIT_ENTITY_TYPES)[number];
export const isAuditEntityType = (s: string): s is AuditEntityType => (AUDIT_ENTITY_TYPES as readonly string[]).includes(s);

/** GitLab names events `noun_verb` in the past tense; Wharf reuses GitLab's name wherever GitLab has the event. */
export type AuditEventName =
  | 'authenticated_with_password'
  | 'login_failed_with_standard_authentication'
  | 'personal_access_token_created'
  | 'personal_access_token_revoked'
  | 'deploy_token_created'
  | 'deploy_token_destroyed'
  | 'group_deploy_token_created'
  | 'group_deploy_token_destroyed'
  | 'member_created'
  | 'member_updated'
  | 'member_destroyed'
  | 'package_protection_rule_created'
  | 'package_protection_rule_updated'
  | 'package_protection_rule_deleted'
  | 'package_deleted'
  | 'package_file_deleted'
  | 'user_created'
  | 'user_password_updated'
  | 'application_setting_updated'
  /** Wharf's own: an administrator purged a name, or everything, from the npm proxy's cache. */
  | 'npm_proxy_cache_purged'
  /** Wharf's own: a new npm registry signing key took over (`wharf signing-keys rotate`). */
  | 'npm_signing_key_rotated'
  /** Wharf's own: trusted publishing (docs/trusted-publishing.md). */
  | 'npm_trusted_publisher_created'
  | 'npm_trusted_publisher_deleted'
  | 'npm_trusted_publisher_token_exchanged';

/** Who made a change. Only users have an id; a deploy token, an unauthenticated caller or Wharf itself have none. */
export interface AuditAuthor {
  readonly id: number | null;
  readonly name: string;
  readonly type: 'User' | 'DeployToken' | 'TrustedPublisher' | 'Unauthenticated' | 'System';
}

/** What a request adds to the change it asks for: its author and the client's address. */
export interface AuditContext {
  readonly author: AuditAuthor;
  /** Fastify's `request.ip`: the socket's peer, or the first `X-Forwarded-For` hop when `trustProxy` is set. */
  readonly ip: string | null;
}

/** GitLab's instance scope: the entity of what concerns no user, group or project (its id is always 1). */
export const INSTANCE = Object.freeze({ type: 'Gitlab::Audit::InstanceScope', id: 1, path: null } as const);

/** GitLab's name for a caller that never authenticated (a failed sign-in). */
export const UNAUTHENTICATED_AUTHOR: AuditAuthor = Object.freeze({ id: null, name: 'An unauthenticated user', type: 'Unauthenticated' });
/** Changes made outside any request: the `wharf` command line, the bootstrap of `root`. */
export const SYSTEM_AUTHOR: AuditAuthor = Object.freeze({ id: null, name: 'wharf', type: 'System' });

export function authorOf(identity: Identity): AuditAuthor {
  switch (identity.kind) {
    case 'user':
      return { id: identity.userId, name: identity.username, type: 'User' };
    case 'deploy_token':
      // Never a user id, and GitLab's default deploy-token username rather than the chosen one, which could read
      // like a user's: no user can be called `gitlab+deploy-token-<id>` (`+` is not allowed in usernames).
      return { id: null, name: `gitlab+deploy-token-${identity.tokenId}`, type: 'DeployToken' };
    case 'trusted_publisher':
      return { id: null, name: `${identity.name} (trusted publisher ${identity.publisherId})`, type: 'TrustedPublisher' };
    default:
      return UNAUTHENTICATED_AUTHOR;
  }
}

/** The context of a change made without a request context: attributed to the caller when known, without address. */
export const contextOf = (identity: Identity | undefined): AuditContext => ({ author: identity ? authorOf(identity) : SYSTEM_AUTHOR, ip: null });

/** Longest text kept from what a client typed (an attempted login name); keeps a flood of attempts small. */
export const MAX_ATTEMPTED_LOGIN = 100;
/** Longest address kept: an IPv6 address with a zone fits; `X-Forwarded-For` is client-controlled text. */
export const MAX_IP_LENGTH = 64;

/**
 * Client-supplied text made safe to store and show: control and formatting characters (line breaks, bidi
 * overrides, U+2028) become spaces, and at most `max` code points are kept, marked with `…` when cut.
 */
export function boundedText(value: string, max: number): string {
  // A code point is at most two UTF-16 units, so text longer than 2 × max units has more than max code points:
  // look no further than that, whatever the input's size.
  const head = value.slice(0, 2 * max + 1);
  const points = Array.from(head.replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, ' '));
  return points.length <= max && head.length === value.length ? points.join('') : `${points.slice(0, max - 1).join('')}…`;
}
