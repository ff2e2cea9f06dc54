/**
 * Table shapes as Kysely sees them. Both dialects store the same types: integers for ids and booleans (0/1),
 * ISO-8601 UTC strings for timestamps, JSON text for small lists. That keeps every query portable and every row
 * comparable across SQLite and PostgreSQL.
 */
import type { Generated, Insertable, Selectable } from 'kysely';
import type {
  AuditEventRow,
  DeployTokenRow,
  MemberRow,
  NamespaceRow,
  NpmMetadataRow,
  NpmAttestationRow,
  OciBlobRow,
  OciManifestBlobRow,
  OciManifestRow,
  OciTagRow,
  OciUploadSessionRow,
  PackageFileRow,
  PackageRow,
  PackageType,
  PersonalAccessTokenRow,
  ProjectRow,
  ProtectionRuleRow,
  ProxiedPackumentRow,
  TrustedPublisherRow,
  ProxiedTarballRow,
  UserRow,
} from '../../domain/records.js';

// The record shapes belong to the domain (`domain/records.ts`); the tables below add what only the database knows
// (generated ids). Re-exported so that storage code keeps one import.
export type {
  AuditEventRow,
  Bool,
  DeployTokenRow,
  MemberRow,
  NamespaceRow,
  NpmMetadataRow,
  PackageFileRow,
  PackageRow,
  PackageStatus,
  PackageType,
  PersonalAccessTokenRow,
  ProjectRow,
  ProtectionLevel,
  ProtectionRuleRow,
  UserRow,
} from '../../domain/records.js';

export interface UsersTable extends Omit<UserRow, 'id'> {
  id: Generated<number>;
}

export interface NamespacesTable extends Omit<NamespaceRow, 'id'> {
  id: Generated<number>;
}

export interface ProjectsTable extends Omit<ProjectRow, 'id'> {
  id: Generated<number>;
}

/** Every group and project path, lower-cased, so one unique index keeps them from colliding (GitLab's `routes`). */
export interface RoutesTable {
  path_lower: string;
  source_type: 'namespace' | 'project';
  source_id: number;
}

export interface MembersTable extends Omit<MemberRow, 'id'> {
  id: Generated<number>;
}

export interface PersonalAccessTokensTable extends Omit<PersonalAccessTokenRow, 'id'> {
  id: Generated<number>;
}

export interface DeployTokensTable extends Omit<DeployTokenRow, 'id'> {
  id: Generated<number>;
}

export interface ApplicationSettingsTable {
  key: string;
  value: string;
}

export interface WebSessionsTable {
  id_digest: string;
  user_id: number;
  csrf_token: string;
  created_at: string;
  expires_at: string;
}

export interface PackageProtectionRulesTable extends Omit<ProtectionRuleRow, 'id'> {
  id: Generated<number>;
}

/**
 * Which project of a top-level namespace owns a package name (migration 007): the first one that published it.
 * The primary key makes two first publishes in sibling projects race on one row, which the database decides.
 */
export interface PackageNameOwnersTable {
  root_namespace_id: number;
  package_type: PackageType;
  /** Lower-cased, so names differing only in case have one owner. */
  name: string;
  project_id: number;
  created_at: string;
}

export interface NpmTrustedPublishersTable extends Omit<TrustedPublisherRow, 'id'> {
  id: Generated<number>;
}

/** The registry token signing secret (migration 013), shared by every instance on the database. */
export interface RegistryTokenKeysTable {
  id: number;
  secret: string;
  created_at: string;
}

/** The registry's npm signing keys (migration 014), shared by every instance on the database. */
export interface RegistrySigningKeysTable {
  keyid: string;
  /** Base64 SPKI DER. */
  public_key: string;
  /** PKCS#8 PEM. */
  private_key: string;
  created_at: string;
  /** Set when a newer key took over: signatures are valid for versions published before it. */
  expires_at: string | null;
}

