/**
 * Package protection rules (docs/design/gitlab-compatibility.md#protection-rules), as pure decisions: a rule names a package type, a name pattern
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

/**
 * Folds one UTF-16 code unit the way a case-insensitive, non-Unicode JavaScript RegExp compares characters
 * (ECMA-262 `Canonicalize`): to upper case when that is a single code unit and does not turn a non-ASCII character
 * into an ASCII one. Matching on folded strings keeps the old regex semantics exactly, `ß` and `İ` included.
 */
function fold(s: string): string {
  // The common case (npm and Helm names are ASCII): one native call.
  if (/^[\x00-\x7f]*$/.test(s)) return s.toUpperCase();
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const up = ch.toUpperCase();
    out += up.length === 1 && !(ch.charCodeAt(0) >= 128 && up.charCodeAt(0) < 128) ? up : ch;
  }
  return out;
}

/**
 * Whether `name` matches `pattern`, where `*` stands for any run of characters (none included) and everything else
 * for itself, compared case-insensitively over the whole name (GitLab compares with ILIKE).
 *
 * No regular expression and no backtracking: the literal segments between the `*`s are placed left to right, each
 * at its first occurrence after the previous one (for a pattern of literals and `*` only, the leftmost placement is
 * always a correct one), the first segment anchored at the start and the last at the end. Each segment is looked
 * for once, so the cost is at most O(name length × pattern length) however many `*` there are — a few microseconds
 * for the lengths the API allows (a pattern of 255 characters), where the old backtracking regex took seconds on
 * `*a*a*a*a*a*a*b`.
 */
export function patternMatches(pattern: string, name: string): boolean {
  const parts = fold(pattern).split('*');
  const subject = fold(name);
  if (parts.length === 1) return subject === parts[0];
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (first.length + last.length > subject.length) return false;
  if (!subject.startsWith(first) || !subject.endsWith(last)) return false;
  // The middle segments must fit between the anchored ends without overlapping them.
  let at = first.length;
  const end = subject.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i]!;
    if (part === '') continue;
    const found = subject.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
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
