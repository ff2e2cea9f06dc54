/**
 * Trusted publishing (docs/design/trusted-publishing.md): the pure rules. What a trusted publisher may hold (its
 * issuer, the claims an ID token must carry, the names it may publish), how an ID token's claims are matched
 * against it, and what a version published through it records (`_npmUser.trustedPublisher`).
 */
import { isValidNpmName } from './names.js';

/** GitHub Actions' issuer: its publishers must pin `repository`. */
export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';

/** At most this many trusted publishers per project (each exchange scans the issuer's publishers). */
export const MAX_PUBLISHERS_PER_PROJECT = 50;
/** At most this many claims per publisher, each name and value bounded. */
export const MAX_CLAIMS = 10;
const MAX_CLAIM_NAME = 64;
const MAX_CLAIM_VALUE = 255;
const MAX_PATTERN_LENGTH = 214 + 20;
/** At most this many `*` in a pattern: they are globs, matched in linear-ish time by `globMatches`. */
const MAX_STARS = 4;
/** Longest issuer URL accepted (a setting entry or a publisher's issuer). */
export const MAX_ISSUER_LENGTH = 255;
/** At most this many allowed issuers. */
export const MAX_ISSUERS = 20;

/** Registered JWT claims: never matched by a publisher (the exchange checks them itself). */
const RESERVED_CLAIMS: ReadonlySet<string> = new Set(['iss', 'aud', 'exp', 'nbf', 'iat', 'jti']);

/** Which kind of CI an issuer is, for the required claim and for `_npmUser.trustedPublisher.id`. */
export type PublisherProvider = 'github' | 'gitlab' | 'oidc';

export interface TrustedPublisherInput {
  issuer: string;
  claims: Record<string, string>;
  package_name_pattern: string;
}

/** An issuer URL in the one spelling Wharf compares: no trailing slash. */
export const normalizeIssuer = (issuer: string): string => issuer.replace(/\/+$/, '');

/**
 * Whether `v` is an issuer URL Wharf may list: absolute `https://` (or `http://`, which an administrator may list
 * for tests and closed networks), without credentials, query or fragment.
 */
export function issuerProblem(v: string): string | undefined {
  if (v.length === 0 || v.length > MAX_ISSUER_LENGTH) return `must be 1 to ${MAX_ISSUER_LENGTH} characters`;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return 'must be an absolute URL';
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must be an https:// URL (or http://, listed explicitly)';
  if (u.username || u.password || u.search || u.hash) return 'must not hold credentials, a query or a fragment';
  return undefined;
}

/** The provider an issuer and a publisher's claims describe: GitHub by its issuer, GitLab by `project_path`. */
export function providerOf(issuer: string, claims: Readonly<Record<string, string>>): PublisherProvider {
  if (normalizeIssuer(issuer) === GITHUB_ACTIONS_ISSUER) return 'github';
  return 'project_path' in claims ? 'gitlab' : 'oidc';
}

/**
 * The problems of a publisher's claims, or none. A publisher must pin the pipeline's project: GitHub's
 * `repository`, GitLab's `project_path` (any other issuer: `project_path` or `sub`). Without it, every pipeline the
 * issuer serves could publish.
 */
export function claimsProblems(issuer: string, claims: unknown): string[] {
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return ['must be an object of claim names to exact string values'];
  const entries = Object.entries(claims as Record<string, unknown>);
  if (entries.length === 0 || entries.length > MAX_CLAIMS) return [`must hold 1 to ${MAX_CLAIMS} claims`];
  const problems: string[] = [];
  for (const [name, value] of entries) {
    if (!/^[a-z_][a-z0-9_]*$/i.test(name) || name.length > MAX_CLAIM_NAME) problems.push(`${JSON.stringify(name.slice(0, 80))} is not a claim name`);
    else if (RESERVED_CLAIMS.has(name)) problems.push(`${name} is checked by Wharf itself and cannot be pinned`);
    else if (typeof value !== 'string' || value.length === 0 || value.length > MAX_CLAIM_VALUE || /[\x00-\x1f\x7f]/.test(value)) {
      problems.push(`${name} must be a non-empty string of at most ${MAX_CLAIM_VALUE} characters`);
    }
  }
  if (problems.length > 0) return problems;
  const c = claims as Record<string, string>;
  if (normalizeIssuer(issuer) === GITHUB_ACTIONS_ISSUER) {
    if (!('repository' in c)) problems.push('repository is required for GitHub Actions');
  } else if (!('project_path' in c) && !('sub' in c)) {
    problems.push('project_path is required (GitLab; sub for another issuer)');
  }
  return problems;
}

/** Whether `pattern` is a package name, or a name with `*` globs in it (`@acme/*`, `*`). */
export function patternProblem(pattern: unknown): string | undefined {
  if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH) return `must be 1 to ${MAX_PATTERN_LENGTH} characters`;
  const stars = pattern.split('*').length - 1;
  if (stars > MAX_STARS) return `may hold at most ${MAX_STARS} *`;
  // Every `*` replaced by a letter, the pattern must be a valid name: `*` stands only where a name's characters may.
  if (!isValidNpmName(pattern.replaceAll('*', 'x'))) return 'must be an npm package name, with * standing for any characters';
  return undefined;
}

/**
 * Glob match with `*` as any run of characters (`/` included: `*` alone is every name). The classic two-pointer
 * walk: at most `name.length × pattern.length` steps, never exponential.
 */
export function globMatches(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === name[n]) {
      p++;
      n++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = n;
    } else if (star >= 0) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** Whether every claim a publisher pins is in the token, as a string, exactly. */
export function claimsMatch(pinned: Readonly<Record<string, string>>, payload: Readonly<Record<string, unknown>>): boolean {
  for (const [name, value] of Object.entries(pinned)) {
    if (payload[name] !== value) return false;
  }
  return true;
}

/** The ID token claims an audit event keeps: those that name the pipeline, each bounded. */
const PIPELINE_CLAIMS = [
  'sub',
  'project_path',
  'project_id',
  'namespace_path',
  'pipeline_id',
  'job_id',
  'ref',
  'ref_type',
  'sha',
  'environment',
  'repository',
  'workflow_ref',
  'run_id',
  'run_attempt',
  'actor',
] as const;

export function pipelineClaims(payload: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PIPELINE_CLAIMS) {
    const v = payload[name];
    if (typeof v === 'string' || typeof v === 'number') out[name] = String(v).slice(0, 200);
  }
  return out;
}

/**
 * `_npmUser` of a version published through a trusted publisher, as the public registry shows it:
 * `{"name": "GitHub Actions", "email": "npm-oidc-no-reply@github.com", "trustedPublisher": {"id": "github",
 * "oidcConfigId": "oidc:…"}}`. Wharf's `oidcConfigId` is `oidc:<publisher id>`.
 */
export interface TrustedPublisherRecord {
  readonly id: PublisherProvider;
  readonly oidcConfigId: string;
}

export const trustedPublisherRecord = (provider: PublisherProvider, publisherId: number): TrustedPublisherRecord => ({
  id: provider,
  oidcConfigId: `oidc:${publisherId}`,
});

/** The name a trusted publish is recorded under (`_npmUser.name`, the maintainers, the audit log). */
export const PROVIDER_NAMES: Readonly<Record<PublisherProvider, string>> = {
  github: 'GitHub Actions',
  gitlab: 'GitLab CI/CD',
  oidc: 'OIDC trusted publisher',
};
