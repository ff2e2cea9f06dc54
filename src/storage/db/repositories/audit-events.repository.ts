/** The SQL of the audit log: append, list newest first with GitLab's filters, and the retention delete. */
import type { AuditEventRow, AuditEventsTable } from '../schema.js';
import type { Insertable } from 'kysely';
import { offsetOf, type Db, type Page, type PageOf } from './types.js';
import type { AuditEventFilter } from '../../../services/audit.service.js';

export type NewAuditEvent = Insertable<AuditEventsTable>;

export type { AuditEventFilter };

export class AuditEventsRepository {
  async insert(db: Db, row: NewAuditEvent): Promise<void> {
    await db.insertInto('audit_events').values(row).execute();
  }

  async list(db: Db, filter: AuditEventFilter, page: Page): Promise<PageOf<AuditEventRow>> {
    let q = db.selectFrom('audit_events');
    if (filter.createdAfter !== undefined) q = q.where('created_at', '>=', filter.createdAfter);
    if (filter.createdBefore !== undefined) q = q.where('created_at', '<=', filter.createdBefore);
    if (filter.entityType !== undefined) q = q.where('entity_type', '=', filter.entityType);
    if (filter.entityId !== undefined) q = q.where('entity_id', '=', filter.entityId);
    const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const items = await q.selectAll().orderBy('id', 'desc').limit(page.perPage).offset(offsetOf(page)).execute();
    return { items, total: Number(total.n) };
  }

  async find(db: Db, id: number): Promise<AuditEventRow | undefined> {
    return db.selectFrom('audit_events').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The path GitLab shows as `entity_path`: a project's or group's full path, a user's username. */
  async entityPath(db: Db, type: 'User' | 'Group' | 'Project', id: number): Promise<string | null> {
    if (type === 'Project') {
      return (await db.selectFrom('projects').select('full_path').where('id', '=', id).executeTakeFirst())?.full_path ?? null;
    }
    if (type === 'Group') {
      return (await db.selectFrom('namespaces').select('full_path').where('id', '=', id).executeTakeFirst())?.full_path ?? null;
    }
    return (await db.selectFrom('users').select('username').where('id', '=', id).executeTakeFirst())?.username ?? null;
  }

  /**
   * Deletes at most `limit` events older than `before`, oldest first; returns how many went. Small batches keep
   * each statement short, so pruning a large backlog never holds the (SQLite) writer for long.
   */
  async deleteOlderThan(db: Db, before: string, limit: number): Promise<number> {
    const r = await db
      .deleteFrom('audit_events')
      .where('id', 'in', (eb) => eb.selectFrom('audit_events').select('id').where('created_at', '<', before).orderBy('id').limit(limit))
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async countOlderThan(db: Db, before: string): Promise<number> {
    const r = await db
      .selectFrom('audit_events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('created_at', '<', before)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}
