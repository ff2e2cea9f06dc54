/**
 * GitLab's rules for user, group and project paths (`lib/gitlab/path_regex.rb`). Pure; every refusal comes back as
 * a message for the `path` (or `username`) field in GitLab's validation shape.
 */

/** `NAMESPACE_FORMAT_REGEX`: letters, digits, `_`, `-`, `.`; no leading `-`; no trailing `.`; not `.git`/`.atom`. */
const NAMESPACE_FORMAT = /^(?:[a-zA-Z0-9_.][a-zA-Z0-9_.-]{0,254}[a-zA-Z0-9_-]|[a-zA-Z0-9_])(?<!\.git|\.atom)$/;
/** `PROJECT_PATH_FORMAT_REGEX`: as above, but a trailing `.` is allowed. */
const PROJECT_FORMAT = /^[a-zA-Z0-9_.][a-zA-Z0-9_.-]{0,254}(?<!\.git|\.atom)$/;
/** `oci_repository_path_regex`, applied to every new path since GitLab 16. */
const OCI_FORMAT = /^[a-zA-Z0-9]+(?:[._-][a-zA-Z0-9]+)*$/;

export const NAMESPACE_FORMAT_MESSAGE =
  "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-' or end in '.', '.git' or '.atom'.";
export const PROJECT_FORMAT_MESSAGE =
  "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in '.git' or end in '.atom'";
export const OCI_FORMAT_MESSAGE =
  "can only include non-accented letters, digits, '_', '-' and '.'. It must not start with '-', '_', or '.', nor end with '-', '_', '.', '.git', or '.atom'.";
export const MAX_PATH_LENGTH = 255;

/** GitLab's TOP_LEVEL_ROUTES (15.x list, plus `o`): user and top-level group paths may not take them. */
export const RESERVED_TOP_LEVEL = new Set([
  '-', '.well-known', '404.html', '422.html', '500.html', '502.html', '503.html', 'admin', 'api',
  'apple-touch-icon.png', 'assets', 'dashboard', 'deploy.html', 'explore', 'favicon.ico', 'favicon.png', 'files',
  'groups', 'health_check', 'help', 'import', 'jwt', 'login', 'o', 'oauth', 'profile', 'projects', 'public',
  'robots.txt', 's', 'search', 'sitemap', 'sitemap.xml', 'sitemap.xml.gz', 'slash-command-logo.png', 'snippets',
  'unsubscribes', 'uploads', 'users', 'v2',
]);

/** PROJECT_WILDCARD_ROUTES: reserved for projects; subgroups add GROUP_ROUTES (`-`). */
export const RESERVED_PROJECT = new Set([
  '-', 'badges', 'blame', 'blob', 'builds', 'commits', 'create', 'create_dir', 'edit', 'environments/folders',
  'files', 'find_file', 'gitlab-lfs/objects', 'info/lfs/objects', 'new', 'preview', 'raw', 'refs', 'tree', 'update',
  'wikis',
]);

export type PathKind = 'user' | 'top-level-group' | 'subgroup' | 'project';

/**
 * GitLab's path validations in its order: presence, length, format (stop there if it fails), reserved names, the
 * stricter OCI rule, and a two-character minimum for users and groups.
 */
export function pathProblems(path: string, kind: PathKind): string[] {
  if (path.length === 0) return ["can't be blank"];
  const problems: string[] = [];
  if (path.length > MAX_PATH_LENGTH) problems.push(`is too long (maximum is ${MAX_PATH_LENGTH} characters)`);
  const project = kind === 'project';
  if (!(project ? PROJECT_FORMAT : NAMESPACE_FORMAT).test(path)) {
    problems.push(project ? PROJECT_FORMAT_MESSAGE : NAMESPACE_FORMAT_MESSAGE);
  } else {
    const reserved = kind === 'project' || kind === 'subgroup' ? RESERVED_PROJECT : RESERVED_TOP_LEVEL;
    if (reserved.has(path.toLowerCase())) problems.push(`${path} is a reserved name`);
  }
  if (!OCI_FORMAT.test(path)) problems.push(OCI_FORMAT_MESSAGE);
  if (!project && path.length < 2) problems.push('is too short (minimum is 2 characters)');
  return problems;
}

/** GitLab derives a path from a name when only the name is given: spaces and odd characters become `-`. */
export function pathFromName(name: string): string {
  return name
    .trim()
    .replace(/[^a-zA-Z0-9_.-]+/g, '-')
    .replace(/[._-]{2,}/g, '-')
    .replace(/^[._-]+|[._-]+$/g, '')
    .toLowerCase();
}

/** `project_name_regex` and `group_name_regex` (`\u00A9-\u{1f9ff}` is GitLab's emoji range). */
const PROJECT_NAME = /^[\p{L}\p{N}\u00A9-\u{1f9ff}_][\p{L}\p{N}\p{Pd}+\u00A9-\u{1f9ff}_. ]*$/u;
const GROUP_NAME = /^[\p{L}\p{N}\u00A9-\u{1f9ff}_][\p{L}\p{N}\p{Pd}\u00A9-\u{1f9ff}_(). ]*$/u;
export const PROJECT_NAME_MESSAGE =
  "can contain only letters, digits, emoji, '_', '.', '+', dashes, or spaces. It must start with a letter, digit, emoji, or '_'.";
export const GROUP_NAME_MESSAGE =
  "can contain only letters, digits, emoji, '_', '.', dash, space, parenthesis. It must start with letter, digit, emoji or '_'.";

export function nameProblems(name: string, kind: 'group' | 'project'): string[] {
  if (name.trim() === '') return ["can't be blank"];
  const problems: string[] = [];
  if (name.length > 255) problems.push('is too long (maximum is 255 characters)');
  if (!(kind === 'group' ? GROUP_NAME : PROJECT_NAME).test(name)) {
    problems.push(kind === 'group' ? GROUP_NAME_MESSAGE : PROJECT_NAME_MESSAGE);
  }
  return problems;
}

/** A reasonable e-mail check: something@something.tld, no spaces. */
export const isEmail = (s: string): boolean => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s) && s.length <= 255;
