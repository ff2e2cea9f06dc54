/**
 * The records Wharf keeps, as every layer sees them: plain data, one shape on SQLite and PostgreSQL (integers for
 * ids and booleans as 0/1, ISO-8601 UTC strings for timestamps, JSON text for small lists). Storage maps its tables
 * onto these (`storage/db/schema.ts`); services and the HTTP layer read them without knowing how they are stored.
 */

export type Bool = 0 | 1;
export type Visibility = 'public' | 'internal' | 'private';
export type PackageType = 'npm' | 'helm';
/** GitLab's package statuses. */
export type PackageStatus = 'default' | 'hidden' | 'processing' | 'error' | 'pending_destruction' | 'deprecated';
/** Access levels a protection rule can ask for, as GitLab's API names them (`domain/access/protection.ts`). */
export type ProtectionLevel = 'maintainer' | 'owner' | 'admin';

export interface UserRow {
  id: number;
  username: string;
  /** Lower-cased username; unique, because GitLab paths are case-insensitive. */
  username_lower: string;
  name: string;
  email: string;
  email_lower: string;
  password_hash: string | null;
  is_admin: Bool;
  state: 'active' | 'blocked';
  namespace_id: number | null;
  created_at: string;
  updated_at: string;
}

export interface NamespaceRow {
  id: number;
  kind: 'user' | 'group';
  name: string;
  path: string;
  full_path: string;
  parent_id: number | null;
  /** Ids from the root group down to this namespace, `/`-separated with a trailing `/` (`"1/5/9/"`), so a
   *  subtree is one prefix match and the ancestors need no recursive query. */
  traversal_ids: string;
  owner_id: number | null;
  visibility: Visibility;
  description: string;
  created_at: string;
  updated_at: string;
}

export interface ProjectRow {
  id: number;
  namespace_id: number;
  name: string;
  path: string;
  full_path: string;
  description: string;
  visibility: Visibility;
  package_registry_access_level: 'disabled' | 'private' | 'enabled' | 'public';
  creator_id: number | null;
  created_at: string;
  updated_at: string;
}

export interface MemberRow {
  id: number;
  user_id: number;
  source_type: 'namespace' | 'project';
  source_id: number;
  access_level: number;
  expires_at: string | null;
  created_by_id: number | null;
  created_at: string;
}

/** A membership with the user's public fields, as member lists show it. */
export interface MemberWithUser extends MemberRow {
  username: string;
  name: string;
  state: string;
}

export interface PersonalAccessTokenRow {
  id: number;
  user_id: number;
  name: string;
  token_digest: string;
  scopes: string;
  expires_at: string | null;
  revoked: Bool;
  last_used_at: string | null;
  created_at: string;
}

export interface DeployTokenRow {
  id: number;
  name: string;
  username: string;
  token_digest: string;
  scopes: string;
  expires_at: string | null;
  revoked: Bool;
  project_id: number | null;
  group_id: number | null;
  created_at: string;
}

/** A CI pipeline a project trusts to publish npm packages without a stored secret (docs/trusted-publishing.md). */
export interface TrustedPublisherRow {
  id: number;
  project_id: number;
  /** The issuer URL, without a trailing slash. */
  issuer: string;
  /** JSON text: claim name → the exact value the ID token must carry. */
  claims: string;
  package_name_pattern: string;
  created_by: number | null;
  created_at: string;
}

export interface ProtectionRuleRow {
  id: number;
  project_id: number;
  package_type: PackageType;
  package_name_pattern: string;
  minimum_access_level_for_push: ProtectionLevel | null;
  minimum_access_level_for_delete: ProtectionLevel | null;
  created_at: string;
  updated_at: string;
}

export interface PackageRow {
  id: number;
  project_id: number;
  package_type: PackageType;
  name: string;
  version: string;
  status: PackageStatus;
  creator_id: number | null;
  created_at: string;
  updated_at: string;
}

export interface PackageFileRow {
  id: number;
  package_id: number;
  file_name: string;
  size: number;
  /** Lower-case hex digests of the exact stored bytes. */
  sha1: string;
  sha256: string;
  sha512: string;
  /** The BlobStore key (the SHA-256). */
  blob_key: string;
  channel: string | null;
  status: 'default' | 'pending_destruction' | 'processing' | 'error';
  created_at: string;
}

