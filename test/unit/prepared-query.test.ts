import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { PreparedQuery } from '../../src/storage/db/prepared.js';
import { withStatementCache } from '../../src/storage/db/database.js';

describe('PreparedQuery', () => {
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: withStatementCache(new SQLite(':memory:')) }) });
  after(() => db.destroy());

  it('compiles once and binds each call’s values, constants of the query kept', async () => {
    await sql`create table t (id integer primary key, kind text, name text)`.execute(db);
    await sql`insert into t values (1, 'a', 'x'), (2, 'b', 'y'), (3, 'a', 'z')`.execute(db);
    const byKindAndId = new PreparedQuery((k: Kysely<any>, kind: string, minId: number) =>
      k.selectFrom('t').select(['id', 'name']).where('kind', '=', kind).where('id', '>=', minId).where('name', 'in', ['x', 'z']).orderBy('id'),
    );
    assert.deepEqual(await byKindAndId.execute(db as never, 'a', 1), [{ id: 1, name: 'x' }, { id: 3, name: 'z' }]);
    assert.deepEqual(await byKindAndId.execute(db as never, 'a', 2), [{ id: 3, name: 'z' }]);
    assert.deepEqual(await byKindAndId.execute(db as never, 'b', 0), []);
    assert.equal(await byKindAndId.first(db as never, 'c', 0), undefined);
  });

  it('refuses a query whose parameter is not bound as a value', async () => {
    const inlined = new PreparedQuery((k: Kysely<any>, name: string) => k.selectFrom('t').select('id').where(sql.raw(`name = '${name}'`) as never));
    await assert.rejects(inlined.execute(db as never, 'x'), /every parameter must be bound/);
  });
});
