import type { NamespaceRow, NamespacesTable } from '../schema.js';
import type { Insertable } from 'kysely';
import { likeEscape, offsetOf, type Db, type Page, type PageOf } from './types.js';

export const parseTraversal = (t: string): number[] =>
  t
    .split('/')
    .filter((s) => s !== '')
    .map(Number);

export interface GroupListFilter {
  /** Restrict to groups the user may see: public, internal (any signed-in user), or where they are a member. */
  visibleToUserId?: number | null;
  /** Anonymous callers see public groups only. */
  publicOnly?: boolean;
  search?: string | undefined;
  topLevelOnly?: boolean;
  ownedOrMemberUserId?: number | undefined;
}

export class NamespacesRepository {
  /** Inserts the namespace, then fixes its traversal ids (which need its own id) in the same transaction. */
  async insert(db: Db, row: Omit<Insertable<NamespacesTable>, 'traversal_ids'>, parent?: NamespaceRow): Promise<NamespaceRow> {
    const inserted = await db.insertInto('namespaces').values({ ...row, traversal_ids: '' }).returningAll().executeTakeFirstOrThrow();
    const traversal = `${parent ? parent.traversal_ids : ''}${inserted.id}/`;
    await db.updateTable('namespaces').set({ traversal_ids: traversal }).where('id', '=', inserted.id).execute();
    return { ...inserted, traversal_ids: traversal };
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
      const pattern = `%${likeEscape(filter.search.toLowerCase())}%`;
      q = q.where((eb) => eb.or([eb(eb.fn('lower', ['name']), 'like', pattern), eb(eb.fn('lower', ['full_path']), 'like', pattern)]));
    }
    if (filter.publicOnly) q = q.where('visibility', '=', 'public');
    const memberOf = filter.ownedOrMemberUserId ?? filter.visibleToUserId;
    if (filter.ownedOrMemberUserId !== undefined) {
      q = q.where('id', 'in', (eb) =>
        eb.selectFrom('members').select('source_id').where('source_type', '=', 'namespace').where('user_id', '=', filter.ownedOrMemberUserId!),
      );
    } else if (typeof memberOf === 'number') {
      q = q.where((eb) =>
        eb.or([
          eb('visibility', 'in', ['public', 'internal']),
          eb('id', 'in', eb.selectFrom('members').select('source_id').where('source_type', '=', 'namespace').where('user_id', '=', memberOf)),
        ]),
      );
    }
    const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const items = await q.selectAll().orderBy('full_path', 'asc').orderBy('id', 'asc').limit(page.perPage).offset(offsetOf(page)).execute();
    return { items, total: Number(total.n) };
  }

  async insertRoute(db: Db, pathLower: string, sourceType: 'namespace' | 'project', sourceId: number): Promise<void> {
    await db.insertInto('routes').values({ path_lower: pathLower, source_type: sourceType, source_id: sourceId }).execute();
  }

  async routeExists(db: Db, pathLower: string): Promise<boolean> {
    const r = await db.selectFrom('routes').select('source_id').where('path_lower', '=', pathLower).executeTakeFirst();
    return r !== undefined;
  }
}
