/** Personal access tokens and deploy tokens: creation, use, listing, expiry and revocation. */
import assert from 'node:assert/strict';
import { extractCredential } from '../../src/domain/access/credentials.js';
import { AppError } from '../../src/domain/errors.js';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, TestClock, type TestApp } from '../helpers/app.js';
import {
  API,
  addMember,
  assertPagination,
  createGroup,
  createPat,
  createProject,
  postForm,
  postQuery,
  refusedWithoutWrites,
  userWithToken,
  type Created,
} from '../helpers/management.js';

const DAY = 86_400_000;
const INSUFFICIENT_SCOPE = {
  error: 'insufficient_scope',
  error_description: 'The request requires higher privileges than provided by the access token.',
  scope: 'api',
};

for (const dialect of DIALECTS) {
  describe(`management API: personal access tokens [${dialect}]`, () => {
    let t: TestApp;
    const clock = new TestClock('2026-06-01T12:00:00.000Z');
    let alice: { user: Created; token: string };
    let bob: { user: Created; token: string };

    before(async () => {
      t = await startApp(dialect, { clock });
      alice = await userWithToken(t, 'alice');
      bob = await userWithToken(t, 'bob');
    });
    after(async () => t.close());

    describe('POST /users/:id/personal_access_tokens (admin)', () => {
      it('creates tokens from JSON, form fields (scopes[]), the query string and comma-separated scopes', async () => {
        const url = `${API}/users/${alice.user.id}/personal_access_tokens`;
        const json = await t.call('POST', url, { token: ROOT_TOKEN, body: { name: 'json', scopes: ['api', 'read_api'], expires_at: '2026-12-31' } });
        assert.equal(json.status, 201, json.text);
        assert.deepEqual(Object.keys(json.body).sort(), ['active', 'created_at', 'description', 'expires_at', 'id', 'last_used_at', 'name', 'revoked', 'scopes', 'token', 'user_id']);
        assert.equal(json.body.name, 'json');
        assert.deepEqual(json.body.scopes, ['api', 'read_api']);
        assert.equal(json.body.expires_at, '2026-12-31');
        assert.equal(json.body.user_id, alice.user.id);
        assert.equal(json.body.revoked, false);
        assert.equal(json.body.active, true);
        assert.equal(json.body.last_used_at, null);
        assert.equal(json.body.created_at, '2026-06-01T12:00:00.000Z');

        const f = await postForm(t, 'POST', url, ROOT_TOKEN, { name: 'form', scopes: ['read_api'] });
        assert.equal(f.status, 201, f.text);
        assert.deepEqual(f.body.scopes, ['read_api']);
        assert.equal(f.body.expires_at, '2027-06-01', 'a year from today by default, as GitLab');

        const q = await t.call('POST', `${url}?name=query&scopes[]=api&scopes[]=read_api`, { token: ROOT_TOKEN });
        assert.equal(q.status, 201, q.text);
        assert.deepEqual(q.body.scopes, ['api', 'read_api']);

        const comma = await postForm(t, 'POST', url, ROOT_TOKEN, { name: 'comma', scopes: 'api,read_api' } as any);
        assert.equal(comma.status, 201, comma.text);
        assert.deepEqual(comma.body.scopes, ['api', 'read_api']);
        const commaQuery = await postQuery(t, 'POST', url, ROOT_TOKEN, { name: 'comma-q', scopes: 'read_api' } as any);
        assert.equal(commaQuery.status, 201, commaQuery.text);

        // Grape reads null as missing: while expiry is required (the default), that is the longest lifetime.
        const never = await t.call('POST', url, { token: ROOT_TOKEN, body: { name: 'forever', scopes: ['api'], expires_at: null } });
        assert.equal(never.status, 201);
        assert.equal(never.body.expires_at, '2027-06-01');

        for (const r of [json, f, q, comma, commaQuery, never]) {
          const me = await t.call('GET', `${API}/user`, { token: r.body.token });
          assert.equal(me.status, 200);
          assert.equal(me.body.username, 'alice');
        }
      });

      it('refuses bad parameters and writes nothing', async () => {
        const url = `${API}/users/${alice.user.id}/personal_access_tokens`;
        const cases: [unknown, number, unknown][] = [
          [{ scopes: ['api'] }, 400, { error: 'name is missing' }],
          [{ name: 'x' }, 400, { error: 'scopes is missing' }],
          [{ name: 'x', scopes: ['sudo'] }, 400, { error: 'scopes does not have a valid value' }],
          [{ name: 'x', scopes: ['api', 'write_everything'] }, 400, { error: 'scopes does not have a valid value' }],
          [{ name: 'x', scopes: 'api,nope' }, 400, { error: 'scopes does not have a valid value' }],
          [{ name: 'x', scopes: ['read_package_registry'] }, 400, { error: 'scopes does not have a valid value' }],
          [{ name: 'x', scopes: ['api'], expires_at: 'tomorrow' }, 400, { error: 'expires_at is invalid' }],
          [{ name: 'x', scopes: ['api'], expires_at: '2026-02-30' }, 400, { error: 'expires_at is invalid' }],
          [{ name: 'x', scopes: ['api'], expires_at: '2026-06-31' }, 400, { error: 'expires_at is invalid' }],
          [{ name: 'x', scopes: ['api'], expires_at: '2026-12-01T10:00:00Z' }, 400, { error: 'expires_at is invalid' }],
          [{ name: 'x', scopes: ['api'], expires_at: '2026-05-01' }, 400, { message: { expires_at: ['must be in the future'] } }],
          [{ name: 'x', scopes: ['api'], expires_at: '2026-06-01' }, 400, { message: { expires_at: ['must be in the future'] } }],
          [{ name: '  ', scopes: ['api'] }, 400, { message: { name: ["can't be blank"] } }],
        ];
        for (const [body, status, expected] of cases) {
          const r = await refusedWithoutWrites(t, () => t.call('POST', url, { token: ROOT_TOKEN, body }));
          assert.equal(r.status, status, JSON.stringify(body));
          assert.deepEqual(r.body, expected, JSON.stringify(body));
        }
        for (const body of [{ name: 'x', scopes: [] }, { name: 'x', scopes: '' }]) {
          const r = await refusedWithoutWrites(t, () => t.call('POST', url, { token: ROOT_TOKEN, body }));
          assert.equal(r.status, 400, JSON.stringify(body));
          assert.match(r.body.error, /^scopes /, JSON.stringify(body));
        }
        const formBad = await refusedWithoutWrites(t, () => postForm(t, 'POST', url, ROOT_TOKEN, { name: 'x', scopes: ['api', 'bogus'] }));
        assert.deepEqual(formBad.body, { error: 'scopes does not have a valid value' });
      });

      it('answers an unknown user with 404 and a bad id with 400', async () => {
        const missing = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/users/999999/personal_access_tokens`, { token: ROOT_TOKEN, body: { name: 'x', scopes: ['api'] } }),
        );
        assert.equal(missing.status, 404);
        assert.deepEqual(missing.body, { message: '404 User Not Found' });
        const bad = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/users/abc/personal_access_tokens`, { token: ROOT_TOKEN, body: { name: 'x', scopes: ['api'] } }),
        );
        assert.equal(bad.status, 400);
        assert.deepEqual(bad.body, { error: 'user_id is invalid' });
      });

      it('is for administrators only, checked before the parameters', async () => {
        for (const body of [{ name: 'x', scopes: ['api'] }, { scopes: ['nope'] }]) {
          const self = await refusedWithoutWrites(t, () =>
            t.call('POST', `${API}/users/${alice.user.id}/personal_access_tokens`, { token: alice.token, body }),
          );
          assert.equal(self.status, 403);
          assert.deepEqual(self.body, { message: '403 Forbidden' });
          const anon = await refusedWithoutWrites(t, () => t.call('POST', `${API}/users/${alice.user.id}/personal_access_tokens`, { body }));
          assert.equal(anon.status, 401);
          assert.deepEqual(anon.body, { message: '401 Unauthorized' });
        }
      });
    });

    describe('POST /user/personal_access_tokens', () => {
      it('lets a user create their own token', async () => {
        const r = await t.call('POST', `${API}/user/personal_access_tokens`, { token: bob.token, body: { name: 'mine', scopes: ['read_api'], expires_at: '2026-07-01' } });
        assert.equal(r.status, 201, r.text);
        assert.equal(r.body.user_id, bob.user.id);
        assert.deepEqual(r.body.scopes, ['read_api']);
        const me = await t.call('GET', `${API}/user`, { token: r.body.token });
        assert.equal(me.body.username, 'bob');
        const f = await postForm(t, 'POST', `${API}/user/personal_access_tokens`, bob.token, { name: 'mine-form', scopes: ['api', 'read_api'] });
        assert.equal(f.status, 201, f.text);
        assert.deepEqual(f.body.scopes, ['api', 'read_api']);
        assert.equal(f.body.user_id, bob.user.id);
        const q = await postQuery(t, 'POST', `${API}/user/personal_access_tokens`, bob.token, { name: 'mine-query', scopes: ['read_api'] });
        assert.equal(q.status, 201, q.text);
        assert.equal(q.body.user_id, bob.user.id);
      });

      it('refuses read_api tokens, anonymous callers and bad scopes', async () => {
        const readApi = await createPat(t, bob.user.id, ['read_api']);
        const scoped = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/user/personal_access_tokens`, { token: readApi, body: { name: 'escalate', scopes: ['api'] } }),
        );
        assert.equal(scoped.status, 403);
        assert.deepEqual(scoped.body, INSUFFICIENT_SCOPE);
        const anon = await refusedWithoutWrites(t, () => t.call('POST', `${API}/user/personal_access_tokens`, { body: { name: 'x', scopes: ['api'] } }));
        assert.equal(anon.status, 401);
        const bad = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/user/personal_access_tokens`, { token: bob.token, body: { name: 'x', scopes: ['k8s_proxy'] } }),
        );
        assert.equal(bad.status, 400);
        assert.deepEqual(bad.body, { error: 'scopes does not have a valid value' });
      });
    });

    describe('GET /personal_access_tokens', () => {
      it('shows a non-admin only their own tokens', async () => {
        const r = await t.call('GET', `${API}/personal_access_tokens?per_page=100`, { token: bob.token });
        assert.equal(r.status, 200);
        assert.ok(r.body.length >= 2);
        assert.ok(r.body.every((p: any) => p.user_id === bob.user.id));
        assert.ok(r.body.every((p: any) => !('token' in p)), 'secrets are shown only once');
        const own = await t.call('GET', `${API}/personal_access_tokens?user_id=${bob.user.id}`, { token: bob.token });
        assert.equal(own.status, 200);
        const other = await t.call('GET', `${API}/personal_access_tokens?user_id=${alice.user.id}`, { token: bob.token });
        assert.equal(other.status, 401);
        assert.deepEqual(other.body, { message: '401 Unauthorized' });
      });

      it('shows admins every token, filtered by user, state, revoked and name, with pagination', async () => {
        const all = await t.call('GET', `${API}/personal_access_tokens?per_page=100`, { token: ROOT_TOKEN });
        const users = new Set(all.body.map((p: any) => p.user_id));
        assert.ok(users.has(alice.user.id) && users.has(bob.user.id) && users.has(1));
        const alices = await t.call('GET', `${API}/personal_access_tokens?user_id=${alice.user.id}&per_page=2`, { token: ROOT_TOKEN });
        const aliceTotal = all.body.filter((p: any) => p.user_id === alice.user.id).length;
        assertPagination(alices, { page: 1, perPage: 2, total: aliceTotal, totalPages: Math.ceil(aliceTotal / 2), next: 2, prev: null });
        const unknown = await t.call('GET', `${API}/personal_access_tokens?user_id=999999`, { token: ROOT_TOKEN });
        assert.equal(unknown.status, 404);
        assert.deepEqual(unknown.body, { message: '404 User Not Found' });
        const search = await t.call('GET', `${API}/personal_access_tokens?search=COMMA`, { token: ROOT_TOKEN });
        assert.deepEqual(search.body.map((p: any) => p.name).sort(), ['comma', 'comma-q']);
        await createPat(t, bob.user.id, ['api'], { name: 'ci_deploy' });
        await createPat(t, bob.user.id, ['api'], { name: 'ciXdeploy' });
        const underscore = await t.call('GET', `${API}/personal_access_tokens?search=i_d`, { token: ROOT_TOKEN });
        assert.deepEqual(underscore.body.map((p: any) => p.name), ['ci_deploy'], 'a LIKE wildcard is taken literally');
        const bad = await t.call('GET', `${API}/personal_access_tokens?state=dormant`, { token: ROOT_TOKEN });
        assert.equal(bad.status, 400);
        assert.deepEqual(bad.body, { error: 'state does not have a valid value' });
        const badBool = await t.call('GET', `${API}/personal_access_tokens?revoked=sometimes`, { token: ROOT_TOKEN });
        assert.equal(badBool.status, 400);
        assert.deepEqual(badBool.body, { error: 'revoked is invalid' });
      });

      it('shows one token to its owner or an admin; 401 to anyone else, 404 to admins for a missing one', async () => {
        const list = await t.call('GET', `${API}/personal_access_tokens`, { token: alice.token });
        const id = list.body[0].id;
        const own = await t.call('GET', `${API}/personal_access_tokens/${id}`, { token: alice.token });
        assert.equal(own.status, 200);
        assert.equal(own.body.id, id);
        const admin = await t.call('GET', `${API}/personal_access_tokens/${id}`, { token: ROOT_TOKEN });
        assert.equal(admin.status, 200);
        const other = await t.call('GET', `${API}/personal_access_tokens/${id}`, { token: bob.token });
        assert.equal(other.status, 401);
        assert.deepEqual(other.body, { message: '401 Unauthorized' });
        const missingUser = await t.call('GET', `${API}/personal_access_tokens/999999`, { token: bob.token });
        assert.equal(missingUser.status, 401);
        const missingAdmin = await t.call('GET', `${API}/personal_access_tokens/999999`, { token: ROOT_TOKEN });
        assert.equal(missingAdmin.status, 404);
        assert.deepEqual(missingAdmin.body, { message: '404 Not found' });
        const bad = await t.call('GET', `${API}/personal_access_tokens/abc`, { token: ROOT_TOKEN });
        assert.equal(bad.status, 400);
        assert.deepEqual(bad.body, { error: 'token_id is invalid' });
        const anon = await t.call('GET', `${API}/personal_access_tokens/${id}`);
        assert.equal(anon.status, 401);
      });

      it('GET /personal_access_tokens/self describes the token in use', async () => {
        const token = await createPat(t, alice.user.id, ['read_api']);
        const r = await t.call('GET', `${API}/personal_access_tokens/self`, { token });
        assert.equal(r.status, 200);
        assert.equal(r.body.user_id, alice.user.id);
        assert.deepEqual(r.body.scopes, ['read_api']);
        const anon = await t.call('GET', `${API}/personal_access_tokens/self`);
        assert.equal(anon.status, 401);
      });
    });

    describe('revocation and expiry', () => {
      it('a revoked token answers 401 on its next request and shows as revoked', async () => {
        const created = await t.call('POST', `${API}/users/${alice.user.id}/personal_access_tokens`, { token: ROOT_TOKEN, body: { name: 'to-revoke', scopes: ['api'] } });
        const token = created.body.token;
        assert.equal((await t.call('GET', `${API}/user`, { token })).status, 200);
        const del = await t.call('DELETE', `${API}/personal_access_tokens/${created.body.id}`, { token: alice.token });
        assert.equal(del.status, 204);
        assert.equal(del.text, '');
        const after = await t.call('GET', `${API}/user`, { token });
        assert.equal(after.status, 401);
        assert.equal(after.body.message, '401 Unauthorized');
        assert.equal(after.body.error, 'invalid_token');
        assert.match(after.body.error_description, /revoked/);
        const shown = await t.call('GET', `${API}/personal_access_tokens/${created.body.id}`, { token: ROOT_TOKEN });
        assert.equal(shown.body.revoked, true);
        assert.equal(shown.body.active, false);
        const revokedList = await t.call('GET', `${API}/personal_access_tokens?revoked=true&user_id=${alice.user.id}`, { token: ROOT_TOKEN });
        assert.deepEqual(revokedList.body.map((p: any) => p.id), [created.body.id]);
        const inactive = await t.call('GET', `${API}/personal_access_tokens?state=inactive&user_id=${alice.user.id}`, { token: ROOT_TOKEN });
        assert.ok(inactive.body.some((p: any) => p.id === created.body.id));
        const active = await t.call('GET', `${API}/personal_access_tokens?state=active&user_id=${alice.user.id}`, { token: ROOT_TOKEN });
        assert.ok(!active.body.some((p: any) => p.id === created.body.id));
      });

      it('refuses to revoke someone else’s token with GitLab’s 400, and the token keeps working', async () => {
        const created = await t.call('POST', `${API}/users/${alice.user.id}/personal_access_tokens`, { token: ROOT_TOKEN, body: { name: 'keep', scopes: ['api'] } });
        const r = await t.call('DELETE', `${API}/personal_access_tokens/${created.body.id}`, { token: bob.token });
        assert.equal(r.status, 400);
        assert.deepEqual(r.body, { message: '400 Bad request - Not permitted to revoke' });
        assert.equal((await t.call('GET', `${API}/user`, { token: created.body.token })).status, 200);
        const missing = await t.call('DELETE', `${API}/personal_access_tokens/999999`, { token: bob.token });
        assert.equal(missing.status, 404);
        assert.deepEqual(missing.body, { message: '404 Not found' });
        const bad = await t.call('DELETE', `${API}/personal_access_tokens/abc`, { token: bob.token });
        assert.equal(bad.status, 400);
        assert.deepEqual(bad.body, { error: 'token_id is invalid' });
        const anon = await t.call('DELETE', `${API}/personal_access_tokens/${created.body.id}`);
        assert.equal(anon.status, 401);
        const admin = await t.call('DELETE', `${API}/personal_access_tokens/${created.body.id}`, { token: ROOT_TOKEN });
        assert.equal(admin.status, 204, 'admins may revoke any token');
        assert.equal((await t.call('GET', `${API}/user`, { token: created.body.token })).status, 401);
      });

      it('DELETE /personal_access_tokens/self revokes the token in use; read_api tokens may not', async () => {
        const readApi = await createPat(t, bob.user.id, ['read_api']);
        const scoped = await t.call('DELETE', `${API}/personal_access_tokens/self`, { token: readApi });
        assert.equal(scoped.status, 403);
        assert.deepEqual(scoped.body, INSUFFICIENT_SCOPE);
        assert.equal((await t.call('GET', `${API}/user`, { token: readApi })).status, 200);
        const token = await createPat(t, bob.user.id, ['api']);
        const r = await t.call('DELETE', `${API}/personal_access_tokens/self`, { token });
        assert.equal(r.status, 204);
        assert.equal((await t.call('GET', `${API}/user`, { token })).status, 401);
      });

      it('an expired token answers 401', async () => {
        const created = await t.call('POST', `${API}/users/${bob.user.id}/personal_access_tokens`, {
          token: ROOT_TOKEN,
          body: { name: 'short-lived', scopes: ['api'], expires_at: '2026-06-03' },
        });
        assert.equal(created.status, 201);
        const token = created.body.token;
        assert.equal((await t.call('GET', `${API}/user`, { token })).status, 200);
        clock.advance(1 * DAY);
        assert.equal((await t.call('GET', `${API}/user`, { token })).status, 200, 'the day before its expiry date it still works');
        clock.advance(2 * DAY);
        const r = await t.call('GET', `${API}/user`, { token });
        assert.equal(r.status, 401);
        assert.equal(r.body.error, 'invalid_token');
        assert.match(r.body.error_description, /expired/);
        const shown = await t.call('GET', `${API}/personal_access_tokens/${created.body.id}`, { token: ROOT_TOKEN });
        assert.equal(shown.body.active, false);
        assert.equal(shown.body.revoked, false);
        const inactive = await t.call('GET', `${API}/personal_access_tokens?state=inactive&user_id=${bob.user.id}`, { token: ROOT_TOKEN });
        assert.ok(inactive.body.some((p: any) => p.id === created.body.id));
      });
    });
  });

  describe(`management API: deploy tokens [${dialect}]`, () => {
    let t: TestApp;
    const clock = new TestClock('2026-06-01T12:00:00.000Z');
    let group: Created;
    let project: Created;
    let otherProject: Created;
    let maintainer: { user: Created; token: string };
    let developer: { user: Created; token: string };
    let outsider: { user: Created; token: string };

    before(async () => {
      t = await startApp(dialect, { clock });
      group = await createGroup(t, 'deploy-group');
      project = await createProject(t, 'app', group.id);
      otherProject = await createProject(t, 'other', group.id);
      maintainer = await userWithToken(t, 'maintainer');
      developer = await userWithToken(t, 'developer');
      outsider = await userWithToken(t, 'outsider');
      await addMember(t, 'groups', group.id, maintainer.user.id, 40);
      await addMember(t, 'groups', group.id, developer.user.id, 30);
    });
    after(async () => t.close());

    it('creates project and group deploy tokens from JSON, form fields, the query string and comma lists', async () => {
      const json = await t.call('POST', `${API}/projects/${project.id}/deploy_tokens`, {
        token: maintainer.token,
        body: { name: 'json', scopes: ['read_package_registry'], expires_at: '2026-06-05T00:00:00Z', username: 'ci-bot' },
      });
      assert.equal(json.status, 201, json.text);
      assert.deepEqual(Object.keys(json.body).sort(), ['expired', 'expires_at', 'id', 'name', 'revoked', 'scopes', 'token', 'username']);
      assert.equal(json.body.username, 'ci-bot');
      assert.equal(json.body.expires_at, '2026-06-05T00:00:00.000Z');
      assert.deepEqual(json.body.scopes, ['read_package_registry']);
      assert.equal(json.body.expired, false);

      const f = await postForm(t, 'POST', `${API}/projects/deploy-group%2Fapp/deploy_tokens`, ROOT_TOKEN, {
        name: 'form',
        scopes: ['read_package_registry', 'write_package_registry'],
      });
      assert.equal(f.status, 201, f.text);
      assert.equal(f.body.username, `gitlab+deploy-token-${f.body.id}`);
      assert.equal(f.body.expires_at, null);
      const q = await postQuery(t, 'POST', `${API}/projects/${project.id}/deploy_tokens`, ROOT_TOKEN, { name: 'query', scopes: 'read_package_registry,write_package_registry' } as any);
      assert.equal(q.status, 201, q.text);
      assert.deepEqual(q.body.scopes, ['read_package_registry', 'write_package_registry']);
      const g = await t.call('POST', `${API}/groups/${group.id}/deploy_tokens`, { token: ROOT_TOKEN, body: { name: 'group', scopes: ['read_package_registry'] } });
      assert.equal(g.status, 201, g.text);
      const dateOnly = await t.call('POST', `${API}/groups/deploy-group/deploy_tokens`, { token: ROOT_TOKEN, body: { name: 'date', scopes: ['read_package_registry'], expires_at: '2027-01-01' } });
      assert.equal(dateOnly.status, 201, dateOnly.text);
      assert.equal(dateOnly.body.expires_at, '2027-01-01T00:00:00.000Z');
    });

    it('refuses bad parameters and writes nothing', async () => {
      const cases: [unknown, unknown][] = [
        [{ scopes: ['read_package_registry'] }, { error: 'name is missing' }],
        [{ name: 'x' }, { error: 'scopes is missing' }],
        [{ name: 'x', scopes: ['api'] }, { error: 'scopes does not have a valid value' }],
        [{ name: 'x', scopes: 'read_package_registry,read_everything' }, { error: 'scopes does not have a valid value' }],
        [{ name: 'x', scopes: ['read_package_registry'], expires_at: 'soon' }, { error: 'expires_at is invalid' }],
        [{ name: 'x', scopes: ['read_package_registry'], expires_at: '2026-02-30' }, { error: 'expires_at is invalid' }],
        [{ name: 'x', scopes: ['read_package_registry'], expires_at: '2026-06-03 10:00' }, { error: 'expires_at is invalid' }],
        [{ name: 'x', scopes: ['read_package_registry'], expires_at: '2026-05-01' }, { message: { expires_at: ['must be in the future'] } }],
        [{ name: ' ', scopes: ['read_package_registry'] }, { message: { name: ["can't be blank"] } }],
        [
          { name: 'x', scopes: ['read_package_registry'], username: 'bad name!' },
          { message: { username: ["can contain only letters, digits, '_', '-', '+', and '.'"] } },
        ],
      ];
      for (const kind of ['projects', 'groups'] as const) {
        const id = kind === 'projects' ? project.id : group.id;
        for (const [body, expected] of cases) {
          const r = await refusedWithoutWrites(t, () => t.call('POST', `${API}/${kind}/${id}/deploy_tokens`, { token: ROOT_TOKEN, body }));
          assert.equal(r.status, 400, `${kind} ${JSON.stringify(body)}`);
          assert.deepEqual(r.body, expected, `${kind} ${JSON.stringify(body)}`);
        }
      }
    });

    it('needs Maintainer: 403 for a Developer, 404 for strangers and unknown ids, 401 for anonymous', async () => {
      const body = { name: 'x', scopes: ['read_package_registry'] };
      const cases: [string, string | undefined, number, unknown][] = [
        [`projects/${project.id}`, developer.token, 403, { message: '403 Forbidden' }],
        [`groups/${group.id}`, developer.token, 403, { message: '403 Forbidden' }],
        [`projects/${project.id}`, outsider.token, 404, { message: '404 Project Not Found' }],
        [`groups/${group.id}`, outsider.token, 404, { message: '404 Group Not Found' }],
        ['projects/999999', ROOT_TOKEN, 404, { message: '404 Project Not Found' }],
        ['groups/no-such-group', ROOT_TOKEN, 404, { message: '404 Group Not Found' }],
        [`projects/${project.id}`, undefined, 401, { message: '401 Unauthorized' }],
      ];
      for (const [path, token, status, expected] of cases) {
        const post = await refusedWithoutWrites(t, () => t.call('POST', `${API}/${path}/deploy_tokens`, { token, body }));
        assert.equal(post.status, status, `POST ${path}`);
        assert.deepEqual(post.body, expected, `POST ${path}`);
        if (token !== undefined) {
          const list = await t.call('GET', `${API}/${path}/deploy_tokens`, { token });
          assert.equal(list.status, status, `GET ${path}`);
        }
      }
    });

    it('lists with pagination and the active filter, and shows one token', async () => {
      const all = await t.call('GET', `${API}/projects/${project.id}/deploy_tokens`, { token: maintainer.token });
      assert.equal(all.status, 200);
      const total = all.body.length;
      assert.equal(total, 3);
      assert.ok(all.body.every((d: any) => !('token' in d)));
      const page = await t.call('GET', `${API}/projects/${project.id}/deploy_tokens?per_page=2&page=2`, { token: maintainer.token });
      assertPagination(page, { page: 2, perPage: 2, total, totalPages: 2, next: null, prev: 1 });
      assert.deepEqual(
        page.body.map((d: any) => d.id),
        [all.body[2].id],
      );
      const one = await t.call('GET', `${API}/projects/${project.id}/deploy_tokens/${all.body[0].id}`, { token: maintainer.token });
      assert.equal(one.status, 200);
      assert.deepEqual(one.body, all.body[0]);
      const elsewhere = await t.call('GET', `${API}/projects/${otherProject.id}/deploy_tokens/${all.body[0].id}`, { token: ROOT_TOKEN });
      assert.equal(elsewhere.status, 404, 'a token is reachable only through its own project');
      assert.deepEqual(elsewhere.body, { message: '404 Not found' });
      const groupTokens = await t.call('GET', `${API}/groups/${group.id}/deploy_tokens`, { token: maintainer.token });
      assert.deepEqual(groupTokens.body.map((d: any) => d.name), ['group', 'date']);
      const viaGroup = await t.call('GET', `${API}/groups/${group.id}/deploy_tokens/${all.body[0].id}`, { token: ROOT_TOKEN });
      assert.equal(viaGroup.status, 404);
      const bad = await t.call('GET', `${API}/projects/${project.id}/deploy_tokens/abc`, { token: ROOT_TOKEN });
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body, { error: 'token_id is invalid' });

      clock.advance(5 * 86_400_000);
      const active = await t.call('GET', `${API}/projects/${project.id}/deploy_tokens?active=true`, { token: maintainer.token });
      assert.deepEqual(active.body.map((d: any) => d.name), ['form', 'query'], 'the expired token is not active');
      const expired = await t.call('GET', `${API}/projects/${project.id}/deploy_tokens/${all.body[0].id}`, { token: maintainer.token });
      assert.equal(expired.body.expired, true);
    });

    it('deleting a deploy token answers 204 and the token stops working at once', async () => {
      const created = await t.call('POST', `${API}/projects/${project.id}/deploy_tokens`, { token: ROOT_TOKEN, body: { name: 'doomed', scopes: ['read_package_registry'] } });
      assert.equal(created.status, 201);
      // Deploy tokens authenticate package routes only; probe them the way those routes resolve credentials.
      const resolveWith = (headers: Record<string, string>) => t.deps.services.identity.resolve(extractCredential(headers, {}, 'standard'));
      const before = await resolveWith({ 'deploy-token': created.body.token });
      assert.equal(before.kind, 'deploy_token', 'a live deploy token authenticates');
      assert.equal((await t.call('GET', `${API}/projects`, { headers: { 'deploy-token': created.body.token } })).status, 401, 'but not on the management API');
      const dev = await t.call('DELETE', `${API}/projects/${project.id}/deploy_tokens/${created.body.id}`, { token: developer.token });
      assert.equal(dev.status, 403);
      const del = await t.call('DELETE', `${API}/projects/${project.id}/deploy_tokens/${created.body.id}`, { token: maintainer.token });
      assert.equal(del.status, 204);
      assert.equal(del.text, '');
      t.deps.services.identity.forgetAll();
      await assert.rejects(resolveWith({ 'deploy-token': created.body.token }), (err: unknown) => err instanceof AppError && err.status === 401);
      await assert.rejects(
        resolveWith({ authorization: `Basic ${Buffer.from(`x:${created.body.token}`).toString('base64')}` }),
        (err: unknown) => err instanceof AppError && err.status === 401,
      );
      const get = await t.call('GET', `${API}/projects/${project.id}/deploy_tokens/${created.body.id}`, { token: maintainer.token });
      assert.equal(get.status, 404);
      assert.deepEqual(get.body, { message: '404 Not found' });
      const list = await t.call('GET', `${API}/projects/${project.id}/deploy_tokens`, { token: maintainer.token });
      assert.ok(!list.body.some((d: any) => d.id === created.body.id));
      const again = await t.call('DELETE', `${API}/projects/${project.id}/deploy_tokens/${created.body.id}`, { token: maintainer.token });
      assert.equal(again.status, 404);
      const groupToken = (await t.call('GET', `${API}/groups/${group.id}/deploy_tokens`, { token: ROOT_TOKEN })).body[0];
      const wrongOwner = await t.call('DELETE', `${API}/projects/${project.id}/deploy_tokens/${groupToken.id}`, { token: ROOT_TOKEN });
      assert.equal(wrongOwner.status, 404, 'a group token cannot be deleted through a project');
      const groupDel = await t.call('DELETE', `${API}/groups/${group.id}/deploy_tokens/${groupToken.id}`, { token: ROOT_TOKEN });
      assert.equal(groupDel.status, 204);
    });
  });
}
