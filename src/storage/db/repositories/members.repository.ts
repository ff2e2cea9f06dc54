import { sql } from 'kysely';
import type { MemberRow } from '../schema.js';
import { isUniqueViolation, likeEscape, offsetOf, type Db, type Page, type PageOf } from './types.js';
import { PreparedQuery } from '../prepared.js';
import type { MemberWithUser } from '../../../domain/records.js';
import type { MaxLevel } from '../../../services/access.service.js';

export type SourceType = 'namespace' | 'project';

export type { MemberWithUser };

/** Compiled `maxLevel` queries by shape. */
const MAX_LEVEL = new Map<string, PreparedQuery<unknown[], { level: number | null; until: string | null }>>();

export type { MaxLevel };

export class MembersRepository {
  /** Whether a write failed on the one-membership-per-user-and-source index, whatever the driver. */
  isUniqueViolation(err: unknown): boolean {
    return isUniqueViolation(err);
  }

  async insert(
    db: Db,
    row: { user_id: number; source_type: SourceType; source_id: number; access_level: number; expires_at: string | null; created_by_id: number | null; created_at: string },
  ): Promise<MemberRow> {
    return db.insertInto('members').values(row).returningAll().executeTakeFirstOrThrow();
  }

  async find(db: Db, sourceType: SourceType, sourceId: number, userId: number): Promise<MemberRow | undefined> {
    return db
      .selectFrom('members')
      .selectAll()
      .where('source_type', '=', sourceType)
      .where('source_id', '=', sourceId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
  }

  async list(db: Db, sourceType: SourceType, sourceId: number, page: Page, query?: string): Promise<PageOf<MemberWithUser>> {
    let q = db
      .selectFrom('members')
      .innerJoin('users', 'users.id', 'members.user_id')
      .where('members.source_type', '=', sourceType)
      .where('members.source_id', '=', sourceId);
    if (query) {
      // GitLab's `query` matches username or name; SQLite has no default LIKE escape character.
      const pattern = sql<string>`${`%${likeEscape(query.toLowerCase())}%`} escape '\\'`;
      q = q.where((eb) => eb.or([eb('users.username_lower', 'like', pattern), eb(eb.fn('lower', ['users.name']), 'like', pattern)]));
    }
    const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const items = await q
      .selectAll('members')
      .select(['users.username', 'users.name', 'users.state'])
      .orderBy('members.id', 'asc')
      .limit(page.perPage)
      .offset(offsetOf(page))
      .execute();
    return { items, total: Number(total.n) };
  }

  /** One membership with its user, or undefined. */
  async findWithUser(db: Db, sourceType: SourceType, sourceId: number, userId: number): Promise<MemberWithUser | undefined> {
    return db
      .selectFrom('members')
      .innerJoin('users', 'users.id', 'members.user_id')
      .selectAll('members')
      .select(['users.username', 'users.name', 'users.state'])
      .where('members.source_type', '=', sourceType)
      .where('members.source_id', '=', sourceId)
      .where('members.user_id', '=', userId)
      .executeTakeFirst();
  }

  async update(db: Db, id: number, patch: { access_level?: number; expires_at?: string | null }): Promise<MemberRow | undefined> {
    return db.updateTable('members').set(patch).where('id', '=', id).returningAll().executeTakeFirst();
  }

  async delete(db: Db, id: number): Promise<void> {
    await db.deleteFrom('members').where('id', '=', id).execute();
  }

  /**
   * The user's highest unexpired access level on a project, counting the project's own membership and every
   * membership in the namespaces listed (the project's namespace and its ancestors), and when the first of those
   * memberships expires — until then, and while nothing is written, the answer stays the same.
   */
  async maxLevel(db: Db, userId: number, namespaceIds: readonly number[], projectId: number | null, nowIso: string): Promise<MaxLevel> {
    // Asked on every authenticated package request: one compiled query per shape (how many namespaces, with or
    // without a project), bound on each call.
    const shape = `${namespaceIds.length}:${projectId === null ? 'n' : 'p'}`;
    let query = MAX_LEVEL.get(shape);
    if (!query) {
      const count = namespaceIds.length;
      const withProject = projectId !== null;
      query = new PreparedQuery((kdb, ...args: unknown[]) => {
        // The project id is bound only in the shapes that ask about a project.
        const [uid, now] = args as [number, string];
        const pid = withProject ? (args[2] as number) : 0;
        const ns = args.slice(withProject ? 3 : 2) as number[];
        return kdb
          .selectFrom('members')
          .select((eb) => [eb.fn.max<number>('access_level').as('level'), eb.fn.min<string>('expires_at').as('until')])
          .where('user_id', '=', uid)
          .where((eb) => {
            const ors = [];
            if (count > 0) ors.push(eb.and([eb('source_type', '=', 'namespace'), eb('source_id', 'in', ns)]));
            if (withProject) ors.push(eb.and([eb('source_type', '=', 'project'), eb('source_id', '=', pid)]));
            return ors.length > 0 ? eb.or(ors) : sql<boolean>`1 = 0`;
          })
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]));
      });
      MAX_LEVEL.set(shape, query);
    }
    const args: unknown[] = projectId === null ? [userId, nowIso, ...namespaceIds] : [userId, nowIso, projectId, ...namespaceIds];
    const r = await query.first(db, ...args);
    return { level: r?.level === null || r?.level === undefined ? null : Number(r.level), until: r?.until ?? null };
  }

  /**
   * The user's unexpired memberships among these namespaces and projects, highest level per source: one query for
   * the access decisions over many projects at once (group and instance npm endpoints, search).
   */
  async levels(
    db: Db,
    userId: number,
    namespaceIds: readonly number[],
    projectIds: readonly number[],
    nowIso: string,
  ): Promise<Array<{ source_type: SourceType; source_id: number; level: number }>> {
    if (namespaceIds.length === 0 && projectIds.length === 0) return [];
    const rows = await db
      .selectFrom('members')
      .select((eb) => ['source_type', 'source_id', eb.fn.max<number>('access_level').as('level')])
      .where('user_id', '=', userId)
      .where((eb) => {
        const ors = [];
        if (namespaceIds.length > 0) ors.push(eb.and([eb('source_type', '=', 'namespace'), eb('source_id', 'in', namespaceIds)]));
        if (projectIds.length > 0) ors.push(eb.and([eb('source_type', '=', 'project'), eb('source_id', 'in', projectIds)]));
        return eb.or(ors);
      })
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', nowIso)]))
      .groupBy(['source_type', 'source_id'])
      .execute();
    return rows.map((r) => ({ source_type: r.source_type, source_id: Number(r.source_id), level: Number(r.level) }));
  }

  /**
   * Every unexpired membership of the user, highest level per source: for decisions over more projects than an
   * `in` list should carry (the whole instance). A user is a member of few sources, so this stays small.
   */
  async allLevels(db: Db, userId: number, nowIso: string): Promise<Array<{ source_type: SourceType; source_id: number; level: number }>> {
    const rows = await db
      .selectFrom('members')
      .select((eb) => ['source_type', 'source_id', eb.fn.max<number>('access_level').as('level')])
      .where('user_id', '=', userId)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', nowIso)]))
      .groupBy(['source_type', 'source_id'])
      .execute();
    return rows.map((r) => ({ source_type: r.source_type, source_id: Number(r.source_id), level: Number(r.level) }));
  }

  /** Is the user a member of any group or project strictly below the namespace with these traversal ids? */
  async memberBelow(db: Db, userId: number, traversalIds: string, nowIso: string): Promise<boolean> {
    const r = await db
      .selectFrom('members')
      .select('members.id')
      .where('members.user_id', '=', userId)
      .where((eb) => eb.or([eb('members.expires_at', 'is', null), eb('members.expires_at', '>', nowIso)]))
      .where((eb) =>
        eb.or([
          eb.and([
            eb('members.source_type', '=', 'namespace'),
            eb('members.source_id', 'in', eb.selectFrom('namespaces').select('id').where('traversal_ids', 'like', `${traversalIds}_%`)),
          ]),
          eb.and([
            eb('members.source_type', '=', 'project'),
            eb(
              'members.source_id',
              'in',
              eb
                .selectFrom('projects')
                .innerJoin('namespaces', 'namespaces.id', 'projects.namespace_id')
                .select('projects.id')
                .where('namespaces.traversal_ids', 'like', `${traversalIds}%`),
            ),
          ]),
        ]),
      )
      .limit(1)
      .executeTakeFirst();
    return r !== undefined;
  }
}