/** The npm-specific part of a published version (one per package row). */
export interface NpmMetadataRow {
  package_id: number;
  /** JSON text of the stored version object. */
  package_json: string;
  readme: string | null;
  readme_filename: string | null;
  publisher: string | null;
  /** JSON text of the version's registry signatures (`dist.signatures`), made when it was published (migration 014). */
  signatures?: string | null;
  /** `_npmUser.trustedPublisher` as JSON text when a trusted publisher published it (migration 015). */
  trusted_publisher?: string | null;
}

/** The provenance bundle published with an npm version (migration 016, docs/design/npm-provenance.md). */
export interface NpmAttestationRow {
  package_id: number;
  /** The in-toto statement's `predicateType` (a SLSA provenance type). */
  predicate_type: string;
  /** The BlobStore key (SHA-256) of the bundle's exact bytes. */
  blob_key: string;
  size: number;
  /** The repository or project the statement says the build came from. */
  build_source: string | null;
  /** The run or job the statement says built it. */
  build_run: string | null;
  created_at: string;
}

/** One installable npm version with its newest installable file and its stored metadata (what a packument shows). */
export interface NpmVersionRecord {
  package_id: number;
  project_id: number;
  version: string;
  status: PackageStatus;
  created_at: string;
  file_name: string;
  package_json: string;
  readme: string | null;
  readme_filename: string | null;
  publisher: string | null;
  /** `npm_metadata.signatures`. */
  signatures: string | null;
  trusted_publisher?: string | null;
}

/** A dist-tag of a name, with the version it points at. */
export interface TagRecord {
  id: number;
  tag: string;
  package_id: number;
  version: string;
  updated_at: string;
}

/** A project of a namespace tree that holds an npm package of the requested name (group/instance endpoints). */
export interface NpmTreeProject {
  project_id: number;
  visibility: Visibility;
  package_registry_access_level: ProjectRow['package_registry_access_level'];
  traversal_ids: string;
  /** The project's package document revision for the name. */
  revision: number;
  modified_at: string;
  /** Newest package of the name in the project: the group/instance dist-tag routes act on the project of the last. */
  last_package_id: number;
}

/** An `npm search` candidate: one installable version with its manifest and what access decisions need. */
export interface NpmSearchRow {
  package_id: number;
  project_id: number;
  name: string;
  version: string;
  created_at: string;
  package_json: string;
  publisher: string | null;
  visibility: Visibility;
  package_registry_access_level: ProjectRow['package_registry_access_level'];
  traversal_ids: string;
}

/** One audit event; names are copied in, so the record outlives what it names. */
export interface AuditEventRow {
  id: number;
  event_name: string;
  /** The user who made the change; null for a deploy token, an unauthenticated caller or Wharf itself. */
  author_id: number | null;
  author_name: string;
  entity_type: string;
  entity_id: number | null;
  entity_path: string | null;
  target_type: string | null;
  target_id: number | null;
  target_details: string | null;
  ip_address: string | null;
  /** JSON text: `custom_message`, `author_class`, and for changes `change`, `from`, `to`. */
  details: string;
  created_at: string;
}

/** `INSTALLABLE_STATUSES` (docs/design/gitlab-compatibility.md#package-statuses): what packuments, tags, downloads and Helm indexes see. */
export const INSTALLABLE_STATUSES: readonly PackageStatus[] = ['default', 'hidden', 'deprecated'];

/** A package version with its files, as the web's package page lists them. */
export interface VersionWithFiles extends PackageRow {
  files: PackageFileRow[];
}

export type HelmFileKind = 'chart' | 'provenance';

/** A live file of a Helm package in one channel, with what Wharf recorded about it (`metadata`: JSON text). */
export interface LiveHelmFile {
  id: number;
  file_name: string;
  sha256: string;
  kind: HelmFileKind;
  metadata: string;
}

/** What the package list of the API filters and sorts on (GitLab's `package_type`, `package_name`, …). */
export interface PackageFilter {
  packageType?: PackageType | undefined;
  /** Substring match on the name, case-insensitive, as GitLab's `package_name`. */
  packageName?: string | undefined;
  packageVersion?: string | undefined;
  status?: PackageStatus | undefined;
  orderBy: 'created_at' | 'name' | 'version' | 'type';
  sort: 'asc' | 'desc';
}

/** A package in the API's list, with its project's path. */
export interface PackageListRow extends PackageRow {
  project_path: string;
}

/** One package name of a project on the web pages: its version count and newest version. */
export interface PackageSummary {
  project_id: number;
  project_path: string;
  package_type: PackageType;
  name: string;
  versions: number;
  updated_at: string;
  /** Id of the newest version, which the summary links to. */
  latest_id: number;
  latest_version: string;
}

