/**
 * npm package names and versions as GitLab validates them (docs/design/gitlab-compatibility.md#path-segments, #names-and-versions). GitLab's rules, not
 * npmjs's: uppercase is accepted, and after the scope only letters, digits and `-+._` may appear.
 */

/** `NAMESPACE_FORMAT_REGEX` (capped at 255 as in newer GitLab): the scope must look like a namespace path. */
const NAMESPACE_FORMAT = String.raw`(?:[a-zA-Z0-9_.][a-zA-Z0-9_\-.]{0,253}[a-zA-Z0-9_-]|[a-zA-Z0-9_])(?<!\.git|\.atom)`;

/** `npm_package_name_regex`. */
export const NPM_PACKAGE_NAME_REGEX = new RegExp(String.raw`^(?:@(${NAMESPACE_FORMAT})/)?[-+._a-zA-Z0-9]+$`);

/** `semver_regex`: strict SemVer 2.0 — no leading `v`, no leading zeros, optional pre-release and build. */
export const SEMVER_REGEX =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:\d*[a-zA-Z-][0-9a-zA-Z-]*|[1-9]\d*|0)(?:\.(?:\d*[a-zA-Z-][0-9a-zA-Z-]*|[1-9]\d*|0))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export const NAME_MESSAGE = 'Name should be a valid NPM package name: https://github.com/npm/validate-npm-package-name#naming-rules.';
export const VERSION_MESSAGE = 'Version should follow SemVer: https://semver.org';

/** GitLab caps names at 255 characters (the `packages.name` column). */
export const isValidNpmName = (name: string): boolean => name.length <= 255 && NPM_PACKAGE_NAME_REGEX.test(name);

export const isStrictSemver = (version: string): boolean => version.length <= 255 && SEMVER_REGEX.test(version);

/**
 * `Packages::Npm.scope_of`: the scope without `@`, or null for an unscoped (or invalid) name.
 */
export function scopeOf(name: string): string | null {
  if (!name.startsWith('@') || !name.includes('/')) return null;
  return NPM_PACKAGE_NAME_REGEX.exec(name)?.[1] ?? null;
}

/**
 * GitLab's naming convention: the scope is the project's root namespace path. Such packages must be unique by
 * name and version across the whole root namespace, because the instance endpoint resolves them by scope alone.
 * GitLab compares case-sensitively (`@Acme/x` does not follow the convention of `acme`).
 */
export const followsNamingConvention = (name: string, rootNamespacePath: string): boolean => scopeOf(name) === rootNamespacePath;

/** The tarball's file name, with the scope kept (`@scope/pkg-1.0.0.tgz`), exactly as GitLab stores it. */
export const tarballFileName = (name: string, version: string): string => `${name}-${version}.tgz`;
