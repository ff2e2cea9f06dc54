import type { Selectable } from 'kysely';
import type { WebSessionsTable } from '../schema.js';
import type { Db } from './types.js';

export type WebSessionRow = Selectable<WebSessionsTable>;

export class SessionsRepository {
  async insert(db: Db, row: WebSessionRow): Promise<void> {
    await db.insertInto('web_sessions').values(row).execute();
  }

  async find(db: Db, idDigest: string): Promise<WebSessionRow | undefined> {
    return db.selectFrom('web_sessions').selectAll().where('id_digest', '=', idDigest).executeTakeFirst();
  }

  async delete(db: Db, idDigest: string): Promise<void> {
    await db.deleteFrom('web_sessions').where('id_digest', '=', idDigest).execute();
  }

  async deleteExpired(db: Db, nowIso: string): Promise<void> {
    await db.deleteFrom('web_sessions').where('expires_at', '<=', nowIso).execute();
  }
}
