/** `/groups/:id/members` and `/projects/:id/members`: adding, listing, changing and removing members. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, TestClock, type TestApp } from '../helpers/app.js';
import {
  API,
  addMember,
  assertPagination,
  createGroup,
  createProject,
  createUser,
  postForm,
  postQuery,
  refusedWithoutWrites,
  userWithToken,
  type Created,
} from '../helpers/management.js';

for (const dialect of DIALECTS) {
  describe(`management API: members [${dialect}]`, () => {
    let t: TestApp;
    let group: Created;
    let sub: Created;
    let project: Created;
    let owner: { user: Created; token: string };
    let maintainer: { user: Created; token: string };
    let developer: { user: Created; token: string };
    let outsider: { user: Created; token: string };
    let target: Created;

    before(async () => {
      t = await startApp(dialect);
      group = await createGroup(t, 'team');
      sub = await createGroup(t, 'sub', { parent_id: group.id });
      project = await createProject(t, 'proj', sub.id, { name: 'Proj' });
      owner = await userWithToken(t, 'owner');
      maintainer = await userWithToken(t, 'maintainer');
      developer = await userWithToken(t, 'developer');
      outsider = await userWithToken(t, 'outsider');
      target = await createUser(t, 'target_user');
      await addMember(t, 'groups', group.id, owner.user.id, 50);
      await addMember(t, 'groups', group.id, maintainer.user.id, 40);
      await addMember(t, 'groups', group.id, developer.user.id, 30);
    });
    after(async () => t.close());

    describe('POST members', () => {
      it('adds members with JSON, form fields, the query string and by username', async () => {
        const a = await createUser(t, 'm-json');
        const json = await t.call('POST', `${API}/groups/${group.id}/members`, { token: maintainer.token, body: { user_id: a.id, access_level: 20 } });
        assert.equal(json.status, 201, json.text);
        assert.deepEqual(Object.keys(json.body).sort(), ['access_level', 'avatar_url', 'created_at', 'expires_at', 'id', 'locked', 'name', 'state', 'username', 'web_url']);
        assert.equal(json.body.id, a.id);
        assert.equal(json.body.access_level, 20);

        const b = await createUser(t, 'm-form');
        const f = await postForm(t, 'POST', `${API}/projects/${project.id}/members`, ROOT_TOKEN, { user_id: b.id, access_level: 40, expires_at: '2099-01-31' });
        assert.equal(f.status, 201, f.text);
        assert.equal(f.body.access_level, 40);
        assert.equal(f.body.expires_at, '2099-01-31');

        const c = await createUser(t, 'm-query');
        const q = await postQuery(t, 'POST', `${API}/projects/team%2Fsub%2Fproj/members`, ROOT_TOKEN, { user_id: c.id, access_level: 10 });
        assert.equal(q.status, 201, q.text);

        const d = await createUser(t, 'm-name');
        const byName = await t.call('POST', `${API}/groups/team%2Fsub/members`, { token: ROOT_TOKEN, body: { username: 'M-NAME', access_level: 30 } });
        assert.equal(byName.status, 201, byName.text);
        assert.equal(byName.body.id, d.id);
      });

      it('refuses bad parameters with Grape’s messages and writes nothing', async () => {
        const cases: [unknown, string][] = [
          [{ user_id: target.id }, 'access_level is missing'],
          [{ user_id: target.id, access_level: 'x' }, 'access_level is invalid'],
          [{ user_id: target.id, access_level: 25.5 }, 'access_level is invalid'],
          [{ user_id: 'abc', access_level: 30 }, 'user_id is invalid'],
          [{ access_level: 30 }, 'user_id, username are missing, at least one parameter must be provided'],
          [{ user_id: target.id, username: 'target_user', access_level: 30 }, 'user_id, username are mutually exclusive'],
          [{ user_id: target.id, access_level: 30, expires_at: 'next week' }, 'expires_at is invalid'],
          [{ user_id: target.id, access_level: 30, expires_at: '2099-13-45' }, 'expires_at is invalid'],
        ];
        for (const level of [0, 5, 15, 35, 60, -10]) cases.push([{ user_id: target.id, access_level: level }, 'access_level does not have a valid value']);
        for (const kind of ['groups', 'projects'] as const) {
          const id = kind === 'groups' ? group.id : project.id;
          for (const [body, error] of cases) {
            const r = await refusedWithoutWrites(t, () => t.call('POST', `${API}/${kind}/${id}/members`, { token: ROOT_TOKEN, body }));
            assert.equal(r.status, 400, `${kind} ${JSON.stringify(body)}`);
            assert.deepEqual(r.body, { error }, `${kind} ${JSON.stringify(body)}`);
          }
          const form = await refusedWithoutWrites(t, () => postForm(t, 'POST', `${API}/${kind}/${id}/members`, ROOT_TOKEN, { user_id: target.id, access_level: 'x' }));
          assert.deepEqual(form.body, { error: 'access_level is invalid' });
        }
      });

      it('refuses an expiry date in the past', async () => {
        const r = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/groups/${group.id}/members`, { token: ROOT_TOKEN, body: { user_id: target.id, access_level: 30, expires_at: '2001-01-01' } }),
        );
        assert.equal(r.status, 400);
        assert.deepEqual(r.body, { message: { expires_at: ['cannot be a date in the past'] } });
      });

      it('answers unknown users, groups and projects with 404', async () => {
        const cases: [string, unknown, string][] = [
          [`groups/${group.id}`, { user_id: 999999, access_level: 30 }, '404 User Not Found'],
          [`groups/${group.id}`, { username: 'nobody', access_level: 30 }, '404 User Not Found'],
          [`projects/${project.id}`, { user_id: 999999, access_level: 30 }, '404 User Not Found'],
          ['groups/999999', { user_id: target.id, access_level: 30 }, '404 Group Not Found'],
          ['groups/no%2Fsuch', { user_id: target.id, access_level: 30 }, '404 Group Not Found'],
          ['projects/999999', { user_id: target.id, access_level: 30 }, '404 Project Not Found'],
          ['projects/team%2Fsub%2Fnone', { user_id: target.id, access_level: 30 }, '404 Project Not Found'],
        ];
        for (const [path, body, message] of cases) {
          const r = await refusedWithoutWrites(t, () => t.call('POST', `${API}/${path}/members`, { token: ROOT_TOKEN, body }));
          assert.equal(r.status, 404, path);
          assert.deepEqual(r.body, { message }, path);
        }
      });

      it('answers an existing member with 409 "Member already exists"', async () => {
        for (const [kind, id] of [
          ['groups', group.id],
          ['groups', 'team'],
        ] as const) {
          const r = await refusedWithoutWrites(t, () =>
            t.call('POST', `${API}/${kind}/${id}/members`, { token: ROOT_TOKEN, body: { user_id: developer.user.id, access_level: 40 } }),
          );
          assert.equal(r.status, 409);
          assert.deepEqual(r.body, { message: 'Member already exists' });
        }
        await addMember(t, 'projects', project.id, target.id, 30);
        const again = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/projects/${project.id}/members`, { token: ROOT_TOKEN, body: { username: 'target_user', access_level: 30 } }),
        );
        assert.equal(again.status, 409);
        assert.deepEqual(again.body, { message: 'Member already exists' });
        await t.call('DELETE', `${API}/projects/${project.id}/members/${target.id}`, { token: ROOT_TOKEN });
      });

      it('refuses a project role below the role inherited from a group', async () => {
        const r = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/projects/${project.id}/members`, { token: ROOT_TOKEN, body: { user_id: developer.user.id, access_level: 20 } }),
        );
        assert.equal(r.status, 400);
        assert.deepEqual(r.body, { message: { access_level: ['should be greater than or equal to Developer inherited membership from group'] } });
        const higher = await t.call('POST', `${API}/projects/${project.id}/members`, { token: ROOT_TOKEN, body: { user_id: developer.user.id, access_level: 40 } });
        assert.equal(higher.status, 201);
      });

      it('needs Maintainer, and Owner to grant Owner', async () => {
        const dev = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/groups/${group.id}/members`, { token: developer.token, body: { user_id: target.id, access_level: 10 } }),
        );
        assert.equal(dev.status, 403);
        assert.deepEqual(dev.body, { message: '403 Forbidden' });
        const stranger = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/groups/${group.id}/members`, { token: outsider.token, body: { user_id: target.id, access_level: 10 } }),
        );
        assert.equal(stranger.status, 404, 'a private group is invisible to strangers');
        assert.deepEqual(stranger.body, { message: '404 Group Not Found' });
        const maintainerOwner = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/groups/${group.id}/members`, { token: maintainer.token, body: { user_id: target.id, access_level: 50 } }),
        );
        assert.equal(maintainerOwner.status, 403);
        const ownerOwner = await t.call('POST', `${API}/groups/${sub.id}/members`, { token: owner.token, body: { user_id: target.id, access_level: 50 } });
        assert.equal(ownerOwner.status, 201, 'an Owner of the parent group may grant Owner below it');
      });
    });

    describe('GET members', () => {
      it('lists direct members with pagination and a query', async () => {
        const all = await t.call('GET', `${API}/groups/${group.id}/members?per_page=100`, { token: developer.token });
        assert.equal(all.status, 200);
        const total = all.body.length;
        assert.ok(total >= 5);
        assert.deepEqual(all.body.slice(0, 4).map((m: any) => [m.username, m.access_level]), [
          ['root', 50],
          ['owner', 50],
          ['maintainer', 40],
          ['developer', 30],
        ]);
        const page = await t.call('GET', `${API}/groups/team/members?per_page=2&page=2`, { token: developer.token });
        assert.equal(page.status, 200);
        assertPagination(page, { page: 2, perPage: 2, total, totalPages: Math.ceil(total / 2), next: total > 4 ? 3 : null, prev: 1 });
        assert.deepEqual(
          page.body.map((m: any) => m.id),
          all.body.slice(2, 4).map((m: any) => m.id),
        );
        const query = await t.call('GET', `${API}/groups/${group.id}/members?query=MAINT`, { token: developer.token });
        assert.deepEqual(query.body.map((m: any) => m.username), ['maintainer']);
        const literal = await t.call('GET', `${API}/groups/${sub.id}/members?query=target_`, { token: ROOT_TOKEN });
        assert.deepEqual(literal.body.map((m: any) => m.username), ['target_user']);
        const wildcard = await t.call('GET', `${API}/groups/${sub.id}/members?query=t_rget`, { token: ROOT_TOKEN });
        assert.deepEqual(wildcard.body, [], '"_" is not a wildcard');
      });

      it('shows one member; 404 for a non-member, 400 for a non-numeric user id', async () => {
        const one = await t.call('GET', `${API}/groups/${group.id}/members/${maintainer.user.id}`, { token: developer.token });
        assert.equal(one.status, 200);
        assert.equal(one.body.username, 'maintainer');
        assert.equal(one.body.access_level, 40);
        const none = await t.call('GET', `${API}/groups/${group.id}/members/${outsider.user.id}`, { token: developer.token });
        assert.equal(none.status, 404);
        assert.deepEqual(none.body, { message: '404 Not found' });
        const bad = await t.call('GET', `${API}/projects/${project.id}/members/abc`, { token: developer.token });
        assert.equal(bad.status, 400);
        assert.deepEqual(bad.body, { error: 'user_id is invalid' });
        const hidden = await t.call('GET', `${API}/projects/${project.id}/members`, { token: outsider.token });
        assert.equal(hidden.status, 404);
        assert.deepEqual(hidden.body, { message: '404 Project Not Found' });
        const anon = await t.call('GET', `${API}/groups/${group.id}/members`);
        assert.equal(anon.status, 404);
      });
    });

    describe('PUT members', () => {
      it('changes the role and expiry; JSON, form and query', async () => {
        const u = await createUser(t, 'put-me');
        await addMember(t, 'groups', sub.id, u.id, 10);
        const json = await t.call('PUT', `${API}/groups/${sub.id}/members/${u.id}`, { token: maintainer.token, body: { access_level: 20 } });
        assert.equal(json.status, 200, json.text);
        assert.equal(json.body.access_level, 20);
        assert.equal(json.body.username, 'put-me');
        const f = await postForm(t, 'PUT', `${API}/groups/${sub.id}/members/${u.id}`, maintainer.token, { access_level: 30, expires_at: '2099-02-01' });
        assert.equal(f.status, 200, f.text);
        assert.equal(f.body.access_level, 30);
        assert.equal(f.body.expires_at, '2099-02-01');
        const q = await postQuery(t, 'PUT', `${API}/groups/team%2Fsub/members/${u.id}`, maintainer.token, { access_level: 40, expires_at: '' });
        assert.equal(q.status, 200, q.text);
        assert.equal(q.body.access_level, 40);
        assert.equal(q.body.expires_at, null);
      });

      it('refuses bad input and leaves the member unchanged', async () => {
        const url = `${API}/groups/${group.id}/members/${developer.user.id}`;
        const cases: [unknown, number, unknown][] = [
          [{}, 400, { error: 'access_level is missing' }],
          [{ access_level: 'x' }, 400, { error: 'access_level is invalid' }],
          [{ access_level: 45 }, 400, { error: 'access_level does not have a valid value' }],
          [{ access_level: 30, expires_at: 'soon' }, 400, { error: 'expires_at is invalid' }],
          [{ access_level: 30, expires_at: '2000-01-01' }, 400, { message: { expires_at: ['cannot be a date in the past'] } }],
        ];
        for (const [body, status, expected] of cases) {
          const r = await t.call('PUT', url, { token: ROOT_TOKEN, body });
          assert.equal(r.status, status, JSON.stringify(body));
          assert.deepEqual(r.body, expected, JSON.stringify(body));
        }
        const missing = await t.call('PUT', `${API}/groups/${group.id}/members/${outsider.user.id}`, { token: ROOT_TOKEN, body: { access_level: 30 } });
        assert.equal(missing.status, 404);
        assert.deepEqual(missing.body, { message: '404 Not found' });
        const devTry = await t.call('PUT', url, { token: developer.token, body: { access_level: 40 } });
        assert.equal(devTry.status, 403, 'a Developer cannot promote themselves');
        const toOwner = await t.call('PUT', url, { token: maintainer.token, body: { access_level: 50 } });
        assert.equal(toOwner.status, 403, 'only Owners grant Owner');
        // root created the group and owns it: a Maintainer may not demote an Owner.
        const demoteOwner = await t.call('PUT', `${API}/groups/${group.id}/members/1`, { token: maintainer.token, body: { access_level: 10 } });
        assert.equal(demoteOwner.status, 403, 'only Owners change an Owner');
        assert.equal((await t.call('GET', `${API}/groups/${group.id}/members/1`, { token: ROOT_TOKEN })).body.access_level, 50);
        const now = await t.call('GET', url, { token: ROOT_TOKEN });
        assert.equal(now.body.access_level, 30);
        assert.equal(now.body.expires_at, null);
      });
    });

    describe('DELETE members', () => {
      it('removes a member with 204 and an empty body; a second time is 404', async () => {
        const u = await createUser(t, 'delete-me');
        await addMember(t, 'projects', project.id, u.id, 30);
        const r = await t.call('DELETE', `${API}/projects/${project.id}/members/${u.id}`, { token: maintainer.token });
        assert.equal(r.status, 204);
        assert.equal(r.text, '');
        const again = await t.call('DELETE', `${API}/projects/${project.id}/members/${u.id}`, { token: maintainer.token });
        assert.equal(again.status, 404);
        assert.deepEqual(again.body, { message: '404 Not found' });
        const gone = await t.call('GET', `${API}/projects/${project.id}/members/${u.id}`, { token: maintainer.token });
        assert.equal(gone.status, 404);
      });

      it('lets members leave, but not remove others without Maintainer, nor Owners without Owner', async () => {
        const leaver = await userWithToken(t, 'leaver');
        await addMember(t, 'groups', sub.id, leaver.user.id, 20);
        const other = await t.call('DELETE', `${API}/groups/${sub.id}/members/${target.id}`, { token: leaver.token });
        assert.equal(other.status, 403);
        assert.deepEqual(other.body, { message: '403 Forbidden' });
        const leave = await t.call('DELETE', `${API}/groups/${sub.id}/members/${leaver.user.id}`, { token: leaver.token });
        assert.equal(leave.status, 204);
        const ownerByMaintainer = await t.call('DELETE', `${API}/groups/${group.id}/members/${owner.user.id}`, { token: maintainer.token });
        assert.equal(ownerByMaintainer.status, 403);
        const bad = await t.call('DELETE', `${API}/groups/${group.id}/members/abc`, { token: ROOT_TOKEN });
        assert.equal(bad.status, 400);
        assert.deepEqual(bad.body, { error: 'user_id is invalid' });
        const anon = await t.call('DELETE', `${API}/groups/${group.id}/members/${developer.user.id}`);
        assert.equal(anon.status, 401);
        const still = await t.call('GET', `${API}/groups/${group.id}/members/${owner.user.id}`, { token: ROOT_TOKEN });
        assert.equal(still.status, 200);
      });
    });
  });

  describe(`management API: membership expiry [${dialect}]`, () => {
    let t: TestApp;
    const clock = new TestClock('2026-06-01T12:00:00.000Z');
    before(async () => {
      t = await startApp(dialect, { clock });
    });
    after(async () => t.close());

    it('an expired membership no longer grants access or lists the group', async () => {
      const g = await createGroup(t, 'temp');
      const p = await createProject(t, 'inside', g.id);
      const temp = await userWithToken(t, 'temp-user');
      const m = await t.call('POST', `${API}/groups/${g.id}/members`, { token: ROOT_TOKEN, body: { user_id: temp.user.id, access_level: 30, expires_at: '2026-06-03' } });
      assert.equal(m.status, 201, m.text);
      assert.equal(m.body.expires_at, '2026-06-03');
      const today = await t.call('POST', `${API}/groups/${g.id}/members`, { token: ROOT_TOKEN, body: { user_id: 1, access_level: 30, expires_at: '2026-06-01' } });
      assert.equal(today.status, 400, 'today is not in the future');

      assert.equal((await t.call('GET', `${API}/projects/${p.id}`, { token: temp.token })).status, 200);
      assert.deepEqual((await t.call('GET', `${API}/projects`, { token: temp.token })).body.map((x: any) => x.id), [p.id]);
      assert.deepEqual((await t.call('GET', `${API}/groups`, { token: temp.token })).body.map((x: any) => x.id), [g.id]);

      clock.advance(2 * 86_400_000);
      const after = await t.call('GET', `${API}/projects/${p.id}`, { token: temp.token });
      assert.equal(after.status, 404);
      assert.deepEqual((await t.call('GET', `${API}/projects`, { token: temp.token })).body, []);
      assert.deepEqual((await t.call('GET', `${API}/groups`, { token: temp.token })).body, []);
    });
  });
}