export interface Database {
  users: UsersTable;
  namespaces: NamespacesTable;
  projects: ProjectsTable;
  routes: RoutesTable;
  members: MembersTable;
  personal_access_tokens: PersonalAccessTokensTable;
  deploy_tokens: DeployTokensTable;
  application_settings: ApplicationSettingsTable;
  web_sessions: WebSessionsTable;
  packages: PackagesTable;
  package_files: PackageFilesTable;
  npm_metadata: NpmMetadataTable;
  package_tags: PackageTagsTable;
  package_documents: PackageDocumentsTable;
  helm_file_metadata: HelmFileMetadataTable;
  helm_channels: HelmChannelsTable;
  package_protection_rules: PackageProtectionRulesTable;
  package_name_owners: PackageNameOwnersTable;
  audit_events: AuditEventsTable;
  sign_in_failures: SignInFailuresTable;
  credential_epoch: CredentialEpochTable;
  npm_proxy_packuments: NpmProxyPackumentsTable;
  npm_proxy_tarballs: NpmProxyTarballsTable;
  npm_proxy_leases: NpmProxyLeasesTable;
  oci_upload_sessions: OciUploadSessionRow;
  oci_blobs: OciBlobRow;
  oci_manifests: OciManifestRow;
  oci_manifest_blobs: OciManifestBlobRow;
  oci_tags: OciTagRow;
  registry_token_keys: RegistryTokenKeysTable;
  registry_signing_keys: RegistrySigningKeysTable;
  npm_trusted_publishers: NpmTrustedPublishersTable;
  npm_attestations: NpmAttestationRow;
}

export type NewUserRow = Insertable<UsersTable>;

export interface PackagesTable extends Omit<PackageRow, 'id'> {
  id: Generated<number>;
}

export interface PackageFilesTable extends Omit<PackageFileRow, 'id'> {
  id: Generated<number>;
}

/** `signatures` is optional on the record (rows written before migration 014 have none) but always selected. */
export type NpmMetadataTable = Omit<NpmMetadataRow, 'signatures'> & { signatures: string | null };

export interface PackageTagsTable {
  id: Generated<number>;
  project_id: number;
  package_name: string;
  tag: string;
  package_id: number;
  created_at: string;
  updated_at: string;
}

export interface PackageDocumentsTable {
  project_id: number;
  package_type: PackageType;
  package_name: string;
  revision: number;
  modified_at: string;
  built_revision: number | null;
  built_for: string | null;
  version_count: number;
  full_doc: string | null;
  abbreviated_doc: string | null;
}

export type PackageTagRow = Selectable<PackageTagsTable>;
export type PackageDocumentRow = Selectable<PackageDocumentsTable>;

/** Per Helm file (migration 003): the parsed Chart.yaml of a chart, or what a provenance file signs. */
export interface HelmFileMetadataTable {
  package_file_id: number;
  project_id: number;
  channel: string;
  kind: 'chart' | 'provenance';
  /** JSON text. */
  metadata: string;
}

/** Per Helm channel (migration 003): the revision bumped by every write, and the index.yaml built for it. */
export interface HelmChannelsTable {
  project_id: number;
  channel: string;
  revision: number;
  modified_at: string;
  built_revision: number | null;
  built_for: string | null;
  document: string | null;
  etag: string | null;
}

export type HelmChannelRow = Selectable<HelmChannelsTable>;

/** One audit event (migration 008); names are copied in, so the row outlives what it names. */
export interface AuditEventsTable extends Omit<AuditEventRow, 'id'> {
  id: Generated<number>;
}

/** Wrong passwords per key (migration 009): `a:`/`i:` + a SHA-256 of the lower-cased login or the client address. */
export interface SignInFailuresTable {
  key: string;
  failures: number;
  /** When the first failure of the current window was counted. */
  window_start: string;
}

/** One row (id 1) whose value triggers move whenever a credential ends or narrows (migration 009). */
export interface CredentialEpochTable {
  id: number;
  value: number;
}

/** The npm proxy's cache (migration 010): packuments and tarballs fetched from the upstream, and fetch leases. */
export type NpmProxyPackumentsTable = ProxiedPackumentRow;
export type NpmProxyTarballsTable = ProxiedTarballRow;
export interface NpmProxyLeasesTable {
  /** What is being fetched: `p` or `t`, the upstream, the name (and the file), separated by spaces. */
  key: string;
  /** The instance fetching it (a random id per process). */
  owner: string;
  expires_at: string;
}
