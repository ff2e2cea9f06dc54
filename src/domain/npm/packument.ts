/**
 * Packuments (npm package documents) built from stored versions and dist-tags (docs/design/gitlab-compatibility.md#packument-shape,
 * docs/design/client-protocols.md#packuments). Pure: the metadata service feeds rows in and keeps the result as bytes.
 *
 * Two shapes:
 * - full (`Accept: application/json` or none): GitLab's `name`, `versions`, `dist-tags` first, then what npm,
 *   pnpm and yarn also read and GitLab leaves out — `_id`, `_rev`, `time`, `maintainers`, `readme` — and each
 *   version as published (GitLab's field whitelist would drop `os`, `cpu`, `optionalDependencies`… and change
 *   how clients resolve).
 * - abbreviated (`application/vnd.npm.install-v1+json`): `name`, `modified`, `dist-tags`, `versions` with only
 *   the install-relevant fields, plus a complete `time` so pnpm needs no second request.
 */
import { createHash } from 'node:crypto';
import { highestVersion } from './versions.js';
import type { RegistrySignature } from './signatures.js';

type Json = Record<string, unknown>;

export interface PackumentVersion {
  readonly version: string;
  /** The stored version object (`npm_metadata.package_json`). */
  readonly packageJson: Json;
  /** The stored tarball file name (`@scope/pkg-1.0.0.tgz`). */
  readonly fileName: string;
  readonly projectId: number;
  readonly createdAt: string;
  readonly publisher: string | null;
  /** `_npmUser.trustedPublisher` as stored (JSON text), for a version a trusted publisher published. */
  readonly trustedPublisher?: string | null;
  readonly readme: string | null;
  readonly readmeFilename: string | null;
  /** The registry's signatures made at publish (docs/design/registry-signatures.md); served as `dist.signatures`. */
  readonly signatures?: readonly RegistrySignature[] | undefined;
}

/** `_npmUser`: the publisher, and for a trusted publish the public registry's `trustedPublisher` object. */
function npmUser(name: string, trustedPublisher: string | null | undefined): Json {
  if (!trustedPublisher) return { name };
  return { name, trustedPublisher: JSON.parse(trustedPublisher) as Json };
}

export interface PackumentInput {
  /** The requested name (GitLab echoes the request). */
  readonly name: string;
  /** Oldest first; a later entry for the same version replaces an earlier one ("most recently published wins"). */
  readonly versions: readonly PackumentVersion[];
  /** `tag → version`; tags naming a version not listed are left out. */
  readonly tags: ReadonlyArray<{ readonly tag: string; readonly version: string }>;
  /** Base of tarball URLs, without a trailing slash (`WHARF_EXTERNAL_URL`). */
  readonly externalUrl: string;
  readonly modified: string;
  /** CouchDB-style revision the write flows (`unpublish`, `owner`) echo back. */
  readonly rev: string;
  /**
   * The npm endpoint this packument is served at (`<external URL>/api/v4/…/packages/npm`), where `dist.attestations`
   * points (docs/design/npm-provenance.md#packument); without it, `dist.attestations` is left out.
   */
  readonly endpointUrl?: string;
}

export interface Packuments {
  readonly full: Json;
  readonly abbreviated: Json;
  readonly versionCount: number;
}

/** The fields an installer needs (npm registry docs ∪ what pnpm keeps, docs/design/client-protocols.md#abbreviated-packuments). */
export const ABBREVIATED_FIELDS = [
  'name',
  'version',
  'bin',
  'directories',
  'dependencies',
  'devDependencies',
  'optionalDependencies',
  'peerDependencies',
  'peerDependenciesMeta',
  'bundleDependencies',
  'bundledDependencies',
  'acceptDependencies',
  'dist',
  'engines',
  'os',
  'cpu',
  'libc',
  'deprecated',
  'hasInstallScript',
  '_hasShrinkwrap',
  '_npmUser',
];

/**
 * Always the project-level route with the numeric id, whichever endpoint served the packument, and from the
 * configured external URL, never the request's Host (docs/design/gitlab-compatibility.md#tarball-urls): lockfiles keep these URLs forever.
 */
export const tarballUrl = (externalUrl: string, projectId: number, name: string, fileName: string): string =>
  `${externalUrl}/api/v4/projects/${projectId}/packages/npm/${name}/-/${fileName}`;

/** The npm endpoints' paths (below the external URL): where a packument served there points its attestations. */
export const npmEndpointPath = (endpoint: { scope: 'project' | 'group'; id: number } | { scope: 'instance' }): string =>
  endpoint.scope === 'project'
    ? `/api/v4/projects/${endpoint.id}/packages/npm`
    : endpoint.scope === 'group'
      ? `/api/v4/groups/${endpoint.id}/-/packages/npm`
      : '/api/v4/packages/npm';

