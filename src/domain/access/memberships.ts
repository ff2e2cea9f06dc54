/**
 * A caller's effective role on a project: the highest level among the project's own membership and those of its
 * namespace and every ancestor group (GitLab's inherited membership). Pure: the access service loads the caller's
 * unexpired memberships once for any number of projects, and every batched access decision derives roles here.
 * See docs/design/access-model.md, "Who may read what: one service".
 */
import { isAccessLevel, type AccessLevel } from './identity.js';

/** One source the caller is a member of, with their highest unexpired level on it. */
export interface MembershipLevel {
  readonly source_type: 'namespace' | 'project';
  readonly source_id: number;
  readonly level: number;
}

export class MembershipLevels {
  /** Anonymous callers and deploy tokens are members of nothing. */
  static readonly NONE = new MembershipLevels([]);

  readonly #projects = new Map<number, number>();
  readonly #namespaces = new Map<number, number>();

  constructor(rows: readonly MembershipLevel[]) {
    for (const r of rows) {
      const into = r.source_type === 'project' ? this.#projects : this.#namespaces;
      into.set(r.source_id, Math.max(into.get(r.source_id) ?? 0, r.level));
    }
  }

  /** The effective role on a project in these namespaces (its own and every ancestor), or null for none. */
  of(projectId: number, namespaceIds: readonly number[]): AccessLevel | null {
    let best = this.#projects.get(projectId) ?? 0;
    for (const id of namespaceIds) best = Math.max(best, this.#namespaces.get(id) ?? 0);
    return isAccessLevel(best) ? best : null;
  }
}
