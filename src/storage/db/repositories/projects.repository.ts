import { sql, type Insertable } from 'kysely';
import { PreparedQuery } from '../prepared.js';
import type { ProjectRow, ProjectsTable } from '../schema.js';
import { likeEscape, offsetOf, type Db, type Page, type PageOf } from './types.js';
import type { ProjectListFilter } from '../../../services/projects.service.js';
import type { ProjectAccessFacts, ProjectWithTraversal } from '../../../services/access.service.js';

export type { ProjectAccessFacts, ProjectWithTraversal };

/** Every project-level package request starts here: compiled once (see `prepared.ts`). */
const PROJECT_BY_ID = new PreparedQuery((db, id: number) =>
  db
    .selectFrom('projects')
    .innerJoin('namespaces', 'namespaces.id', 'projects.namespace_id')
    .selectAll('projects')
    .select('namespaces.traversal_ids as namespace_traversal_ids')
    .where('projects.id', '=', id),
);

export class ProjectsRepository {
  async insert(db: Db, row: Insertable<ProjectsTable>): Promise<ProjectRow> {
    return db.insertInto('projects').values(row).returningAll().executeTakeFirstOrThrow();
  }

  /** The project with its namespace's traversal ids, so access decisions need no second query. */
  async findById(db: Db, id: number): Promise<ProjectWithTraversal | undefined> {
    return PROJECT_BY_ID.first(db, id);
  }

  async findByFullPath(db: Db, fullPath: string): Promise<ProjectWithTraversal | undefined> {
    return db
      .selectFrom('routes')
      .innerJoin('projects', 'projects.id', 'routes.source_id')
      .innerJoin('namespaces', 'namespaces.id', 'projects.namespace_id')
      .selectAll('projects')
      .select('namespaces.traversal_ids as namespace_traversal_ids')
      .where('routes.path_lower', '=', fullPath.toLowerCase())
      .where('routes.source_type', '=', 'project')
      .executeTakeFirst();
  }

  /** A project in the namespace with exactly this name (GitLab: project names are unique per namespace). */
  async findByName(db: Db, namespaceId: number, name: string): Promise<ProjectRow | undefined> {
    return db.selectFrom('projects').selectAll().where('namespace_id', '=', namespaceId).where('name', '=', name).executeTakeFirst();
  }

  /**
   * The access facts of every project, or of every project in the tree of the namespace with these traversal ids:
   * one query, whatever the number of projects.
   */
  async accessFacts(db: Db, withinTraversalIds?: string): Promise<ProjectAccessFacts[]> {
    let q = db
      .selectFrom('projects')
      .innerJoin('namespaces', 'namespaces.id', 'projects.namespace_id')
      .select(['projects.id as project_id', 'projects.full_path', 'projects.visibility', 'projects.package_registry_access_level', 'namespaces.traversal_ids']);
    // traversal ids hold only digits and '/', so they need no LIKE escaping.
    if (withinTraversalIds !== undefined) q = q.where('namespaces.traversal_ids', 'like', `${withinTraversalIds}%`);
    return q.execute();
  }

  async update(db: Db, id: number, patch: Partial<Omit<ProjectRow, 'id'>>): Promise<ProjectRow | undefined> {
    return db.updateTable('projects').set(patch).where('id', '=', id).returningAll().executeTakeFirst();
  }

  async list(db: Db, filter: ProjectListFilter, page: Page): Promise<PageOf<ProjectRow>> {
    let q = db.selectFrom('projects');
    if (filter.namespaceIds) {
      if (filter.namespaceIds.length === 0) return { items: [], total: 0 };
      q = q.where('namespace_id', 'in', filter.namespaceIds);
    }
    if (filter.visibility) q = q.where('visibility', '=', filter.visibility as ProjectRow['visibility']);
    if (filter.search) {
      // SQLite has no default LIKE escape character, so the escape is always spelled out.
      const pattern = sql<string>`${`%${likeEscape(filter.search.toLowerCase())}%`} escape '\\'`;
      q = q.where((eb) => eb.or([eb(eb.fn('lower', ['name']), 'like', pattern), eb(eb.fn('lower', ['full_path']), 'like', pattern)]));
    }
    const now = filter.nowIso ?? new Date(0).toISOString();
    const unexpired = (eb: any, table: string) => eb.or([eb(`${table}.expires_at`, 'is', null), eb(`${table}.expires_at`, '>', now)]);
    const memberClause = (userId: number) => (eb: any) =>
      eb.or([
        eb(
          'projects.id',
          'in',
          eb
            .selectFrom('members')
            .select('source_id')
            .where('source_type', '=', 'project')
            .where('user_id', '=', userId)
            .where((w: any) => unexpired(w, 'members')),
        ),
        eb.exists(
          eb
            .selectFrom('members')
            .innerJoin('namespaces', 'namespaces.id', 'members.source_id')
            .innerJoin('namespaces as pn', (join: any) => join.on('pn.id', '=', eb.ref('projects.namespace_id')))
            .select('members.id')
            .where('members.source_type', '=', 'namespace')
            .where('members.user_id', '=', userId)
            .where((w: any) => unexpired(w, 'members'))
            // traversal ids hold only digits and '/', so they need no LIKE escaping.
            .where(sql<boolean>`pn.traversal_ids like namespaces.traversal_ids || '%'`),
        ),
      ]);
    if (filter.membershipUserId !== undefined) {
      q = q.where(memberClause(filter.membershipUserId));
    } else if (filter.visibleToUserId === null) {
      q = q.where('visibility', '=', 'public');
    } else if (typeof filter.visibleToUserId === 'number') {
      const userId = filter.visibleToUserId;
      q = q.where((eb) => eb.or([eb('visibility', 'in', ['public', 'internal']), memberClause(userId)(eb)]));
    }
    const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const items = await q.selectAll('projects').orderBy('projects.id', 'desc').limit(page.perPage).offset(offsetOf(page)).execute();
    return { items, total: Number(total.n) };
  }
}
