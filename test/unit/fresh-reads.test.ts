import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { NO_CHANGE_SIGNAL, type ChangeSignal } from '../../src/storage/db/change-signal.js';
import { openDatabase } from '../../src/storage/db/database.js';
import { FreshMemo } from '../../src/services/fresh-memo.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'wharf-fresh-'));
const handle = await openDatabase({ databaseUrl: undefined, dataDir: dir });

describe('change signal and fresh reads (SQLite)', () => {
  const { db, changes } = handle;
  after(async () => {
    await handle.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const count = async () => Number((await sql<{ n: number }>`select count(*) as n from t`.execute(db)).rows[0]!.n);

  it('moves on with every write through our connection, at once, and not with reads', async () => {
    await sql`create table t (id integer primary key, v text)`.execute(db);
    const v0 = changes.current();
    await count();
    assert.equal(changes.current(), v0, 'a read is not a change');
    await sql`insert into t (v) values ('a')`.execute(db);
    const v1 = changes.current();
    assert.notEqual(v1, v0);
    // INSERT … RETURNING is a reader and a writer.
    await db.insertInto('t' as never).values({ v: 'b' } as never).returningAll().execute();
    assert.notEqual(changes.current(), v1);
    const v2 = changes.current();
    await db.transaction().execute(async (trx) => {
      await sql`update t set v = 'c' where id = 1`.execute(trx);
    });
    assert.notEqual(changes.current(), v2);
  });

  it('sees a commit by another connection (another process: wharf gc, the CLI) from the next turn on', async () => {
    const before = changes.current();
    const other = new SQLite(path.join(dir, 'wharf.db'));
    other.prepare("insert into t (v) values ('from elsewhere')").run();
    other.close();
    await nextTurn();
    assert.notEqual(changes.current(), before);
  });

  it('serves a remembered answer until something is written, "not found" included', async () => {
    const memo = new FreshMemo<number | undefined>(changes);
    let reads = 0;
    const read = async () => {
      reads++;
      const n = await count();
      return n > 100 ? n : undefined;
    };
    assert.equal(await memo.get('k', read), undefined);
    assert.equal(await memo.get('k', read), undefined);
    assert.equal(reads, 1);
    await sql`insert into t (v) values ('d')`.execute(db);
    await memo.get('k', read);
    assert.equal(reads, 2, 'a write makes the next call read again');
  });

  it('never keeps an answer read while a write landed', async () => {
    const memo = new FreshMemo<number>(changes);
    let reads = 0;
    const racing = memo.get('n', async () => {
      reads++;
      const n = await count();
      // A write that lands after this read started, before it is remembered.
      await sql`insert into t (v) values ('e')`.execute(db);
      return n;
    });
    const stale = await racing;
    assert.equal(await memo.get('n', async () => (reads++, count())), stale + 1);
    assert.equal(reads, 2);
  });

  it('keeps a bounded number of answers, oldest out first', async () => {
    const memo = new FreshMemo<string>(changes, 2);
    let reads = 0;
    const read = (v: string) => async () => (reads++, v);
    await memo.get('a', read('a'));
    await memo.get('b', read('b'));
    await memo.get('c', read('c'));
    assert.equal(reads, 3);
    await memo.get('c', read('c'));
    await memo.get('b', read('b'));
    assert.equal(reads, 3);
    await memo.get('a', read('a'));
    assert.equal(reads, 4, '"a" was evicted');
  });

  it('reads every time where the database gives no signal (PostgreSQL)', async () => {
    const memo = new FreshMemo<number>(NO_CHANGE_SIGNAL as ChangeSignal);
    let reads = 0;
    await memo.get('k', async () => ++reads);
    await memo.get('k', async () => ++reads);
    assert.equal(reads, 2);
  });
});
