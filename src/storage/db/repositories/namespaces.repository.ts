import type { NamespaceRow, NamespacesTable } from '../schema.js';
import { sql, type Insertable } from 'kysely';
import { isUniqueViolation, likeEscape, offsetOf, type Db, type Page, type PageOf } from './types.js';
import type { GroupListFilter } from '../../../services/groups.service.js';

export { parseTraversal } from '../../../domain/records.js';

export type { GroupListFilter };

export class NamespacesRepository {
  /** Whether a write failed on a unique index (a path or route taken meanwhile), whatever the driver. */
  isUniqueViolation(err: unknown): boolean {
    return isUniqueViolation(err);
  }

  /** Inserts the namespace, then fixes its traversal ids (which need its own id) in the same transaction. */
  async insert(db: Db, row: Omit<Insertable<NamespacesTable>, 'traversal_ids'>, parent?: NamespaceRow): Promise<NamespaceRow> {
    const inserted = await db.insertInto('namespaces').values({ ...row, traversal_ids: '' }).returningAll().executeTakeFirstOrThrow();
    const traversal = `${parent ? parent.traversal_ids : ''}${inserted.id}/`;
    await db.updateTable('namespaces').set({ traversal_ids: traversal }).where('id', '=', inserted.id).execute();
    return { ...inserted, traversal_ids: traversal };
  }

  /** A personal namespace and its user refer to each other: the owner is set once the user exists. */
  async setOwner(db: Db, namespaceId: number, ownerId: number): Promise<void> {
    await db.updateTable('namespaces').set({ owner_id: ownerId }).where('id', '=', namespaceId).execute();
  }

