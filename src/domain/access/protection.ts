/**
 * Package protection rules (gitlab-api.md §7.5), as pure decisions: a rule names a package type, a name pattern
 * with `*` wildcards, and the least role that may push and/or delete the packages it matches.
 *
 * As GitLab: instance administrators are never refused; a deploy token is refused by any matching rule (it has no
 * role to compare); a user needs a role at least as high as every matching rule asks for. Patterns match the whole
 * name, case-insensitively (GitLab compares with ILIKE).
 */
import type { Identity } from './identity.js';

export const PUSH_LEVELS = ['maintainer', 'owner', 'admin'] as const;
export const DELETE_LEVELS = ['owner', 'admin'] as const;
export type ProtectionLevel = (typeof PUSH_LEVELS)[number];

export interface ProtectionRule {
  readonly package_name_pattern: string;
  readonly minimum_access_level_for_push: ProtectionLevel | null;
  readonly minimum_access_level_for_delete: ProtectionLevel | null;
}

export type ProtectedAction = 'push' | 'delete';

/** `admin` is above any membership: only an instance administrator reaches it. */
const LEVEL_VALUE: Record<ProtectionLevel, number> = { maintainer: 40, owner: 50, admin: 60 };

const patternCache = new Map<string, RegExp>();

export function patternMatches(pattern: string, name: string): boolean {
  let re = patternCache.get(pattern);
  if (!re) {
    const source = pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    re = new RegExp(`^${source}$`, 'is');
    if (patternCache.size > 1000) patternCache.clear();
    patternCache.set(pattern, re);
  }
  return re.test(name);
}

/**
 * Whether `identity`, with `memberLevel` on the project, may do `action` to a package called `name` under `rules`
 * (the project's rules for the package's type).
 */
export function protectionAllows(
  rules: readonly ProtectionRule[],
  action: ProtectedAction,
  identity: Identity,
  memberLevel: number | null,
  name: string,
): boolean {
  if (identity.kind === 'user' && identity.isAdmin) return true;
  for (const rule of rules) {
    const required = action === 'push' ? rule.minimum_access_level_for_push : rule.minimum_access_level_for_delete;
    if (required === null || !patternMatches(rule.package_name_pattern, name)) continue;
    if (identity.kind !== 'user') return false;
    if ((memberLevel ?? 0) < LEVEL_VALUE[required]) return false;
  }
  return true;
}
