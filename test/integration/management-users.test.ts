/** `POST /users`, `GET /users`, `GET /users/:id`, `GET /user`: GitLab's statuses, entities and error bodies. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import {
  API,
  assertPagination,
  createGroup,
  createPat,
  createUser,
  postForm,
  postQuery,
  refusedWithoutWrites,
  routeExists,
  userWithToken,
} from '../helpers/management.js';

const NAMESPACE_FORMAT = "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-' or end in '.', '.git' or '.atom'.";
const OCI_FORMAT =
  "can only include non-accented letters, digits, '_', '-' and '.'. It must not start with '-', '_', or '.', nor end with '-', '_', '.', '.git', or '.atom'.";

const valid = (username: string) => ({ username, name: `${username} name`, email: `${username}@example.com`, password: 'long-enough-1' });

for (const dialect of DIALECTS) {
  describe(`management API: users [${dialect}]`, () => {
    let t: TestApp;
    let plain: { user: any; token: string };

    before(async () => {
      t = await startApp(dialect);
      plain = await userWithToken(t, 'plain');
    });
    after(async () => t.close());

    describe('POST /users', () => {
      it('creates a user from JSON with 201 and the UserWithAdmin entity, and their personal namespace', async () => {
        const r = await t.call('POST', `${API}/users`, { token: ROOT_TOKEN, body: valid('json-user') });
        assert.equal(r.status, 201, r.text);
        assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
        const u = r.body;
        assert.equal(typeof u.id, 'number');
        assert.equal(u.username, 'json-user');
        assert.equal(u.name, 'json-user name');
        assert.equal(u.email, 'json-user@example.com');
        assert.equal(u.state, 'active');
        assert.equal(u.locked, false);
        assert.equal(u.avatar_url, null);
        assert.equal(u.web_url, 'http://wharf.test/json-user');
        assert.equal(u.is_admin, false);
        assert.equal(u.bot, false);
        assert.equal(u.external, false);
        assert.deepEqual(u.identities, []);
        assert.equal(typeof u.namespace_id, 'number');
        assert.match(u.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        for (const secret of ['password', 'password_hash']) assert.equal(secret in u, false);
        assert.equal(await routeExists(t, 'json-user'), true);

        // The personal namespace takes projects of its owner.
        const token = await createPat(t, u.id);
        const p = await t.call('POST', `${API}/projects`, { token, body: { name: 'dotfiles' } });
        assert.equal(p.status, 201, p.text);
        assert.equal(p.body.path_with_namespace, 'json-user/dotfiles');
        assert.equal(p.body.namespace.kind, 'user');
        assert.equal(p.body.namespace.id, u.namespace_id);
      });

      it('accepts form fields and query-string parameters', async () => {
        const f = await postForm(t, 'POST', `${API}/users`, ROOT_TOKEN, { ...valid('form-user'), admin: 'true' } as any);
        assert.equal(f.status, 201, f.text);
        assert.equal(f.body.username, 'form-user');
        assert.equal(f.body.is_admin, true);
        const q = await postQuery(t, 'POST', `${API}/users`, ROOT_TOKEN, valid('query-user'));
        assert.equal(q.status, 201, q.text);
        assert.equal(q.body.username, 'query-user');
        assert.equal(q.body.is_admin, false);
      });

      it('accepts reset_password or force_random_password instead of a password', async () => {
        for (const [username, extra] of [
          ['reset-user', { reset_password: true }],
          ['random-user', { force_random_password: true }],
        ] as const) {
          const { password: _, ...rest } = valid(username);
          const r = await t.call('POST', `${API}/users`, { token: ROOT_TOKEN, body: { ...rest, ...extra } });
          assert.equal(r.status, 201, r.text);
        }
      });

      it('refuses missing parameters with Grape’s message and writes nothing', async () => {
        for (const field of ['email', 'name', 'username'] as const) {
          const body: Record<string, string> = { ...valid(`missing-${field}`) };
          delete body[field];
          const r = await refusedWithoutWrites(t, () => t.call('POST', `${API}/users`, { token: ROOT_TOKEN, body }));
          assert.equal(r.status, 400);
          assert.deepEqual(r.body, { error: `${field} is missing` });
        }
        const { password: _, ...noPassword } = valid('no-password');
        const r = await refusedWithoutWrites(t, () => t.call('POST', `${API}/users`, { token: ROOT_TOKEN, body: noPassword }));
        assert.equal(r.status, 400);
        assert.deepEqual(r.body, { error: 'password, reset_password, force_random_password are missing, at least one parameter must be provided' });
        assert.equal(await routeExists(t, 'no-password'), false);
        const empty = await refusedWithoutWrites(t, () => t.call('POST', `${API}/users`, { token: ROOT_TOKEN }));
        assert.equal(empty.status, 400);
        assert.match(empty.body.error, /is missing/);
      });

      it('refuses wrong types', async () => {
        const r = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/users`, { token: ROOT_TOKEN, body: { ...valid('typed'), admin: 'maybe' } }),
        );
        assert.equal(r.status, 400);
        assert.deepEqual(r.body, { error: 'admin is invalid' });
        const obj = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/users`, { token: ROOT_TOKEN, body: { ...valid('typed2'), username: { a: 1 } } }),
        );
        assert.equal(obj.status, 400);
        assert.deepEqual(obj.body, { error: 'username is invalid' });
        const notJson = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/users`, { token: ROOT_TOKEN, body: '{"username":', headers: { 'content-type': 'application/json' } }),
        );
        assert.equal(notJson.status, 400);
        assert.equal(typeof notJson.body.message, 'string');
      });

      it('answers a duplicate e-mail or username with GitLab’s 409 sentences, case-insensitively', async () => {
        await createUser(t, 'taken');
        const email = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/users`, { token: ROOT_TOKEN, body: { ...valid('other-name'), email: 'TAKEN@example.com' } }),
        );
        assert.equal(email.status, 409);
        assert.deepEqual(email.body, { message: 'Email has already been taken' });
        assert.equal(await routeExists(t, 'other-name'), false, 'no namespace was left behind');

        const username = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/users`, { token: ROOT_TOKEN, body: { ...valid('Taken'), email: 'fresh@example.com' } }),
        );
        assert.equal(username.status, 409);
        assert.deepEqual(username.body, { message: 'Username has already been taken' });

        // GitLab checks the duplicates before anything else.
        const both = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/users`, { token: ROOT_TOKEN, body: { ...valid('taken'), password: 'short' } }),
        );
        assert.equal(both.status, 409);
        assert.deepEqual(both.body, { message: 'Email has already been taken' });
      });

      it('refuses a username that a group already holds (GitLab’s namespace uniqueness, 400)', async () => {
        await createGroup(t, 'groupname');
        const r = await refusedWithoutWrites(t, () => t.call('POST', `${API}/users`, { token: ROOT_TOKEN, body: valid('GroupName') }));
        assert.equal(r.status, 400);
        assert.deepEqual(r.body, { message: { username: ['has already been taken'] } });
      });

      it('applies GitLab’s path rules to usernames and writes nothing', async () => {
        const cases: [string, string[]][] = [
          ['admin', ['admin is a reserved name']],
          ['API', ['API is a reserved name']],
          ['users', ['users is a reserved name']],
          ['test!', [NAMESPACE_FORMAT, OCI_FORMAT]],
          ['-foo', [NAMESPACE_FORMAT, OCI_FORMAT]],
          ['foo.', [NAMESPACE_FORMAT, OCI_FORMAT]],
          ['foo.git', [NAMESPACE_FORMAT]],
          ['foo.atom', [NAMESPACE_FORMAT]],
          ['a..b', [OCI_FORMAT]],
          ['a__b', [OCI_FORMAT]],
          ['_foo', [OCI_FORMAT]],
          ['a', ['is too short (minimum is 2 characters)']],
          ['-', [NAMESPACE_FORMAT, OCI_FORMAT, 'is too short (minimum is 2 characters)']],
          ['a'.repeat(256), ['is too long (maximum is 255 characters)']],
          ['ünï', [NAMESPACE_FORMAT, OCI_FORMAT]],
        ];
        for (const [username, messages] of cases) {
          const r = await refusedWithoutWrites(t, () =>
            t.call('POST', `${API}/users`, { token: ROOT_TOKEN, body: { ...valid('x'), username, email: 'rules@example.com' } }),
          );
          assert.equal(r.status, 400, username);
          assert.deepEqual(r.body, { message: { username: messages } }, username);
        }
        assert.equal(await routeExists(t, 'admin'), false);
      });

      it('validates e-mail, name and password as model errors', async () => {
        const email = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/users`, { token: ROOT_TOKEN, body: { ...valid('bad-email'), email: 'not-an-email' } }),
        );
        assert.equal(email.status, 400);
        assert.deepEqual(email.body, { message: { email: ['is invalid'] } });
        assert.equal(await routeExists(t, 'bad-email'), false);

        const password = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/users`, { token: ROOT_TOKEN, body: { ...valid('short-pw'), password: 'short' } }),
        );
        assert.equal(password.status, 400);
        assert.deepEqual(password.body, { message: { password: ['is too short (minimum is 8 characters)'] } });

        const name = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/users`, { token: ROOT_TOKEN, body: { ...valid('blank-name'), name: '   ' } }),
        );
        assert.equal(name.status, 400);
        assert.deepEqual(name.body, { message: { name: ["can't be blank"] } });

        const several = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/users`, { token: ROOT_TOKEN, body: { username: 'admin', name: 'x', email: 'nope', password: 'short' } }),
        );
        assert.equal(several.status, 400);
        assert.deepEqual(several.body, {
          message: {
            username: ['admin is a reserved name'],
            email: ['is invalid'],
            password: ['is too short (minimum is 8 characters)'],
          },
        });

        // After refusals, the same username is still free.
        const ok = await t.call('POST', `${API}/users`, { token: ROOT_TOKEN, body: valid('bad-email') });
        assert.equal(ok.status, 201);
      });

      it('is for administrators only: 403 for others, 401 for anonymous, whatever the parameters', async () => {
        for (const body of [valid('sneaky'), {}]) {
          const user = await refusedWithoutWrites(t, () => t.call('POST', `${API}/users`, { token: plain.token, body }));
          assert.equal(user.status, 403);
          assert.deepEqual(user.body, { message: '403 Forbidden' });
          const anon = await refusedWithoutWrites(t, () => t.call('POST', `${API}/users`, { body }));
          assert.equal(anon.status, 401);
          assert.deepEqual(anon.body, { message: '401 Unauthorized' });
        }
        const readApi = await createPat(t, 1, ['read_api']);
        const scoped = await refusedWithoutWrites(t, () => t.call('POST', `${API}/users`, { token: readApi, body: valid('scoped') }));
        assert.equal(scoped.status, 403);
        assert.deepEqual(scoped.body, {
          error: 'insufficient_scope',
          error_description: 'The request requires higher privileges than provided by the access token.',
          scope: 'api',
        });
      });
    });

    describe('GET /users', () => {
      it('lists users with the admin entity for admins and the basic one for others', async () => {
        const admin = await t.call('GET', `${API}/users?username=plain`, { token: ROOT_TOKEN });
        assert.equal(admin.status, 200);
        assert.equal(admin.body.length, 1);
        assert.equal(admin.body[0].email, 'plain@example.com');
        assert.equal(admin.body[0].is_admin, false);

        const user = await t.call('GET', `${API}/users?username=PLAIN`, { token: plain.token });
        assert.equal(user.status, 200);
        assert.deepEqual(user.body, [
          { id: plain.user.id, username: 'plain', name: 'plain name', state: 'active', locked: false, avatar_url: null, web_url: 'http://wharf.test/plain' },
        ]);
      });

      it('lets anonymous callers look up one username only', async () => {
        const r = await t.call('GET', `${API}/users`);
        assert.equal(r.status, 403);
        assert.deepEqual(r.body, { message: '403 Forbidden - Not authorized to access /api/v4/users' });
        const one = await t.call('GET', `${API}/users?username=plain`);
        assert.equal(one.status, 200);
        assert.equal(one.body.length, 1);
        assert.equal('email' in one.body[0], false);
        const none = await t.call('GET', `${API}/users?username=nobody-here`);
        assert.equal(none.status, 200);
        assert.deepEqual(none.body, []);
      });

      it('searches username, name and e-mail, treating LIKE wildcards literally', async () => {
        await createUser(t, 'under_score');
        await createUser(t, 'underXscore');
        const r = await t.call('GET', `${API}/users?search=under_s`, { token: ROOT_TOKEN });
        assert.equal(r.status, 200);
        assert.deepEqual(r.body.map((u: any) => u.username), ['under_score']);
        const pct = await t.call('GET', `${API}/users?search=%25`, { token: ROOT_TOKEN });
        assert.deepEqual(pct.body, []);
      });

      it('paginates with GitLab’s headers and caps per_page at 100', async () => {
        const all = await t.call('GET', `${API}/users?per_page=100`, { token: ROOT_TOKEN });
        const total = all.body.length;
        assert.ok(total >= 5);
        const totalPages = Math.ceil(total / 2);
        const first = await t.call('GET', `${API}/users?per_page=2`, { token: ROOT_TOKEN });
        assert.equal(first.body.length, 2);
        assertPagination(first, { page: 1, perPage: 2, total, totalPages, next: 2, prev: null });
        const second = await t.call('GET', `${API}/users?per_page=2&page=2&search=`, { token: ROOT_TOKEN });
        assertPagination(second, { page: 2, perPage: 2, total, totalPages, next: totalPages > 2 ? 3 : null, prev: 1 });
        assert.notDeepEqual(
          second.body.map((u: any) => u.id),
          first.body.map((u: any) => u.id),
        );
        const last = await t.call('GET', `${API}/users?per_page=2&page=${totalPages}`, { token: ROOT_TOKEN });
        assertPagination(last, { page: totalPages, perPage: 2, total, totalPages, next: null, prev: totalPages - 1 });
        const past = await t.call('GET', `${API}/users?per_page=2&page=${totalPages + 5}`, { token: ROOT_TOKEN });
        assert.deepEqual(past.body, []);
        assertPagination(past, { page: totalPages + 5, perPage: 2, total, totalPages, next: null, prev: null });
        const far = await t.call('GET', `${API}/users?per_page=100&page=90000000000000`, { token: ROOT_TOKEN });
        assert.equal(far.status, 200);
        assert.deepEqual(far.body, []);
        const huge = await t.call('GET', `${API}/users?per_page=1e300`, { token: ROOT_TOKEN });
        assert.equal(huge.status, 200);
        assert.equal(huge.headers['x-per-page'], '100');
        const capped = await t.call('GET', `${API}/users?per_page=1000`, { token: ROOT_TOKEN });
        assert.equal(capped.status, 200);
        assertPagination(capped, { page: 1, perPage: 100, total, totalPages: 1, next: null, prev: null });
        assert.equal(capped.body.length, total);
      });

      it('keeps a query-string token out of the Link header', async () => {
        const r = await t.call('GET', `${API}/users?per_page=1&private_token=${ROOT_TOKEN}&search=e`);
        assert.equal(r.status, 200);
        assert.ok(!String(r.headers.link).includes(ROOT_TOKEN), String(r.headers.link));
        assert.ok(String(r.headers.link).includes('search=e'));
      });

      it('refuses bad pagination parameters with Grape’s messages', async () => {
        const cases: [string, string][] = [
          ['page=0', 'page does not have a valid value'],
          ['per_page=0', 'per_page does not have a valid value'],
          ['per_page=-1', 'per_page does not have a valid value'],
          ['page=abc', 'page is invalid'],
          ['per_page=1.5', 'per_page is invalid'],
          // An OFFSET past the integer range would be a database error; GitLab's shape instead of a 500.
          ['page=1e300', 'page does not have a valid value'],
          ['page=99999999999999999999', 'page does not have a valid value'],
        ];
        for (const [query, error] of cases) {
          const r = await t.call('GET', `${API}/users?${query}`, { token: ROOT_TOKEN });
          assert.equal(r.status, 400, query);
          assert.deepEqual(r.body, { error }, query);
        }
      });
    });

    describe('GET /users/:id and GET /user', () => {
      it('shows one user; 404 for an unknown id; 400 for a non-numeric one', async () => {
        const admin = await t.call('GET', `${API}/users/${plain.user.id}`, { token: ROOT_TOKEN });
        assert.equal(admin.status, 200);
        assert.equal(admin.body.email, 'plain@example.com');
        const other = await t.call('GET', `${API}/users/${plain.user.id}`, { token: plain.token });
        assert.equal(other.status, 200);
        assert.equal(other.body.username, 'plain');
        for (const id of ['999999', '0']) {
          const r = await t.call('GET', `${API}/users/${id}`, { token: ROOT_TOKEN });
          assert.equal(r.status, 404, id);
          assert.deepEqual(r.body, { message: '404 User Not Found' });
        }
        const bad = await t.call('GET', `${API}/users/abc`, { token: ROOT_TOKEN });
        assert.equal(bad.status, 400);
        assert.deepEqual(bad.body, { error: 'user_id is invalid' });
      });

      it('GET /user answers with the caller; admins get the admin fields', async () => {
        const root = await t.call('GET', `${API}/user`, { token: ROOT_TOKEN });
        assert.equal(root.status, 200);
        assert.equal(root.body.username, 'root');
        assert.equal(root.body.is_admin, true);
        const me = await t.call('GET', `${API}/user`, { token: plain.token });
        assert.equal(me.status, 200);
        assert.equal(me.body.id, plain.user.id);
        assert.equal('is_admin' in me.body, false);
        const anon = await t.call('GET', `${API}/user`);
        assert.equal(anon.status, 401);
        assert.deepEqual(anon.body, { message: '401 Unauthorized' });
        const unknown = await t.call('GET', `${API}/user`, { token: 'whpat-not-a-real-token' });
        assert.equal(unknown.status, 401);
        assert.equal(unknown.body.message, '401 Unauthorized');
      });
    });
  });
}
