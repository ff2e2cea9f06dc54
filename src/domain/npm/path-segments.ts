/**
 * Package names, file names and tags as they arrive in npm route paths (docs/design/gitlab-compatibility.md#path-segments).
 *
 * Clients spell a scoped name three ways: `@scope%2fname` (npm, yarn), `@scope%2Fname` (pnpm) and `@scope/name`
 * (GitLab's specs, yarn's tarball retry). Each piece of the raw path is percent-decoded exactly once here; the
 * router must hand over raw text, or `%252f` would become `/` after a second decoding.
 */
import { errors } from '../errors.js';

const INVALID_PATH = 'package_name should be a valid file path';

/** How often an attacker may have encoded `..` (GitLab decodes until the value stops changing). */
const MAX_DECODE_ROUNDS = 5;

function decodeOnce(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/**
 * GitLab's `file_path` validator: no `..` segment (with `/` or `\` separators), not `.`/`..` alone, no CR, LF or
 * NUL, not absolute — checked on the value and on every further decoding of it, so `%2e%2e%2f` is caught too.
 */
export function isSafeFilePath(value: string): boolean {
  if (value.startsWith('/')) return false;
  let current = value;
  for (let round = 0; round < MAX_DECODE_ROUNDS; round++) {
    if (/[\r\n\0]/.test(current)) return false;
    if (current.split(/[/\\]/).some((segment) => segment === '..')) return false;
    if (current === '.') return false;
    const next = decodeOnce(current);
    if (next === undefined || next === current) return true;
    current = next;
  }
  // Still changing after several rounds: nobody legitimate encodes a name five times.
  return false;
}

/** A `*package_name` (or `:package_name`) path piece: decoded, file-path checked, and present. */
export function decodePackageName(raw: string): string {
  const name = decodeOnce(raw);
  if (name === undefined || !isSafeFilePath(name)) throw errors.params([INVALID_PATH]);
  if (name.trim() === '') throw errors.npmMissingAttribute('Package Name');
  return name;
}

/** The `*file_name` of the tarball route, under the same file-path rule as the package name. */
export function decodeFileName(raw: string): string {
  const name = decodeOnce(raw);
  if (name === undefined || !isSafeFilePath(name)) throw errors.params(['file_name should be a valid file path']);
  return name;
}

/** A dist-tag from `…/dist-tags/:tag` (npm sends `encodeURIComponent(tag)`). */
export function decodeTag(raw: string): string {
  const tag = decodeOnce(raw);
  if (tag === undefined) throw errors.params(['tag is invalid']);
  if (tag.trim() === '') throw errors.npmMissingAttribute('Tag');
  return tag;
}
