import type { TrustedPublisherRow } from '../../../domain/records.js';
import type { Db } from './types.js';

/** A project's trusted publishers (migration 015). */
export class TrustedPublishersRepository {
  async list(db: Db, projectId: number): Promise<TrustedPublisherRow[]> {
    return db.selectFrom('npm_trusted_publishers').selectAll().where('project_id', '=', projectId).orderBy('id').execute();
  }

  async count(db: Db, projectId: number): Promise<number> {
    const r = await db.selectFrom('npm_trusted_publishers').select((eb) => eb.fn.countAll<number | string>().as('n')).where('project_id', '=', projectId).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** The publishers of one issuer, across projects, oldest first (bounded: the caller matches them in memory). */
  async forIssuer(db: Db, issuer: string, limit: number): Promise<TrustedPublisherRow[]> {
    return db.selectFrom('npm_trusted_publishers').selectAll().where('issuer', '=', issuer).orderBy('id').limit(limit).execute();
  }

  async findById(db: Db, id: number): Promise<TrustedPublisherRow | undefined> {
    return db.selectFrom('npm_trusted_publishers').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async insert(db: Db, row: Omit<TrustedPublisherRow, 'id'>): Promise<TrustedPublisherRow> {
    return db.insertInto('npm_trusted_publishers').values(row).returningAll().executeTakeFirstOrThrow();
  }

  /** The deleted row, if there was one in that project. */
  async delete(db: Db, projectId: number, id: number): Promise<TrustedPublisherRow | undefined> {
    return db.deleteFrom('npm_trusted_publishers').where('project_id', '=', projectId).where('id', '=', id).returningAll().executeTakeFirst();
  }
}
