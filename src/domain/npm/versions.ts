/** Ordering npm versions: SemVer precedence, the order npm itself resolves ranges and `latest` by. */
import semver from 'semver';

/** Highest first; strings that are not SemVer (never stored, but be safe) sort last, by text. */
export function compareVersionsDesc(a: string, b: string): number {
  const va = semver.valid(a);
  const vb = semver.valid(b);
  if (va && vb) return semver.rcompare(va, vb);
  if (va) return -1;
  if (vb) return 1;
  return a < b ? 1 : a > b ? -1 : 0;
}

/**
 * The version GitLab tags `latest` when no `latest` tag exists: the highest one, pre-releases included
 * (`tags['latest'] ||= latest_version`, docs/design/gitlab-compatibility.md#packument-shape).
 */
export function highestVersion(versions: Iterable<string>): string | undefined {
  let best: string | undefined;
  for (const v of versions) if (best === undefined || compareVersionsDesc(v, best) < 0) best = v;
  return best;
}

/**
 * What npm (`semver.clean`) sends for a `package.json` version: `v1.0.0` → `1.0.0`, and build metadata dropped.
 * Used to compare a tarball's own `package.json` with the version the client published it as.
 */
export const cleanVersion = (version: string): string | null => semver.clean(version);
