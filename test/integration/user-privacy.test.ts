/**
 * E-mail addresses are private: only administrators (and the user themselves, through `GET /user`) see them, and a
 * user search matches them only for administrators, so nobody else can ask "does this address have an account?".
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { API, addMember, createProject, userWithToken } from '../helpers/management.js';

for (const dialect of DIALECTS) {
  describe(`user e-mail privacy (${dialect})`, () => {
    let t: TestApp;
    let aliceToken: string;
    let bobId: number;
    let projectId: number;
    before(async () => {
      t = await startApp(dialect);
      const alice = await userWithToken(t, 'alice');
      aliceToken = alice.token;
      const bob = await userWithToken(t, 'bob', { email: 'secret.person@hidden.example' });
      bobId = bob.user.id;
      projectId = (await createProject(t, 'shared', undefined)).id;
      await addMember(t, 'projects', projectId, bobId, 30);
      // Alice is a member too, so she sees the member lists (and must not see Bob's address in them).
      await addMember(t, 'projects', projectId, alice.user.id, 20);
    });
    after(() => t.close());

    it('a search by e-mail finds nobody for a non-admin, whole address or part', async () => {
      for (const q of ['secret.person@hidden.example', 'hidden.example', 'secret.person']) {
        const r = await t.call('GET', `${API}/users?search=${encodeURIComponent(q)}`, { token: aliceToken });
        assert.equal(r.status, 200);
        assert.deepEqual(r.body, [], q);
        assert.equal(r.headers['x-total'], '0');
      }
    });

    it('a non-admin still finds users by username and name', async () => {
      const byName = await t.call('GET', `${API}/users?search=bob`, { token: aliceToken });
      assert.deepEqual(byName.body.map((u: { username: string }) => u.username), ['bob']);
      const byFullName = await t.call('GET', `${API}/users?search=${encodeURIComponent('bob name')}`, { token: aliceToken });
      assert.deepEqual(byFullName.body.map((u: { username: string }) => u.username), ['bob']);
    });

    it('an administrator finds users by e-mail', async () => {
      const r = await t.call('GET', `${API}/users?search=hidden.example`, { token: ROOT_TOKEN });
      assert.deepEqual(r.body.map((u: { username: string }) => u.username), ['bob']);
      assert.equal(r.body[0].email, 'secret.person@hidden.example');
    });

    it('a member search does not match e-mail addresses either', async () => {
      const r = await t.call('GET', `${API}/projects/${projectId}/members?query=hidden.example`, { token: aliceToken });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, []);
    });

    it('no user-returning endpoint shows the address to a non-admin or to anonymous callers', async () => {
      const urls = [
        `${API}/users?username=bob`,
        `${API}/users?search=bob`,
        `${API}/users/${bobId}`,
        `${API}/projects/${projectId}/members`,
        `${API}/projects/${projectId}/members/${bobId}`,
      ];
      for (const url of urls) {
        for (const token of [aliceToken, undefined]) {
          const r = await t.call('GET', url, { token });
          if (token) assert.equal(r.status, 200, `${url}: ${r.text}`);
          assert.ok(r.text.includes('bob') || r.status !== 200, `${url}: ${r.text}`);
          assert.ok(!r.text.includes('hidden.example'), `${url} as ${token ? 'alice' : 'anonymous'}: ${r.status} ${r.text}`);
        }
      }
    });
  });
}