/**
 * `dist.attestations` as the public registry shows it (pacote fetches `url`'s path from the registry it installs
 * from): stored at publish time as `{provenance: {predicateType}}`, the URL of the serving endpoint added here.
 */
function withAttestationsUrl(dist: Json, endpointUrl: string | undefined, name: string, version: string): Json {
  const stored = dist.attestations;
  if (stored === undefined) return dist;
  const { attestations: _a, ...rest } = dist;
  if (typeof stored !== 'object' || stored === null || endpointUrl === undefined) return rest;
  return { ...rest, attestations: { url: `${endpointUrl}/-/npm/v1/attestations/${name.replace('/', '%2f')}@${version}`, ...(stored as Json) } };
}

/** `<revision>-<16 hex>`, stable for a given package and revision. */
export const revString = (key: string, revision: number): string =>
  `${revision}-${createHash('sha256').update(`${key}\0${revision}`).digest('hex').slice(0, 16)}`;

export function buildPackuments(input: PackumentInput): Packuments {
  const byVersion = new Map<string, PackumentVersion>();
  for (const v of input.versions) {
    byVersion.delete(v.version);
    byVersion.set(v.version, v);
  }

  const versions: Record<string, Json> = {};
  const abbreviatedVersions: Record<string, Json> = {};
  const time: Record<string, string> = {};
  let created: string | undefined;
  const maintainers: Json[] = [];
  const seenPublishers = new Set<string>();

  for (const v of byVersion.values()) {
    const { name: _n, version: _v, dist, _npmUser: _u, ...rest } = v.packageJson;
    const full: Json = {
      name: input.name,
      version: v.version,
      ...rest,
      dist: {
        ...withAttestationsUrl(typeof dist === 'object' && dist !== null ? (dist as Json) : {}, input.endpointUrl, input.name, v.version),
        tarball: tarballUrl(input.externalUrl, v.projectId, input.name, v.fileName),
      },
    };
    // In the abbreviated document too (it copies `dist`), as the public registry serves them.
    if (v.signatures) (full.dist as Json).signatures = v.signatures;
    // The publisher as authenticated by Wharf, never the client's claim.
    if (v.publisher) full._npmUser = npmUser(v.publisher, v.trustedPublisher);
    versions[v.version] = full;
    const abbreviated: Json = {};
    for (const field of ABBREVIATED_FIELDS) if (full[field] !== undefined) abbreviated[field] = full[field];
    abbreviatedVersions[v.version] = abbreviated;
    time[v.version] = v.createdAt;
    if (created === undefined || v.createdAt < created) created = v.createdAt;
    if (v.publisher && !seenPublishers.has(v.publisher)) {
      seenPublishers.add(v.publisher);
      maintainers.push({ name: v.publisher });
    }
  }

  const distTags: Record<string, string> = {};
  for (const { tag, version } of input.tags) if (byVersion.has(version)) distTags[tag] = version;
  const highest = highestVersion(byVersion.keys());
  if (distTags.latest === undefined && highest !== undefined) distTags.latest = highest;

  const fullTime = { created: created ?? input.modified, modified: input.modified, ...time };
  const latest = distTags.latest !== undefined ? byVersion.get(distTags.latest) : undefined;
  const full: Json = {
    name: input.name,
    versions,
    'dist-tags': distTags,
    _id: input.name,
    _rev: input.rev,
    time: fullTime,
    maintainers,
  };
  if (latest && typeof latest.packageJson.description === 'string') full.description = latest.packageJson.description;
  if (latest?.readme) full.readme = latest.readme;
  if (latest?.readmeFilename) full.readmeFilename = latest.readmeFilename;

  const abbreviated: Json = {
    name: input.name,
    modified: input.modified,
    'dist-tags': distTags,
    versions: abbreviatedVersions,
    time: fullTime,
  };
  return { full, abbreviated, versionCount: byVersion.size };
}

/** The dist-tag map the `dist-tags` route answers: stored tags plus the automatic `latest` (docs/design/gitlab-compatibility.md#automatic-latest). */
export function distTagsOf(versions: Iterable<string>, tags: ReadonlyArray<{ tag: string; version: string }>): Record<string, string> {
  const known = new Set(versions);
  const out: Record<string, string> = {};
  for (const { tag, version } of tags) if (known.has(version)) out[tag] = version;
  const highest = highestVersion(known);
  if (out.latest === undefined && highest !== undefined) out.latest = highest;
  return out;
}
