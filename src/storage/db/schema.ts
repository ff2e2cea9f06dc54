/**
 * Table shapes as Kysely sees them. Both dialects store the same types: integers for ids and booleans (0/1),
 * ISO-8601 UTC strings for timestamps, JSON text for small lists. That keeps every query portable and every row
 * comparable across SQLite and PostgreSQL.
 */
import type { Generated, Insertable, Selectable } from 'kysely';

export type Bool = 0 | 1;

export interface UsersTable {
  id: Generated<number>;
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

export interface NamespacesTable {
  id: Generated<number>;
  kind: 'user' | 'group';
  name: string;
  path: string;
  full_path: string;
  parent_id: number | null;
  /** Ids from the root group down to this namespace, `/`-separated with a trailing `/` (`"1/5/9/"`), so a
   *  subtree is one prefix match and the ancestors need no recursive query. */
  traversal_ids: string;
  owner_id: number | null;
  visibility: 'public' | 'internal' | 'private';
  description: string;
  created_at: string;
  updated_at: string;
}

export interface ProjectsTable {
  id: Generated<number>;
  namespace_id: number;
  name: string;
  path: string;
  full_path: string;
  description: string;
  visibility: 'public' | 'internal' | 'private';
  package_registry_access_level: 'disabled' | 'private' | 'enabled' | 'public';
  creator_id: number | null;
  created_at: string;
  updated_at: string;
}

/** Every group and project path, lower-cased, so one unique index keeps them from colliding (GitLab's `routes`). */
export interface RoutesTable {
  path_lower: string;
  source_type: 'namespace' | 'project';
  source_id: number;
}

export interface MembersTable {
  id: Generated<number>;
  user_id: number;
  source_type: 'namespace' | 'project';
  source_id: number;
  access_level: number;
  expires_at: string | null;
  created_by_id: number | null;
  created_at: string;
}

export interface PersonalAccessTokensTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  token_digest: string;
  scopes: string;
  expires_at: string | null;
  revoked: Bool;
  last_used_at: string | null;
  created_at: string;
}

export interface DeployTokensTable {
  id: Generated<number>;
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

/** Access levels a protection rule can ask for, as GitLab's API names them (`domain/access/protection.ts`). */
export type ProtectionLevel = 'maintainer' | 'owner' | 'admin';

export interface PackageProtectionRulesTable {
  id: Generated<number>;
  project_id: number;
  package_type: PackageType;
  package_name_pattern: string;
  minimum_access_level_for_push: ProtectionLevel | null;
  minimum_access_level_for_delete: ProtectionLevel | null;
  created_at: string;
  updated_at: string;
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
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type NamespaceRow = Selectable<NamespacesTable>;
export type ProjectRow = Selectable<ProjectsTable>;
export type MemberRow = Selectable<MembersTable>;
export type PersonalAccessTokenRow = Selectable<PersonalAccessTokensTable>;
export type DeployTokenRow = Selectable<DeployTokensTable>;

export type PackageType = 'npm' | 'helm';
export type ProtectionRuleRow = Selectable<PackageProtectionRulesTable>;
/** GitLab's package statuses (gitlab-api.md Appendix B). */
export type PackageStatus = 'default' | 'hidden' | 'processing' | 'error' | 'pending_destruction' | 'deprecated';

export interface PackagesTable {
  id: Generated<number>;
  project_id: number;
  package_type: PackageType;
  name: string;
  version: string;
  status: PackageStatus;
  creator_id: number | null;
  created_at: string;
  updated_at: string;
}

export interface PackageFilesTable {
  id: Generated<number>;
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

export interface NpmMetadataTable {
  package_id: number;
  /** JSON text of the stored version object. */
  package_json: string;
  readme: string | null;
  readme_filename: string | null;
  publisher: string | null;
}

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

export type PackageRow = Selectable<PackagesTable>;
export type PackageFileRow = Selectable<PackageFilesTable>;
export type NpmMetadataRow = Selectable<NpmMetadataTable>;
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
export interface AuditEventsTable {
  id: Generated<number>;
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

export type AuditEventRow = Selectable<AuditEventsTable>;

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
