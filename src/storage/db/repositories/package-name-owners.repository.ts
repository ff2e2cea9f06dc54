import { sql } from 'kysely';
import type { Db } from './types.js';
import type { NameKey } from '../../../services/package-names.service.js';

/** Which project owns a package name in a top-level namespace (migration 007). */
export class PackageNameOwnersRepository {
  /** The owning project, without locking anything (for an early, advisory refusal). */
  async owner(db: Db, key: NameKey): Promise<number | undefined> {
    const row = await db
      .selectFrom('package_name_owners')
      .select('project_id')
      .where('root_namespace_id', '=', key.rootNamespaceId)
      .where('package_type', '=', key.type)
      .where('name', '=', key.name.toLowerCase())
      .executeTakeFirst();
    return row ? Number(row.project_id) : undefined;
  }

  /**
   * Records `projectId` as the owner unless the name has one, and returns the owner. Either way the row stays
   * locked until the transaction ends (PostgreSQL: the upsert's row lock; SQLite: the write lock the statement
   * takes), so a concurrent claim of the same name waits for this transaction and then sees what it committed.
   */
  async claim(db: Db, key: NameKey, projectId: number, now: string): Promise<number> {
    const row = await db
      .insertInto('package_name_owners')
      .values({ root_namespace_id: key.rootNamespaceId, package_type: key.type, name: key.name.toLowerCase(), project_id: projectId, created_at: now })
      .onConflict((oc) =>
        // A no-op update rather than `do nothing`: only an update locks the existing row and returns it.
        oc.columns(['root_namespace_id', 'package_type', 'name']).doUpdateSet({ project_id: sql<number>`package_name_owners.project_id` }),
      )
      .returning('project_id')
      .executeTakeFirstOrThrow();
    return Number(row.project_id);
  }

  /** Moves ownership from `from` to `to` (the caller holds the row's lock through `claim`). */
  async transfer(db: Db, key: NameKey, from: number, to: number, now: string): Promise<boolean> {
    const r = await db
      .updateTable('package_name_owners')
      .set({ project_id: to, created_at: now })
      .where('root_namespace_id', '=', key.rootNamespaceId)
      .where('package_type', '=', key.type)
      .where('name', '=', key.name.toLowerCase())
      .where('project_id', '=', from)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Whether `projectId` still holds any package of the name (in any state but being destroyed). */
  async holds(db: Db, projectId: number, key: NameKey): Promise<boolean> {
    const row = await db
      .selectFrom('packages')
      .select('id')
      .where('project_id', '=', projectId)
      .where('package_type', '=', key.type)
      .where(sql<string>`lower(name)`, '=', key.name.toLowerCase())
      .where('status', '<>', 'pending_destruction')
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }
}
