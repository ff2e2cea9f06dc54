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

export interface Database {
  users: UsersTable;
  namespaces: NamespacesTable;
  projects: ProjectsTable;
  routes: RoutesTable;
  members: MembersTable;
  personal_access_tokens: PersonalAccessTokensTable;
  deploy_tokens: DeployTokensTable;
  application_settings: ApplicationSettingsTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type NamespaceRow = Selectable<NamespacesTable>;
export type ProjectRow = Selectable<ProjectsTable>;
export type MemberRow = Selectable<MembersTable>;
export type PersonalAccessTokenRow = Selectable<PersonalAccessTokensTable>;
export type DeployTokenRow = Selectable<DeployTokensTable>;
