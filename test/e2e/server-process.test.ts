/**
 * The server as users start it: `wharf serve` on a fresh data directory, bad configuration, graceful stop, and two
 * instances racing to start on one empty PostgreSQL.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { createTestDatabase, PG_URL } from '../helpers/databases.js';
import { runWharf, startWharf } from '../helpers/process.js';

describe('wharf serve', () => {
  it('starts on an empty data dir, prints root’s token once, serves with it, and stops cleanly on SIGTERM', async () => {
    const db = await createTestDatabase('sqlite');
    try {
      const first = await startWharf({ WHARF_DATA_DIR: db.dataDir });
      const token = /WHARF ROOT TOKEN: (\S+)/.exec(first.stdout())?.[1];
      assert.ok(token, first.stdout());
      assert.match(first.stdout(), /applied database migrations: 001-identity/);
      assert.equal((await fetch(`${first.url}/-/readiness`)).status, 200);
      const me = await fetch(`${first.url}/api/v4/user`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(me.status, 200);
      assert.equal(((await me.json()) as { username: string }).username, 'root');
      assert.equal(await first.stop(), 0);
      assert.ok(existsSync(path.join(db.dataDir, 'wharf.db')));

      // A restart keeps the data and prints no new token.
      const second = await startWharf({ WHARF_DATA_DIR: db.dataDir });
      assert.doesNotMatch(second.stdout(), /WHARF ROOT TOKEN/);
      assert.match(second.stdout(), /database schema is up to date/);
      assert.equal((await fetch(`${second.url}/api/v4/user`, { headers: { 'private-token': token } })).status, 200);
      assert.equal(await second.stop(), 0);
    } finally {
      await db.drop();
    }
  });

  it('refuses to start with invalid settings, naming every one, and exits non-zero', () => {
    const r = runWharf(['serve'], { WHARF_PORT: 'x', WHARF_LOG_LEVEL: 'chatty', WHARF_EXTERNAL_URL: 'not a url' });
    assert.notEqual(r.status, 0);
    for (const name of ['WHARF_PORT', 'WHARF_LOG_LEVEL', 'WHARF_EXTERNAL_URL']) assert.match(r.stderr, new RegExp(name));
  });

  it('two instances starting together on one empty PostgreSQL both come up and migrate once', { skip: !PG_URL && 'WHARF_TEST_DATABASE_URL not set' }, async () => {
    const db = await createTestDatabase('postgres');
    try {
      const env = { WHARF_DATABASE_URL: db.databaseUrl!, WHARF_DATA_DIR: db.dataDir };
      const [a, b] = await Promise.all([startWharf(env), startWharf(env)]);
      const outputs = [a!.stdout(), b!.stdout()];
      assert.equal(outputs.filter((o) => /applied database migrations/.test(o)).length, 1, outputs.join('\n---\n'));
      assert.equal(outputs.filter((o) => /database schema is up to date/.test(o)).length, 1);
      assert.equal(outputs.filter((o) => /WHARF ROOT TOKEN/.test(o)).length, 1, 'exactly one instance created root');
      for (const p of [a!, b!]) assert.equal((await fetch(`${p.url}/-/readiness`)).status, 200);

      const token = /WHARF ROOT TOKEN: (\S+)/.exec(outputs.join('\n'))![1]!;
      for (const p of [a!, b!]) {
        assert.equal((await fetch(`${p.url}/api/v4/user`, { headers: { 'private-token': token } })).status, 200);
      }
      const client = new pg.Client({ connectionString: db.databaseUrl });
      await client.connect();
      const users = await client.query("select count(*)::int as n from users where username = 'root'");
      const migrations = await client.query('select name from kysely_migration order by name');
      await client.end();
      assert.equal(users.rows[0].n, 1);
      assert.deepEqual(
        migrations.rows.map((r: { name: string }) => r.name),
        [...new Set(migrations.rows.map((r: { name: string }) => r.name))],
      );
      assert.ok(migrations.rows.length >= 1);
      assert.deepEqual(await Promise.all([a!.stop(), b!.stop()]), [0, 0]);
    } finally {
      await db.drop();
    }
  });
});
