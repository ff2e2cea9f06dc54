/**
 * Token policy: personal access tokens always expire unless an administrator allows otherwise (GitLab's
 * `require_personal_access_token_expiry`, on by default, and the 365-day maximum lifetime), through the API and the
 * web UI alike; and a deploy token can never publish as, or pass for, a user.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, TestClock, type TestApp } from '../helpers/app.js';
import { API, createGroup, createProject, userWithToken } from '../helpers/management.js';
import { npmBase, publishBody, publish } from '../helpers/npm.js';

for (const dialect of DIALECTS) {
  describe(`token policy (${dialect})`, () => {
    let t: TestApp;
    let alice: { user: { id: number }; token: string };
    const clock = new TestClock('2026-06-01T12:00:00.000Z');
    before(async () => {
      t = await startApp(dialect, { clock });
      alice = await userWithToken(t, 'alice');
    });
    after(() => t.close());

    const setSettings = (body: Record<string, unknown>) => t.call('PUT', `${API}/application/settings`, { token: ROOT_TOKEN, body });

    describe('personal access token expiry', () => {
      it('a token asked for without an expiry, or with null or an empty one, gets the longest lifetime (365 days)', async () => {
        for (const body of [{}, { expires_at: null }, { expires_at: '' }]) {
          const mine = await t.call('POST', `${API}/user/personal_access_tokens`, { token: alice.token, body: { name: 'x', scopes: ['read_api'], ...body } });
          assert.equal(mine.status, 201, mine.text);
          assert.equal(mine.body.expires_at, '2027-06-01', JSON.stringify(body));
          const admin = await t.call('POST', `${API}/users/${alice.user.id}/personal_access_tokens`, { token: ROOT_TOKEN, body: { name: 'y', scopes: ['api'], ...body } });
          assert.equal(admin.body.expires_at, '2027-06-01');
        }
      });

      it('an expiry beyond the maximum is refused with GitLab’s 400, for users and administrators', async () => {
        for (const [url, token] of [
          [`${API}/user/personal_access_tokens`, alice.token],
          [`${API}/users/${alice.user.id}/personal_access_tokens`, ROOT_TOKEN],
        ] as const) {
          const r = await t.call('POST', url, { token, body: { name: 'forever', scopes: ['read_api'], expires_at: '2099-12-31' } });
          assert.equal(r.status, 400, r.text);
          assert.deepEqual(r.body, { message: 'Expiration date must be before 2027-06-01' });
          const edge = await t.call('POST', url, { token, body: { name: 'edge', scopes: ['read_api'], expires_at: '2027-06-01' } });
          assert.equal(edge.status, 201, edge.text);
        }
      });

      it('an administrator may lower the maximum lifetime', async () => {
        assert.equal((await setSettings({ max_personal_access_token_lifetime: 30 })).status, 200);
        try {
          const dflt = await t.call('POST', `${API}/user/personal_access_tokens`, { token: alice.token, body: { name: 'x', scopes: ['read_api'] } });
          assert.equal(dflt.body.expires_at, '2026-07-01');
          const late = await t.call('POST', `${API}/user/personal_access_tokens`, { token: alice.token, body: { name: 'x', scopes: ['read_api'], expires_at: '2026-08-01' } });
          assert.deepEqual(late.body, { message: 'Expiration date must be before 2026-07-01' });
          assert.equal((await setSettings({ max_personal_access_token_lifetime: 366 })).status, 400);
          assert.equal((await setSettings({ max_personal_access_token_lifetime: 0 })).status, 400);
        } finally {
          await setSettings({ max_personal_access_token_lifetime: null });
        }
      });

      it('with the requirement lifted by an administrator, a token without expiry never expires', async () => {
        const off = await setSettings({ require_personal_access_token_expiry: false });
        assert.equal(off.status, 200);
        assert.equal(off.body.require_personal_access_token_expiry, false);
        try {
          const r = await t.call('POST', `${API}/user/personal_access_tokens`, { token: alice.token, body: { name: 'forever', scopes: ['read_api'] } });
          assert.equal(r.body.expires_at, null);
          const far = await t.call('POST', `${API}/user/personal_access_tokens`, { token: alice.token, body: { name: 'far', scopes: ['read_api'], expires_at: '2099-12-31' } });
          assert.equal(far.status, 201);
        } finally {
          await setSettings({ require_personal_access_token_expiry: true });
        }
      });

      it('only administrators change the policy', async () => {
        const r = await t.call('PUT', `${API}/application/settings`, { token: alice.token, body: { require_personal_access_token_expiry: false } });
        assert.equal(r.status, 403);
        assert.equal((await t.call('PUT', `${API}/application/settings`, { body: { require_personal_access_token_expiry: false } })).status, 401);
        const s = await t.call('GET', `${API}/application/settings`, { token: ROOT_TOKEN });
        assert.equal(s.body.require_personal_access_token_expiry, true);
        assert.equal(s.body.max_personal_access_token_lifetime, null);
      });

      it('npm login makes a token that expires', async () => {
        const r = await t.call('PUT', `${API}/packages/npm/-/user/org.couchdb.user:alice`, { body: { name: 'alice', password: 'correct-horse-1' } });
        assert.equal(r.status, 201, r.text);
        const list = await t.call('GET', `${API}/personal_access_tokens?user_id=${alice.user.id}&per_page=100`, { token: ROOT_TOKEN });
        const npmTokens = list.body.filter((tok: { name: string }) => tok.name.startsWith('npm login'));
        assert.ok(npmTokens.length >= 1);
        for (const tok of npmTokens) assert.equal(tok.expires_at, '2027-06-01');
      });

      it('the web form requires an expiry, bounded by the maximum, and an empty one still gets the maximum', async () => {
        const page = await t.app.inject({ method: 'GET', url: '/users/sign_in' });
        const csrf = /name="authenticity_token" value="([^"]+)"/.exec(page.body)![1]!;
        const signedIn = await t.app.inject({
          method: 'POST',
          url: '/users/sign_in',
          payload: new URLSearchParams({ authenticity_token: csrf, login: 'alice', password: 'correct-horse-1' }).toString(),
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `_wharf_csrf=${csrf}` },
        });
        assert.equal(signedIn.statusCode, 303);
        const session = /_wharf_session=([^;]+)/.exec(String(signedIn.headers['set-cookie']))![1]!;
        const cookie = `_wharf_session=${session}; _wharf_csrf=${csrf}`;
        const form = await t.app.inject({ method: 'GET', url: '/-/user_settings/personal_access_tokens', headers: { cookie } });
        assert.match(form.body, /<input id="token-expiry" name="expires_at" type="date" min="2026-06-01" max="2027-06-01" required value="2026-07-01">/);
        const token = /name="authenticity_token" value="([^"]+)"/.exec(form.body)![1]!;
        for (const [expires, status] of [['', 201], ['2030-01-01', 400]] as const) {
          const r = await t.app.inject({
            method: 'POST',
            url: '/-/user_settings/personal_access_tokens',
            payload: new URLSearchParams({ authenticity_token: token, name: `web-${status}`, expires_at: expires, 'scopes[]': 'read_api' }).toString(),
            headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
          });
          assert.equal(r.statusCode, status, r.body.slice(0, 300));
          if (status === 400) assert.match(r.body, /Expiration date must be before 2027-06-01/);
        }
        const list = await t.call('GET', `${API}/personal_access_tokens?user_id=${alice.user.id}&per_page=100`, { token: ROOT_TOKEN });
        assert.equal(list.body.find((tok: { name: string }) => tok.name === 'web-201').expires_at, '2027-06-01');
      });
    });

    describe('deploy tokens and user names', () => {
      let projectId: number;
      before(async () => {
        const group = await createGroup(t, 'acme');
        projectId = (await createProject(t, 'lib', group.id)).id;
      });

      it('a deploy token cannot be given the username of a user (any case)', async () => {
        for (const username of ['alice', 'ALICE', 'root']) {
          const r = await t.call('POST', `${API}/projects/${projectId}/deploy_tokens`, {
            token: ROOT_TOKEN,
            body: { name: 'ci', scopes: ['write_package_registry'], username },
          });
          assert.equal(r.status, 400, `${username}: ${r.text}`);
          assert.deepEqual(r.body, { message: { username: ['is already the username of a user'] } });
        }
      });

      it('what a deploy token publishes is shown as gitlab+deploy-token-<id>, whatever its username, even one a user takes later', async () => {
        const created = await t.call('POST', `${API}/projects/${projectId}/deploy_tokens`, {
          token: ROOT_TOKEN,
          body: { name: 'ci', scopes: ['write_package_registry', 'read_package_registry'], username: 'release-bot' },
        });
        assert.equal(created.status, 201, created.text);
        // A user called like the token, created afterwards.
        assert.equal((await t.call('POST', `${API}/users`, { token: ROOT_TOKEN, body: { username: 'release-bot', name: 'R', email: 'r@example.com', password: 'password123' } })).status, 201);
        const { body } = publishBody('@acme/widget', '1.0.0');
        const r = await publish(t, projectId, body, created.body.token);
        assert.equal(r.status, 200, r.text);
        const doc = await t.call('GET', `${npmBase(projectId)}/@acme%2fwidget`, { token: ROOT_TOKEN });
        const expected = `gitlab+deploy-token-${created.body.id}`;
        assert.deepEqual(doc.body.versions['1.0.0']._npmUser, { name: expected });
        assert.ok(!JSON.stringify(doc.body).includes('"release-bot"'), 'the packument never names the user');
        const who = await t.call('GET', `${npmBase(projectId)}/-/whoami`, { headers: { authorization: `Bearer ${created.body.token}` } });
        assert.deepEqual(who.body, { username: expected });
      });
    });
  });
}