/** Where an npm search looks: one project, a group's subtree, or the whole instance. */
export type NpmSearchScope = { kind: 'project'; projectId: number } | { kind: 'tree'; traversalPrefix: string } | { kind: 'instance' };

/** A page of a list: 1-based page number and its size. */
export interface Page {
  page: number;
  perPage: number;
}

export interface PageOf<T> {
  items: T[];
  total: number;
}

/** The ids in a namespace's `traversal_ids`, root first. */
export const parseTraversal = (t: string): number[] =>
  t
    .split('/')
    .filter((s) => s !== '')
    .map(Number);

/**
 * A packument the npm proxy fetched (migration 010): the upstream's JSON as a blob, with the validators to
 * revalidate it and when it was last confirmed. A `404` row remembers briefly that the upstream has no such name.
 */
export interface ProxiedPackumentRow {
  /** The upstream base URL it came from (a changed `npm_package_requests_forwarding_url` starts a new cache). */
  upstream: string;
  name: string;
  status: 200 | 404;
  /** SHA-256 of the upstream's JSON in the blob store (null for a 404). */
  blob_sha256: string | null;
  size: number | null;
  etag: string | null;
  last_modified: string | null;
  /** Moves whenever the content changes (not on a 304 revalidation): the document engine's revision. */
  revision: number;
  /** When the upstream last confirmed this answer: freshness is `fetched_at` + the TTL. */
  fetched_at: string;
  /** Updated with the hits, at most every few minutes (docs/design/npm-proxy.md#operating-the-cache). */
  last_used_at: string;
  /** Requests answered from the cache (written in batches, so a few minutes behind). */
  hits: number;
  /** Upstream requests made for it: the first fetch, refetches and revalidations (migration 011). */
  misses: number;
}

/** A tarball the npm proxy fetched and verified (migration 010). */
export interface ProxiedTarballRow {
  upstream: string;
  name: string;
  /** The upstream tarball's file name, as in the rewritten `dist.tarball`. */
  file_name: string;
  version: string;
  blob_sha256: string;
  size: number;
  /** The integrity (SRI) the bytes were verified against. */
  integrity: string;
  fetched_at: string;
  /** Updated at most every few minutes, for `wharf gc`'s least-recently-used eviction. */
  last_used_at: string;
  hits: number;
  /** Upstream downloads recorded in this row: 1, more only when instances raced (a purge starts a new row). */
  misses: number;
}

/** One chunk of an OCI upload session: stored as a blob of its own until the upload completes. */
export interface OciUploadChunk {
  sha256: string;
  size: number;
}

/** An open OCI blob upload (migration 012), in the database so any instance can continue it. */
export interface OciUploadSessionRow {
  uuid: string;
  project_id: number;
  repository: string;
  /** Bytes received so far: the sum of the chunks' sizes. */
  size: number;
  /** JSON of `OciUploadChunk[]`, in order. */
  chunks: string;
  created_at: string;
  updated_at: string;
}

/** A blob readable through an OCI repository (migration 012): pushed, mounted or referenced there. */
export interface OciBlobRow {
  project_id: number;
  repository: string;
  /** Lower-case hex SHA-256: the blob store's key. */
  sha256: string;
  size: number;
  created_at: string;
}

/** A manifest pushed to an OCI repository (migration 012); its bytes are the blob `sha256`. */
export interface OciManifestRow {
  project_id: number;
  repository: string;
  sha256: string;
  media_type: string;
  size: number;
  /** The Helm package the manifest stands for (a referrer: its subject's); null only once the package is gone. */
  package_id: number | null;
  /**
   * The chart file (`package_files`) whose bytes the chart layer is (a referrer: its subject's): the manifest goes
   * when that file is retired, as by a re-upload of the version under the overwrite policy.
   */
  package_file_id?: number | null;
  /** The chart version the manifest's chart layer holds; null for a referrer. */
  chart_version: string | null;
  /** A referrer's `subject` digest (hex). */
  subject_sha256: string | null;
  /** A referrer's `artifactType` (or its config media type, as the spec says). */
  artifact_type: string | null;
  created_at: string;
}

/** A blob a manifest references (migration 012): its config or one of its layers. */
export interface OciManifestBlobRow {
  project_id: number;
  repository: string;
  manifest_sha256: string;
  sha256: string;
}

/** An OCI tag (migration 012): a name for a manifest of the repository. */
export interface OciTagRow {
  project_id: number;
  repository: string;
  tag: string;
  manifest_sha256: string;
  updated_at: string;
}
