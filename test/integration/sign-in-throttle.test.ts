/**
 * Wrong passwords are throttled per login and per client address, on `npm login` and the web sign-in alike, with
 * `429` and `Retry-After`; unknown logins are throttled exactly like known ones, and the lock ends with its window.
 * The counters live in the database, so a second instance on the same database sees them.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, TestClock, type TestApp } from '../helpers/app.js';
import { API, createUser } from '../helpers/management.js';

const LOGIN = `${API}/packages/npm/-/user/org.couchdb.user:`;
const GOOD = 'correct-horse-1';

for (const dialect of DIALECTS) {
  describe(`sign-in throttling (${dialect})`, () => {
    let t: TestApp;
    const clock = new TestClock();
    before(async () => {
      t = await startApp(dialect, { clock });
      for (const name of ['alice', 'bob', 'carol']) await createUser(t, name);
    });
    after(() => t.close());
    beforeEach(async () => {
      // Each test starts with fresh counters: a clean window, far from the last one.
      clock.advance(24 * 3600_000);
    });

    const npmLogin = async (name: string, password: string, address = '203.0.113.1') => {
      const r = await t.app.inject({
        method: 'PUT',
        url: `${LOGIN}${encodeURIComponent(name)}`,
        remoteAddress: address,
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ _id: `org.couchdb.user:${name}`, name, password, type: 'user', roles: [], date: clock.now().toISOString() }),
      });
      return { status: r.statusCode, headers: r.headers, body: r.json() as Record<string, unknown> };
    };

    const webSignIn = async (login: string, password: string, address = '203.0.113.1') => {
      const page = await t.app.inject({ method: 'GET', url: '/users/sign_in', remoteAddress: address });
      const csrf = /name="authenticity_token" value="([^"]+)"/.exec(page.body)![1]!;
      const r = await t.app.inject({
        method: 'POST',
        url: '/users/sign_in',
        remoteAddress: address,
        payload: new URLSearchParams({ authenticity_token: csrf, login, password }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `_wharf_csrf=${csrf}` },
      });
      return { status: r.statusCode, headers: r.headers, body: r.body };
    };

    it('npm login: ten wrong passwords, then 429 with Retry-After and a message npm prints — the right password too', async () => {
      for (let i = 0; i < 10; i++) assert.equal((await npmLogin('alice', `wrong-${i}`)).status, 401, `attempt ${i + 1}`);
      const locked = await npmLogin('alice', 'wrong-again');
      assert.equal(locked.status, 429);
      assert.equal(locked.headers['retry-after'], '600');
      assert.match(String(locked.body.error), /Too many failed sign-in attempts/);
      // The right password is refused as well while locked: otherwise the lock would tell a guesser when they won.
      const right = await npmLogin('alice', GOOD);
      assert.equal(right.status, 429);
      assert.equal(right.body.token, undefined);
      // Other accounts are not affected (different login, and the address has room left).
      assert.equal((await npmLogin('bob', GOOD)).status, 201);
    });

    it('the lock ends with its window, and a right password then works and clears the count', async () => {
      for (let i = 0; i < 10; i++) await npmLogin('alice', `wrong-${i}`);
      assert.equal((await npmLogin('alice', GOOD)).status, 429);
      clock.advance(9 * 60_000);
      const still = await npmLogin('alice', GOOD);
      assert.equal(still.status, 429);
      assert.equal(still.headers['retry-after'], '60');
      clock.advance(60_000);
      assert.equal((await npmLogin('alice', GOOD)).status, 201);
      // Cleared: nine more wrong ones do not lock.
      for (let i = 0; i < 9; i++) assert.equal((await npmLogin('alice', `wrong-${i}`)).status, 401);
      assert.equal((await npmLogin('alice', GOOD)).status, 201);
    });

    it('unknown logins are throttled exactly like known ones (same statuses, same Retry-After)', async () => {
      const seen: number[][] = [];
      for (const name of ['carol', 'nobody-here']) {
        const statuses: number[] = [];
        for (let i = 0; i < 11; i++) statuses.push((await npmLogin(name, `wrong-${i}`, `198.51.100.${seen.length + 1}`)).status);
        seen.push(statuses);
      }
      assert.deepEqual(seen[0], [...Array(10).fill(401), 429]);
      assert.deepEqual(seen[1], seen[0]);
    });

    it('the web sign-in shares the counter with npm login (429 page with Retry-After)', async () => {
      for (let i = 0; i < 5; i++) assert.equal((await npmLogin('carol', `wrong-${i}`)).status, 401);
      for (let i = 0; i < 5; i++) assert.equal((await webSignIn('carol', `wrong-${i}`)).status, 401);
      const locked = await webSignIn('carol', GOOD);
      assert.equal(locked.status, 429);
      assert.ok(Number(locked.headers['retry-after']) > 0);
      assert.match(locked.body, /Too many failed sign-in attempts/);
      assert.doesNotMatch(String(locked.headers['set-cookie'] ?? ''), /_wharf_session=[^;]/);
    });

    it('logins are compared without case (ALICE is alice)', async () => {
      for (let i = 0; i < 10; i++) await npmLogin(i % 2 ? 'alice' : 'ALICE', `wrong-${i}`);
      assert.equal((await webSignIn('Alice', GOOD)).status, 429);
    });

    it('one address guessing across many logins is stopped after 50 failures, other addresses are not', async () => {
      const attacker = '192.0.2.66';
      for (let i = 0; i < 50; i++) assert.equal((await npmLogin(`user${i % 25}`, 'wrong', attacker)).status, 401, `attempt ${i + 1}`);
      assert.equal((await npmLogin('bob', GOOD, attacker)).status, 429, 'the address is locked, whatever the login');
      assert.equal((await webSignIn('bob', GOOD, attacker)).status, 429);
      assert.equal((await npmLogin('bob', GOOD, '192.0.2.67')).status, 201);
    });

    it('a right password does not count against the address', async () => {
      const office = '192.0.2.80';
      for (let i = 0; i < 60; i++) assert.equal((await npmLogin('bob', GOOD, office)).status, 201, `sign-in ${i + 1}`);
    });

    it('thresholds are application settings (GitLab names), validated', async () => {
      const set = await t.call('PUT', `${API}/application/settings`, {
        token: ROOT_TOKEN,
        body: { max_login_attempts: 3, failed_login_attempts_unlock_period_in_minutes: 1, max_login_attempts_per_address: 100 },
      });
      assert.equal(set.status, 200, set.text);
      try {
        for (let i = 0; i < 3; i++) assert.equal((await npmLogin('bob', 'wrong')).status, 401);
        const locked = await npmLogin('bob', 'wrong');
        assert.equal(locked.status, 429);
        assert.equal(locked.headers['retry-after'], '60');
        const bad = await t.call('PUT', `${API}/application/settings`, { token: ROOT_TOKEN, body: { max_login_attempts: 0 } });
        assert.equal(bad.status, 400);
      } finally {
        await t.call('PUT', `${API}/application/settings`, {
          token: ROOT_TOKEN,
          body: { max_login_attempts: 10, failed_login_attempts_unlock_period_in_minutes: 10, max_login_attempts_per_address: 50 },
        });
      }
    });

    it('an unknown login costs a password hash, as a known one does (no timing oracle)', async () => {
      const timed = async (name: string, address: string) => {
        const started = performance.now();
        assert.equal((await npmLogin(name, 'wrong-password', address)).status, 401);
        return performance.now() - started;
      };
      const known: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 8; i++) {
        known.push(await timed('bob', `10.3.0.${i}`));
        unknown.push(await timed(`nobody-${i}`, `10.4.0.${i}`));
      }
      const median = (xs: number[]) => xs.sort((x, y) => x - y)[xs.length >> 1]!;
      // Before the fix an unknown login answered 15-50 times faster (no scrypt at all); now both hash once.
      assert.ok(median(unknown) > median(known) / 2, `known ${median(known).toFixed(1)} ms, unknown ${median(unknown).toFixed(1)} ms`);
    });

    it('many guesses sent at once cannot get past the limit', async () => {
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => npmLogin('alice', `wrong-${i}`, `10.0.0.${i}`)));
      assert.equal(results.filter((r) => r.status === 401).length, 10);
      assert.equal(results.filter((r) => r.status === 429).length, 20);
    });

    it('old windows are pruned: the table stays bounded', async () => {
      for (let i = 0; i < 20; i++) await npmLogin(`ghost${i}`, 'wrong', `10.1.0.${i}`);
      clock.advance(11 * 60_000);
      await npmLogin('ghost-last', 'wrong', '10.2.0.1');
      const rows = await t.deps.database.db.selectFrom('sign_in_failures').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(rows.n), 2, 'only the last failure (its login and its address) is left');
    });
  });
}