  async findById(db: Db, id: number): Promise<NamespaceRow | undefined> {
    return db.selectFrom('namespaces').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async findByIds(db: Db, ids: readonly number[]): Promise<NamespaceRow[]> {
    if (ids.length === 0) return [];
    return db.selectFrom('namespaces').selectAll().where('id', 'in', ids).execute();
  }

  async findGroupByFullPath(db: Db, fullPath: string): Promise<NamespaceRow | undefined> {
    return db
      .selectFrom('routes')
      .innerJoin('namespaces', 'namespaces.id', 'routes.source_id')
      .selectAll('namespaces')
      .where('routes.path_lower', '=', fullPath.toLowerCase())
      .where('routes.source_type', '=', 'namespace')
      // A user's personal namespace is not a group.
      .where('namespaces.kind', '=', 'group')
      .executeTakeFirst();
  }

  /**
   * A top-level namespace, group or user, by its path (GitLab's `Namespace.top_level.by_path`, case-insensitive):
   * the npm instance endpoint finds it from a package's scope.
   */
  async findTopLevelByPath(db: Db, path: string): Promise<NamespaceRow | undefined> {
    return db
      .selectFrom('routes')
      .innerJoin('namespaces', 'namespaces.id', 'routes.source_id')
      .selectAll('namespaces')
      .where('routes.path_lower', '=', path.toLowerCase())
      .where('routes.source_type', '=', 'namespace')
      .where('namespaces.parent_id', 'is', null)
      .executeTakeFirst();
  }

  /** Ids of every namespace in the subtree rooted at `ns`, itself included. */
  async subtreeIds(db: Db, ns: NamespaceRow): Promise<number[]> {
    const rows = await db
      .selectFrom('namespaces')
      .select('id')
      .where('traversal_ids', 'like', `${likeEscape(ns.traversal_ids)}%`)
      .execute();
    return rows.map((r) => r.id);
  }

  async listGroups(db: Db, filter: GroupListFilter, page: Page): Promise<PageOf<NamespaceRow>> {
    let q = db.selectFrom('namespaces').where('kind', '=', 'group');
    if (filter.topLevelOnly) q = q.where('parent_id', 'is', null);
    if (filter.search) {
      // SQLite has no default LIKE escape character, so the escape is always spelled out.
      const pattern = sql<string>`${`%${likeEscape(filter.search.toLowerCase())}%`} escape '\\'`;
      q = q.where((eb) => eb.or([eb(eb.fn('lower', ['name']), 'like', pattern), eb(eb.fn('lower', ['full_path']), 'like', pattern)]));
    }
    if (filter.publicOnly) q = q.where('visibility', '=', 'public');
    if (filter.ownedOrMemberUserId !== undefined) {
      // GitLab's `owned`: groups the user is explicitly an Owner of.
      q = q.where('id', 'in', (eb) =>
        eb
          .selectFrom('members')
          .select('source_id')
          .where('source_type', '=', 'namespace')
          .where('access_level', '>=', 50)
          .where('user_id', '=', filter.ownedOrMemberUserId!),
      );
    } else if (typeof filter.visibleToUserId === 'number') {
      const userId = filter.visibleToUserId;
      const now = filter.nowIso ?? new Date(0).toISOString();
      // A user sees public and internal groups, every group at or below a group they are a member of (roles are
      // inherited), and the ancestors of a group or project they are a member of (GitLab's `read_group`).
      // traversal ids hold only digits and '/', so they need no LIKE escaping.
      q = q.where((eb) =>
        eb.or([
          eb('visibility', 'in', ['public', 'internal']),
          eb.exists(
            eb
              .selectFrom('members as m')
              .innerJoin('namespaces as mn', 'mn.id', 'm.source_id')
              .select('m.id')
              .where('m.source_type', '=', 'namespace')
              .where('m.user_id', '=', userId)
              .where((w) => w.or([w('m.expires_at', 'is', null), w('m.expires_at', '>', now)]))
              .where((w) =>
                w.or([
                  w(sql.ref('namespaces.traversal_ids'), 'like', sql<string>`mn.traversal_ids || '%'`),
                  w(sql.ref('mn.traversal_ids'), 'like', sql<string>`namespaces.traversal_ids || '%'`),
                ]),
              ),
          ),
          eb.exists(
            eb
              .selectFrom('members as m')
              .innerJoin('projects as p', 'p.id', 'm.source_id')
              .innerJoin('namespaces as pn', 'pn.id', 'p.namespace_id')
              .select('m.id')
              .where('m.source_type', '=', 'project')
              .where('m.user_id', '=', userId)
              .where((w) => w.or([w('m.expires_at', 'is', null), w('m.expires_at', '>', now)]))
              .where(sql.ref('pn.traversal_ids'), 'like', sql<string>`namespaces.traversal_ids || '%'`),
          ),
        ]),
      );
    }
    const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    // GitLab's default order for `GET /groups`: name, ascending.
    const items = await q.selectAll().orderBy('name', 'asc').orderBy('id', 'asc').limit(page.perPage).offset(offsetOf(page)).execute();
    return { items, total: Number(total.n) };
  }

  /** A group directly under `parentId` with exactly this name (GitLab: group names are unique among siblings). */
  async findChildByName(db: Db, parentId: number, name: string): Promise<NamespaceRow | undefined> {
    return db.selectFrom('namespaces').selectAll().where('parent_id', '=', parentId).where('kind', '=', 'group').where('name', '=', name).executeTakeFirst();
  }

  async insertRoute(db: Db, pathLower: string, sourceType: 'namespace' | 'project', sourceId: number): Promise<void> {
    await db.insertInto('routes').values({ path_lower: pathLower, source_type: sourceType, source_id: sourceId }).execute();
  }

  async routeExists(db: Db, pathLower: string): Promise<boolean> {
    const r = await db.selectFrom('routes').select('source_id').where('path_lower', '=', pathLower).executeTakeFirst();
    return r !== undefined;
  }

  /** Which of `pathsLower` are paths of top-level namespaces, groups or users (`findTopLevelByPath` for many). */
  async topLevelPathsAmong(db: Db, pathsLower: readonly string[]): Promise<string[]> {
    if (pathsLower.length === 0) return [];
    const rows = await db
      .selectFrom('routes')
      .innerJoin('namespaces', 'namespaces.id', 'routes.source_id')
      .select('routes.path_lower')
      .where('routes.path_lower', 'in', pathsLower)
      .where('routes.source_type', '=', 'namespace')
      .where('namespaces.parent_id', 'is', null)
      .execute();
    return rows.map((r) => r.path_lower);
  }
}
