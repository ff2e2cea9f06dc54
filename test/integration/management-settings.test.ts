/** `GET/PUT /application/settings`: admin only, each Wharf key validated, unknown GitLab keys ignored. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { API, createPat, postForm, postQuery, refusedWithoutWrites, userWithToken } from '../helpers/management.js';

const URL = `${API}/application/settings`;
const DEFAULTS = {
  id: 1,
  npm_package_requests_forwarding: false,
  npm_package_requests_forwarding_url: 'https://registry.npmjs.org',
  helm_max_packages_count: null,
  npm_max_file_size: 500 * 1024 * 1024,
  helm_max_file_size: 5 * 1024 * 1024,
};

/** The keys this suite covers; other keys (added by other features) are left to their own suites. */
const pick = (body: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.keys(DEFAULTS).map((k) => [k, body[k]]));

for (const dialect of DIALECTS) {
  describe(`management API: application settings [${dialect}]`, () => {
    let t: TestApp;
    let user: { token: string };

    before(async () => {
      t = await startApp(dialect);
      user = await userWithToken(t, 'regular');
    });
    after(async () => t.close());

    const current = async () => pick((await t.call('GET', URL, { token: ROOT_TOKEN })).body);

    it('shows the defaults to an admin', async () => {
      const r = await t.call('GET', URL, { token: ROOT_TOKEN });
      assert.equal(r.status, 200);
      assert.deepEqual(pick(r.body), DEFAULTS);
    });

    it('is for administrators only: 403 for users, 401 for anonymous and unknown tokens', async () => {
      for (const method of ['GET', 'PUT'] as const) {
        const body = method === 'PUT' ? { helm_max_packages_count: 5 } : undefined;
        const u = await refusedWithoutWrites(t, () => t.call(method, URL, { token: user.token, body }));
        assert.equal(u.status, 403, method);
        assert.deepEqual(u.body, { message: '403 Forbidden' });
        const anon = await refusedWithoutWrites(t, () => t.call(method, URL, { body }));
        assert.equal(anon.status, 401, method);
        assert.deepEqual(anon.body, { message: '401 Unauthorized' });
        const unknown = await refusedWithoutWrites(t, () => t.call(method, URL, { token: 'whpat-unknown', body }));
        assert.equal(unknown.status, 401, method);
      }
      // The admin check comes before parameter validation.
      const invalid = await refusedWithoutWrites(t, () => t.call('PUT', URL, { token: user.token, body: { helm_max_packages_count: 'lots' } }));
      assert.equal(invalid.status, 403);
    });

    it('lets a read_api admin token read but not write', async () => {
      const readApi = await createPat(t, 1, ['read_api']);
      const get = await t.call('GET', URL, { token: readApi });
      assert.equal(get.status, 200);
      const put = await refusedWithoutWrites(t, () => t.call('PUT', URL, { token: readApi, body: { helm_max_packages_count: 5 } }));
      assert.equal(put.status, 403);
      assert.deepEqual(put.body, {
        error: 'insufficient_scope',
        error_description: 'The request requires higher privileges than provided by the access token.',
        scope: 'api',
      });
    });

    it('updates every key from JSON', async () => {
      const r = await t.call('PUT', URL, {
        token: ROOT_TOKEN,
        body: {
          npm_package_requests_forwarding: true,
          npm_package_requests_forwarding_url: 'https://npm.example.com/mirror/',
          helm_max_packages_count: 250,
          npm_max_file_size: 1048576,
          helm_max_file_size: 2097152,
        },
      });
      assert.equal(r.status, 200, r.text);
      const expected = {
        id: 1,
        npm_package_requests_forwarding: true,
        npm_package_requests_forwarding_url: 'https://npm.example.com/mirror',
        helm_max_packages_count: 250,
        npm_max_file_size: 1048576,
        helm_max_file_size: 2097152,
      };
      assert.deepEqual(pick(r.body), expected);
      assert.deepEqual(await current(), expected);
    });

    it('accepts form fields and query-string parameters, coercing their strings', async () => {
      const f = await postForm(t, 'PUT', URL, ROOT_TOKEN, { npm_package_requests_forwarding: 'false', helm_max_packages_count: '', npm_max_file_size: '4096' });
      assert.equal(f.status, 200, f.text);
      assert.equal(f.body.npm_package_requests_forwarding, false);
      assert.equal(f.body.helm_max_packages_count, null, 'an empty value clears the limit');
      assert.equal(f.body.npm_max_file_size, 4096);
      const q = await postQuery(t, 'PUT', URL, ROOT_TOKEN, { npm_package_requests_forwarding: 'true', helm_max_packages_count: '7', helm_max_file_size: '8192' });
      assert.equal(q.status, 200, q.text);
      assert.equal(q.body.npm_package_requests_forwarding, true);
      assert.equal(q.body.helm_max_packages_count, 7);
      assert.equal(q.body.helm_max_file_size, 8192);
      const json = await t.call('PUT', URL, { token: ROOT_TOKEN, body: { helm_max_packages_count: null } });
      assert.equal(json.status, 200);
      assert.equal(json.body.helm_max_packages_count, null);
    });

    it('refuses an invalid value of each key by name, and saves nothing', async () => {
      const cases: [string, unknown, string][] = [
        ['npm_package_requests_forwarding', 'yes', 'is not a boolean'],
        ['npm_package_requests_forwarding', 2, 'is not a boolean'],
        ['npm_package_requests_forwarding', null, 'is not a boolean'],
        ['npm_package_requests_forwarding', {}, 'is not a boolean'],
        ['helm_max_packages_count', 0, 'must be a positive integer, or null for no limit'],
        ['helm_max_packages_count', '0', 'must be a positive integer, or null for no limit'],
        ['helm_max_packages_count', -1, 'must be a positive integer, or null for no limit'],
        ['helm_max_packages_count', 1.5, 'must be a positive integer, or null for no limit'],
        ['helm_max_packages_count', 'many', 'must be a positive integer, or null for no limit'],
        ['helm_max_packages_count', true, 'must be a positive integer, or null for no limit'],
        ['npm_max_file_size', 0, 'must be a positive number of bytes'],
        ['npm_max_file_size', -5, 'must be a positive number of bytes'],
        ['npm_max_file_size', '10MB', 'must be a positive number of bytes'],
        ['npm_max_file_size', null, 'must be a positive number of bytes'],
        ['npm_max_file_size', 1e20, 'must be a positive number of bytes'],
        ['helm_max_file_size', 2.5, 'must be a positive number of bytes'],
        ['helm_max_file_size', '', 'must be a positive number of bytes'],
        ['npm_package_requests_forwarding_url', 'ftp://mirror.example.com', 'must be an absolute http(s) URL'],
        ['npm_package_requests_forwarding_url', 'not a url', 'must be an absolute http(s) URL'],
        ['npm_package_requests_forwarding_url', '', 'must be an absolute http(s) URL'],
        ['npm_package_requests_forwarding_url', 42, 'must be a URL'],
      ];
      const before = await current();
      for (const [key, value, message] of cases) {
        const r = await refusedWithoutWrites(t, () => t.call('PUT', URL, { token: ROOT_TOKEN, body: { [key]: value } }));
        assert.equal(r.status, 400, `${key}=${JSON.stringify(value)}`);
        assert.deepEqual(r.body, { message: { [key]: [message] } }, `${key}=${JSON.stringify(value)}`);
      }
      const form = await refusedWithoutWrites(t, () => postForm(t, 'PUT', URL, ROOT_TOKEN, { helm_max_packages_count: 'abc' }));
      assert.deepEqual(form.body, { message: { helm_max_packages_count: ['must be a positive integer, or null for no limit'] } });

      // One bad key spoils the whole request: the good one is not saved either.
      const mixed = await t.call('PUT', URL, { token: ROOT_TOKEN, body: { helm_max_packages_count: 99, npm_max_file_size: -1, helm_max_file_size: 'x' } });
      assert.equal(mixed.status, 400);
      assert.deepEqual(mixed.body, {
        message: { npm_max_file_size: ['must be a positive number of bytes'], helm_max_file_size: ['must be a positive number of bytes'] },
      });
      assert.deepEqual(await current(), before);
    });

    it('ignores unknown GitLab settings but needs at least one parameter', async () => {
      const before = await current();
      const gitlabOnly = await t.call('PUT', URL, { token: ROOT_TOKEN, body: { signup_enabled: false, default_projects_limit: 'whatever' } });
      assert.equal(gitlabOnly.status, 200, gitlabOnly.text);
      assert.deepEqual(pick(gitlabOnly.body), before);
      const mixed = await postForm(t, 'PUT', URL, ROOT_TOKEN, { signup_enabled: 'false', helm_max_packages_count: '12' });
      assert.equal(mixed.status, 200);
      assert.equal(mixed.body.helm_max_packages_count, 12);
      assert.equal('signup_enabled' in mixed.body, false);

      for (const call of [
        () => t.call('PUT', URL, { token: ROOT_TOKEN }),
        () => t.call('PUT', URL, { token: ROOT_TOKEN, body: {} }),
        () => t.call('PUT', `${URL}?private_token=${ROOT_TOKEN}`),
        () => t.call('PUT', URL, { token: ROOT_TOKEN, headers: { 'content-type': 'application/json' } }),
      ]) {
        const r = await refusedWithoutWrites(t, call);
        assert.equal(r.status, 400, r.text);
        assert.match(r.body.error, /are missing, at least one parameter must be provided$/);
        assert.ok(r.body.error.includes('helm_max_packages_count'));
      }
      const arrayBody = await refusedWithoutWrites(t, () => t.call('PUT', URL, { token: ROOT_TOKEN, body: [1, 2] }));
      assert.equal(arrayBody.status, 400);
    });
  });
}
