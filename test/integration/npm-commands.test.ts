/**
 * The npm commands GitLab does not implement (docs/design/gitlab-compatibility.md#what-gitlab-leaves-out) that Wharf answers at project, group and
 * instance level, on SQLite and PostgreSQL: `npm whoami`, `npm ping`, `npm search` (shapes of docs/design/client-protocols.md#npm-search,
 * and a private project's packages never shown to outsiders, not even in `total`), and `npm login
 * --auth-type=legacy` (a new `api` token for a user name and password).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { bearer, createNpmWorld, esc, npmBase, published, type NpmWorld } from '../helpers/npm.js';

for (const dialect of DIALECTS) {
  describe(`npm whoami, ping, search and login [${dialect}]`, () => {
    let t: TestApp;
    let w: NpmWorld;
    let bases: Record<'P' | 'G' | 'I', string>;
    let privGroup: number;
    const get = (url: string, token?: string) => t.call('GET', url, { headers: bearer(token) });

    before(async () => {
      t = await startApp(dialect);
      w = await createNpmWorld(t);
      const pub = (await t.call('GET', '/api/v4/groups/pubgrp', { token: ROOT_TOKEN })).body.id as number;
      privGroup = (await t.call('GET', '/api/v4/groups/privgrp', { token: ROOT_TOKEN })).body.id as number;
      bases = { P: npmBase(w.project.public), G: `/api/v4/groups/${pub}/-/packages/npm`, I: '/api/v4/packages/npm' };
      await published(t, w.project.public, '@pubgrp/widget-kit', '1.0.0', { extra: { description: 'Widgets for everyone', keywords: ['widget', 'ui'] } });
      await published(t, w.project.public, '@pubgrp/widget-kit', '1.2.0', { extra: { description: 'Widgets for everyone, improved', keywords: ['widget', 'ui'] } });
      await published(t, w.project.public, '@pubgrp/widget-kit', '2.0.0-beta.1', { tag: 'beta', extra: { description: 'next' } });
      await published(t, w.project.internal, '@intgrp/widget-internal', '1.0.0', { extra: { description: 'Internal widgets' } });
      await published(t, w.project.private, '@privgrp/widget-secret', '3.0.0', { extra: { description: 'Secret widgets' } });
      await published(t, w.project.public, '@pubgrp/gadget', '0.1.0', { extra: { description: 'Not a match', keywords: ['tool'] } });
    });
    after(async () => t.close());

    describe('npm whoami: GET …/-/whoami', () => {
      for (const level of ['P', 'G', 'I'] as const) {
        it(`${level}: the token's user name; a deploy token's user name; anonymous → 401; a revoked token → 401`, async () => {
          const me = await get(`${bases[level]}/-/whoami`, w.token.developer);
          assert.equal(me.status, 200, me.text);
          assert.deepEqual(me.body, { username: 'developer' });
          const readOnly = await get(`${bases[level]}/-/whoami`, w.token.readApi);
          assert.deepEqual(readOnly.body, { username: 'developer' });
          const deploy = await get(`${bases[level]}/-/whoami`, w.token.deployRead);
          assert.equal(deploy.status, 200);
          assert.match(deploy.body.username, /^gitlab\+deploy-token-\d+$/);
          const anon = await get(`${bases[level]}/-/whoami`);
          assert.equal(anon.status, 401);
          assert.deepEqual(anon.body, { message: '401 Unauthorized' });
          assert.equal((await get(`${bases[level]}/-/whoami`, w.token.revoked)).status, 401);
        });
      }
    });

    describe('npm ping: GET …/-/ping', () => {
      for (const level of ['P', 'G', 'I'] as const) {
        it(`${level}: 200 {} (with ?write=true too); a bad token → 401`, async () => {
          for (const suffix of ['', '?write=true']) {
            const r = await get(`${bases[level]}/-/ping${suffix}`);
            assert.equal(r.status, 200);
            assert.deepEqual(r.body, {});
          }
          assert.equal((await get(`${bases[level]}/-/ping`, 'glpat-unknown-000000000000')).status, 401);
        });
      }
    });

    describe('npm search: GET …/-/v1/search', () => {
      const names = (r: { body: { objects: Array<{ package: { name: string } }> } }) => r.body.objects.map((o) => o.package.name);

      it('answers the shape npm reads: maintainers array, ISO date, the latest version, score', async () => {
        const r = await get(`${bases.P}/-/v1/search?text=widget&size=20&from=0&quality=0.65&popularity=0.98&maintenance=0.5`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.total, 1);
        assert.ok(!Number.isNaN(Date.parse(r.body.time)));
        const [o] = r.body.objects;
        assert.equal(o.package.name, '@pubgrp/widget-kit');
        assert.equal(o.package.version, '1.2.0', 'the latest dist-tag, not the highest pre-release');
        assert.equal(o.package.description, 'Widgets for everyone, improved');
        assert.deepEqual(o.package.keywords, ['widget', 'ui']);
        assert.ok(Array.isArray(o.package.maintainers));
        assert.deepEqual(o.package.maintainers, [{ username: 'root' }]);
        assert.deepEqual(o.package.publisher, { username: 'root' });
        assert.equal(new Date(o.package.date).toISOString(), o.package.date);
        assert.equal(typeof o.score.final, 'number');
        assert.equal(typeof o.searchScore, 'number');
      });

      it('matches name, description and keywords; every word must match; keywords: qualifier', async () => {
        assert.deepEqual(names(await get(`${bases.P}/-/v1/search?text=everyone`)), ['@pubgrp/widget-kit']);
        assert.deepEqual(names(await get(`${bases.P}/-/v1/search?text=ui%20widget`)), ['@pubgrp/widget-kit']);
        assert.deepEqual(names(await get(`${bases.P}/-/v1/search?text=widget%20tool`)), []);
        assert.deepEqual(names(await get(`${bases.P}/-/v1/search?text=keywords:tool`)), ['@pubgrp/gadget']);
        // A dependency name in the manifest is no match.
        assert.deepEqual(names(await get(`${bases.P}/-/v1/search?text=index.js`)), []);
      });

      it('a private project’s packages never appear to outsiders or anonymous callers, at any level, nor in total', async () => {
        for (const level of ['G', 'I'] as const) {
          const anon = await get(`${bases[level]}/-/v1/search?text=widget`);
          assert.equal(anon.status, 200);
          assert.deepEqual(names(anon), ['@pubgrp/widget-kit']);
          assert.equal(anon.body.total, 1);
        }
        const outsider = await get(`${bases.I}/-/v1/search?text=widget`, w.token.outsider);
        assert.deepEqual(names(outsider), ['@intgrp/widget-internal', '@pubgrp/widget-kit'], 'internal is visible to any signed-in user');
        assert.equal(outsider.body.total, 2);
        const member = await get(`${bases.I}/-/v1/search?text=widget`, w.token.guest);
        assert.deepEqual(names(member), ['@intgrp/widget-internal', '@privgrp/widget-secret', '@pubgrp/widget-kit']);
        const deploy = await get(`${bases.I}/-/v1/search?text=widget`, w.token.deployRead);
        assert.deepEqual(names(deploy), ['@privgrp/widget-secret', '@pubgrp/widget-kit'], 'a deploy token sees its project and public ones');
        // The group endpoint searches its own tree only.
        assert.deepEqual(names(await get(`${bases.G}/-/v1/search?text=widget`, w.token.guest)), ['@pubgrp/widget-kit']);
      });

      it('project and group search need read access there: private project/group → 401 anonymous, 404 outsider', async () => {
        assert.equal((await get(`${npmBase(w.project.private)}/-/v1/search?text=widget`)).status, 401);
        assert.equal((await get(`${npmBase(w.project.private)}/-/v1/search?text=widget`, w.token.outsider)).status, 404);
        assert.equal((await get(`/api/v4/groups/${privGroup}/-/packages/npm/-/v1/search?text=widget`)).status, 401);
        assert.equal((await get(`/api/v4/groups/${privGroup}/-/packages/npm/-/v1/search?text=widget`, w.token.outsider)).status, 404);
        const ok = await get(`${npmBase(w.project.private)}/-/v1/search?text=widget`, w.token.guest);
        assert.deepEqual(names(ok), ['@privgrp/widget-secret']);
      });

      it('honours size and from; the exact name comes first', async () => {
        const all = await get(`${bases.I}/-/v1/search?text=&size=250`, ROOT_TOKEN);
        assert.equal(all.body.total, 4);
        const page = await get(`${bases.I}/-/v1/search?text=&size=2&from=1`, ROOT_TOKEN);
        assert.equal(page.body.total, 4);
        assert.deepEqual(names(page), names(all).slice(1, 3));
        const exact = await get(`${bases.I}/-/v1/search?text=${encodeURIComponent('@pubgrp/gadget')}`, ROOT_TOKEN);
        assert.equal(names(exact)[0], '@pubgrp/gadget');
      });
    });

    describe('npm login --auth-type=legacy: PUT …/-/user/org.couchdb.user:<name>', () => {
      const login = (base: string, name: string, password: string, headers: Record<string, string> = {}) =>
        t.call('PUT', `${base}/-/user/org.couchdb.user:${encodeURIComponent(name)}`, {
          headers: { 'npm-auth-type': 'legacy', 'npm-command': 'login', ...headers },
          body: { _id: `org.couchdb.user:${name}`, name, password, type: 'user', roles: [], date: new Date().toISOString() },
        });

      for (const level of ['P', 'G', 'I'] as const) {
        it(`${level}: the right password → 201 with a new api token that works; a stale Authorization header is ignored`, async () => {
          const r = await login(bases[level], 'developer', 'password123', { authorization: 'Bearer glpat-stale-token-0000000000' });
          assert.equal(r.status, 201, r.text);
          assert.equal(r.body.ok, true);
          assert.equal(r.body.id, 'org.couchdb.user:developer');
          assert.match(r.body.token, /^whpat-/);
          assert.notEqual(r.body.token, w.token.developer);
          assert.deepEqual((await get(`${bases[level]}/-/whoami`, r.body.token)).body, { username: 'developer' });
          // An `api` token: it may write (a dist-tag on the private project, where developer is a Developer).
          await published(t, w.project.private, '@privgrp/login-check', '1.0.0');
          const tag = await t.call('PUT', `${npmBase(w.project.private)}/-/package/${esc('@privgrp/login-check')}/dist-tags/ok`, {
            headers: bearer(r.body.token),
            body: '"1.0.0"',
          });
          assert.equal(tag.status, 204, tag.text);
          await t.call('DELETE', `${npmBase(w.project.private)}/-/package/${esc('@privgrp/login-check')}/dist-tags/ok`, { headers: bearer(ROOT_TOKEN) });
        });
      }

      it('the token is listed among the user’s personal access tokens, with the api scope', async () => {
        const r = await login(bases.P, 'guest', 'password123');
        assert.equal(r.status, 201);
        const users = (await t.call('GET', '/api/v4/users?username=guest', { token: ROOT_TOKEN })).body;
        const tokens = (await t.call('GET', `/api/v4/personal_access_tokens?user_id=${users[0].id}`, { token: ROOT_TOKEN })).body as Array<{ name: string; scopes: string[]; active: boolean }>;
        const made = tokens.filter((tok) => tok.name.startsWith('npm login '));
        assert.equal(made.length, 1);
        assert.deepEqual(made[0]!.scopes, ['api']);
      });

      it('a wrong password, an unknown user → the same 401 with a message; no token is made', async () => {
        const before = Number((await t.deps.database.db.selectFrom('personal_access_tokens').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
        for (const [name, password] of [
          ['developer', 'wrong-password'],
          ['nobody-at-all', 'password123'],
        ] as const) {
          const r = await login(bases.P, name, password);
          assert.equal(r.status, 401, r.text);
          assert.deepEqual(r.body, { message: '401 Unauthorized', error: 'Incorrect username or password.' });
        }
        const afterCount = Number((await t.deps.database.db.selectFrom('personal_access_tokens').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
        assert.equal(afterCount, before);
      });

      it('no password → 400; a body naming another user than the URL → 400', async () => {
        const none = await t.call('PUT', `${bases.P}/-/user/org.couchdb.user:developer`, { body: { name: 'developer' } });
        assert.equal(none.status, 400);
        assert.equal(none.body.error, '"password" not given');
        const other = await t.call('PUT', `${bases.P}/-/user/org.couchdb.user:developer`, { body: { name: 'guest', password: 'password123' } });
        assert.equal(other.status, 400);
      });
    });

    describe('npm logout: DELETE …/-/user/token/<token>', () => {
      const login = async (base: string) =>
        (await t.call('PUT', `${base}/-/user/org.couchdb.user:developer`, { body: { name: 'developer', password: 'password123' } })).body.token as string;
      const logout = (base: string, token: string, headers: Record<string, string> = bearer(token)) =>
        t.call('DELETE', `${base}/-/user/token/${encodeURIComponent(token)}`, { headers });

      for (const level of ['P', 'G', 'I'] as const) {
        it(`${level}: 200 {ok: true}, and the personal access token no longer works anywhere`, async () => {
          const token = await login(bases[level]);
          assert.equal((await get(`${bases[level]}/-/whoami`, token)).status, 200);
          const r = await logout(bases[level], token);
          assert.equal(r.status, 200, r.text);
          assert.deepEqual(r.body, { ok: true });
          assert.equal(r.headers['cache-control'], 'no-store');
          for (const base of Object.values(bases)) assert.equal((await get(`${base}/-/whoami`, token)).status, 401);
          assert.equal((await t.call('GET', '/api/v4/user', { token })).status, 401);
        });
      }

      it('answers 200 for a token that is unknown or already revoked, whatever Authorization says, so npm can forget it', async () => {
        const token = await login(bases.P);
        assert.equal((await logout(bases.P, token)).status, 200);
        // Logging out again: the Authorization header now carries a revoked token.
        assert.equal((await logout(bases.P, token)).status, 200);
        assert.equal((await logout(bases.P, 'whpat-never-issued-000000000000', {})).status, 200);
      });

      it('leaves a deploy token working: it belongs to the project, not to whoever logs out', async () => {
        const r = await logout(bases.P, w.token.deployRead);
        assert.equal(r.status, 200);
        assert.equal((await get(`${bases.P}/-/whoami`, w.token.deployRead)).status, 200);
      });

      it('never writes the token into the log', async () => {
        const token = await login(bases.I);
        await logout(bases.I, token);
        const lines = t.logs.join('');
        assert.ok(!lines.includes(token), 'the token is not logged');
        assert.ok(lines.includes('/-/user/token/[REDACTED]'));
      });
    });
  });
}
