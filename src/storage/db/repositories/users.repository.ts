import { sql } from 'kysely';
import type { NewUserRow, UserRow } from '../schema.js';
import { likeEscape, offsetOf, type Db, type Page, type PageOf } from './types.js';
import type { UserFilter } from '../../../services/users.service.js';

export class UsersRepository {
  async insert(db: Db, row: NewUserRow): Promise<UserRow> {
    return db.insertInto('users').values(row).returningAll().executeTakeFirstOrThrow();
  }

  async findById(db: Db, id: number): Promise<UserRow | undefined> {
    return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async findByUsername(db: Db, username: string): Promise<UserRow | undefined> {
    return db.selectFrom('users').selectAll().where('username_lower', '=', username.toLowerCase()).executeTakeFirst();
  }

  async findByEmail(db: Db, email: string): Promise<UserRow | undefined> {
    return db.selectFrom('users').selectAll().where('email_lower', '=', email.toLowerCase()).executeTakeFirst();
  }

  async count(db: Db): Promise<number> {
    const r = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async list(db: Db, filter: UserFilter, page: Page): Promise<PageOf<UserRow>> {
    let q = db.selectFrom('users');
    if (filter.username) q = q.where('username_lower', '=', filter.username.toLowerCase());
    if (filter.search) {
      const pattern = `%${likeEscape(filter.search.toLowerCase())}%`;
      q = q.where((eb) =>
        eb.or([
          eb('username_lower', 'like', sql<string>`${pattern} escape '\\'`),
          ...(filter.searchEmail ? [eb('email_lower', 'like', sql<string>`${pattern} escape '\\'`)] : []),
          eb(eb.fn('lower', ['name']), 'like', sql<string>`${pattern} escape '\\'`),
        ]),
      );
    }
    const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const items = await q.selectAll().orderBy('id', 'asc').limit(page.perPage).offset(offsetOf(page)).execute();
    return { items, total: Number(total.n) };
  }

  async update(db: Db, id: number, patch: Partial<Omit<UserRow, 'id'>>): Promise<UserRow | undefined> {
    return db.updateTable('users').set(patch).where('id', '=', id).returningAll().executeTakeFirst();
  }
}
