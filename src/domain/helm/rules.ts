/**
 * GitLab's naming rules for Helm (docs/design/gitlab-compatibility.md#path-segments, #names-and-versions: `helm_channel_regex`, `helm_package_regex`,
 * `helm_version_regex`), and the file names derived from them. Pure.
 */
import semver from 'semver';

/** `semver_regex` without anchors: strict SemVer 2.0, no leading zeros. */
const SEMVER =
  '(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)' +
  '(?:-((?:\\d*[a-zA-Z-][0-9a-zA-Z-]*|[1-9]\\d*|0)(?:\\.(?:\\d*[a-zA-Z-][0-9a-zA-Z-]*|[1-9]\\d*|0))*))?' +
  '(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?';

/**
 * `\A([a-zA-Z0-9](\.|-|_)?){1,255}(?<!\.|-|_)\z`: letters and digits with single `.`, `-` or `_` between them.
 * Every unit starts with a letter or digit, so a failing match backtracks linearly, not exponentially.
 */
export const CHANNEL_PATTERN = '^(?:[a-zA-Z0-9][._-]?){1,255}(?<![._-])$';
const CHANNEL = new RegExp(CHANNEL_PATTERN);
const VERSION = new RegExp(`^v?${SEMVER}$`);

/** Longest string the channel rule can accept (255 units of two characters); checked before the regex runs. */
const MAX_CHANNEL_LENGTH = 510;

export const isValidChannel = (channel: string): boolean => channel.length <= MAX_CHANNEL_LENGTH && CHANNEL.test(channel);

/** GitLab's `helm_package_regex` is the channel rule. */
export const isValidChartName = isValidChannel;

/** SemVer 2.0 with an optional leading `v` (unlike npm, where the `v` is refused). */
export const isValidChartVersion = (version: string): boolean => version.length <= 1024 && VERSION.test(version);

/** The stored and served file name, as GitLab and ChartMuseum name it: `<name>-<version>.tgz`. */
export const chartFileName = (name: string, version: string): string => `${name}-${version}.tgz`;

/** A provenance file is served next to its chart: `<name>-<version>.tgz.prov` (docs/design/client-protocols.md#provenance-files). */
export const provenanceFileName = (name: string, version: string): string => `${chartFileName(name, version)}.prov`;

/**
 * Every (name, version) that could have produced `<name>-<version>.tgz`. Names and versions may both contain `-`,
 * so one file name can split several ways (`a-1.0.0-1.0.0.tgz` is `a` 1.0.0-1.0.0 or `a-1.0.0` 1.0.0); only splits
 * where both halves follow the rules are candidates.
 */
export function splitChartFileName(fileName: string): Array<{ name: string; version: string }> {
  if (!fileName.endsWith('.tgz')) return [];
  const base = fileName.slice(0, -'.tgz'.length);
  const out: Array<{ name: string; version: string }> = [];
  for (let i = base.indexOf('-'); i > 0; i = base.indexOf('-', i + 1)) {
    const name = base.slice(0, i);
    const version = base.slice(i + 1);
    if (isValidChartName(name) && isValidChartVersion(version)) out.push({ name, version });
  }
  return out;
}

/**
 * Newest first, by SemVer precedence (the order Helm's `SortEntries` gives); the optional `v` is ignored. Equal
 * precedence (build metadata, `v1.0.0` next to `1.0.0`) falls back to the raw strings so the order is total.
 */
export function compareVersionsDescending(a: string, b: string): number {
  return compareParsedDescending(a, parseChartVersion(a), b, parseChartVersion(b));
}

/** A chart version parsed for sorting, or null when it is not SemVer; parse once, compare many times. */
export const parseChartVersion = (v: string): semver.SemVer | null => semver.parse(v.replace(/^v/, ''));

/** `compareVersionsDescending` on versions parsed beforehand (sorting 10,000 index entries parses each once). */
export function compareParsedDescending(a: string, va: semver.SemVer | null, b: string, vb: semver.SemVer | null): number {
  if (va && vb) {
    const c = semver.rcompare(va, vb);
    if (c !== 0) return c;
  } else if (va || vb) {
    return va ? -1 : 1;
  }
  return a < b ? 1 : a > b ? -1 : 0;
}

/**
 * What the instance does when a chart version is pushed again to a channel that already has it: replace it
 * (GitLab: newest wins), replace it only when the push says `?force` (ChartMuseum's default, what
 * `helm cm-push --force` sends), or never (409).
 */
export type OverwritePolicy = 'allow' | 'require_force' | 'deny';
export const OVERWRITE_POLICIES: readonly OverwritePolicy[] = ['allow', 'require_force', 'deny'];

/** Whether an existing chart version may be replaced, and if not, what the refusal should suggest. */
export function overwriteDecision(policy: OverwritePolicy, force: boolean): { allowed: true } | { allowed: false; hint: string } {
  if (policy === 'allow') return { allowed: true };
  if (policy === 'require_force') return force ? { allowed: true } : { allowed: false, hint: 'push again with --force to replace it' };
  return { allowed: false, hint: 'this instance does not replace chart versions; delete it first' };
}
