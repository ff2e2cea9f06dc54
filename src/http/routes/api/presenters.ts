/**
 * Rows → GitLab's JSON entities (`lib/api/entities/*.rb`), with the fields GitLab clients and scripts read.
 * Fields Wharf has no concept of (avatars, repositories) carry GitLab's neutral values.
 */
import { isoDate } from '../../../domain/clock.js';
import {
  parseTraversal,
  type DeployTokenRow,
  type MemberWithUser,
  type NamespaceRow,
  type PersonalAccessTokenRow,
  type ProjectRow,
  type UserRow,
} from '../../../domain/records.js';
import { parseScopes } from '../../../services/identity.service.js';
import { DEPLOY_TOKEN_SCOPES, PAT_SCOPES } from '../../../domain/access/identity.js';

/** Where the presenter finds the namespaces named in a path (`GroupsService`). */
export interface NamespaceLookup {
  namespacesByIds(ids: readonly number[]): Promise<NamespaceRow[]>;
}

export class Presenter {
  readonly #base: string;
  readonly #lookup: NamespaceLookup;
  readonly #names = new Map<number, NamespaceRow>();

  constructor(externalUrl: string, lookup: NamespaceLookup) {
    this.#base = externalUrl;
    this.#lookup = lookup;
  }

  webUrl(fullPath: string): string {
    return `${this.#base}/${fullPath}`;
  }

  userBasic(u: Pick<UserRow, 'id' | 'username' | 'name' | 'state'>) {
    return {
      id: u.id,
      username: u.username,
      name: u.name,
      state: u.state,
      locked: false,
      avatar_url: null,
      web_url: this.webUrl(u.username),
    };
  }

  /** UserPublic, plus the admin fields when `admin` (UserWithAdmin). */
  user(u: UserRow, admin: boolean) {
    const pub = {
      ...this.userBasic(u),
      created_at: u.created_at,
      bio: '',
      location: '',
      public_email: null,
      website_url: '',
      organization: '',
      job_title: '',
      bot: false,
      last_sign_in_at: null,
      confirmed_at: u.created_at,
      last_activity_on: null,
      email: u.email,
      projects_limit: 100000,
      current_sign_in_at: null,
      identities: [],
      can_create_group: true,
      can_create_project: true,
      two_factor_enabled: false,
      external: false,
      private_profile: false,
      commit_email: u.email,
    };
    return admin ? { ...pub, is_admin: u.is_admin === 1, note: null, namespace_id: u.namespace_id } : pub;
  }

  /** Loads every namespace on the paths of the given ones, for `full_name` and `name_with_namespace`. */
  async preload(namespaces: readonly NamespaceRow[]): Promise<void> {
    const ids = new Set<number>();
    for (const ns of namespaces) {
      this.#names.set(ns.id, ns);
      for (const id of parseTraversal(ns.traversal_ids)) if (!this.#names.has(id)) ids.add(id);
    }
    if (ids.size === 0) return;
    const rows = await this.#lookup.namespacesByIds([...ids]);
    for (const r of rows) this.#names.set(r.id, r);
  }

  async preloadIds(ids: readonly number[]): Promise<void> {
    const missing = [...new Set(ids)].filter((id) => !this.#names.has(id));
    if (missing.length === 0) return;
    const rows = await this.#lookup.namespacesByIds(missing);
    await this.preload(rows);
  }

  #fullName(ns: NamespaceRow): string {
    return parseTraversal(ns.traversal_ids)
      .map((id) => this.#names.get(id)?.name ?? '?')
      .join(' / ');
  }

  group(g: NamespaceRow) {
    return {
      id: g.id,
      web_url: this.webUrl(`groups/${g.full_path}`),
      name: g.name,
      path: g.path,
      description: g.description,
      visibility: g.visibility,
      share_with_group_lock: false,
      require_two_factor_authentication: false,
      two_factor_grace_period: 48,
      project_creation_level: 'developer',
      auto_devops_enabled: null,
      subgroup_creation_level: 'maintainer',
      emails_disabled: false,
      emails_enabled: true,
      mentions_disabled: null,
      lfs_enabled: false,
      archived: false,
      default_branch: null,
      avatar_url: null,
      request_access_enabled: false,
      full_name: this.#fullName(g),
      full_path: g.full_path,
      created_at: g.created_at,
      parent_id: g.parent_id,
      organization_id: 1,
      shared_runners_setting: 'enabled',
      max_artifacts_size: null,
    };
  }

  namespace(ns: NamespaceRow) {
    return {
      id: ns.id,
      name: ns.name,
      path: ns.path,
      kind: ns.kind,
      full_path: ns.full_path,
      parent_id: ns.parent_id,
      avatar_url: null,
      web_url: ns.kind === 'group' ? this.webUrl(`groups/${ns.full_path}`) : this.webUrl(ns.full_path),
    };
  }

  project(p: ProjectRow) {
    const ns = this.#names.get(p.namespace_id);
    const self = `${this.#base}/api/v4/projects/${p.id}`;
    return {
      id: p.id,
      description: p.description,
      name: p.name,
      name_with_namespace: ns ? `${this.#fullName(ns)} / ${p.name}` : p.name,
      path: p.path,
      path_with_namespace: p.full_path,
      created_at: p.created_at,
      default_branch: null,
      tag_list: [],
      topics: [],
      ssh_url_to_repo: null,
      http_url_to_repo: `${this.webUrl(p.full_path)}.git`,
      web_url: this.webUrl(p.full_path),
      readme_url: null,
      forks_count: 0,
      avatar_url: null,
      star_count: 0,
      last_activity_at: p.updated_at,
      namespace: ns ? this.namespace(ns) : { id: p.namespace_id },
      _links: { self, members: `${self}/members` },
      packages_enabled: p.package_registry_access_level !== 'disabled',
      package_registry_access_level: p.package_registry_access_level,
      empty_repo: true,
      archived: false,
      visibility: p.visibility,
      creator_id: p.creator_id,
      updated_at: p.updated_at,
    };
  }

  member(m: MemberWithUser) {
    return {
      ...this.userBasic({ id: m.user_id, username: m.username, name: m.name, state: m.state as UserRow['state'] }),
      access_level: m.access_level,
      created_at: m.created_at,
      expires_at: m.expires_at,
    };
  }

  personalAccessToken(t: PersonalAccessTokenRow, today: string) {
    const expired = t.expires_at !== null && t.expires_at <= today;
    return {
      id: t.id,
      name: t.name,
      revoked: t.revoked === 1,
      created_at: t.created_at,
      description: null,
      scopes: parseScopes(t.scopes, PAT_SCOPES),
      user_id: t.user_id,
      last_used_at: t.last_used_at,
      active: t.revoked === 0 && !expired,
      expires_at: t.expires_at,
    };
  }

  deployToken(t: DeployTokenRow, nowIso: string) {
    return {
      id: t.id,
      name: t.name,
      username: t.username,
      expires_at: t.expires_at,
      scopes: parseScopes(t.scopes, DEPLOY_TOKEN_SCOPES),
      revoked: t.revoked === 1,
      expired: t.expires_at !== null && t.expires_at <= nowIso,
    };
  }
}

export const today = (d: Date): string => isoDate(d);
