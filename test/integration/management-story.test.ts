/**
 * The management API user story, the way an operator scripts it with curl and root's token: a group, a subgroup,
 * a private project, a user who becomes Developer of the group, their token and a deploy token — then what each
 * kind of caller can see.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { API, FORM, form, type Created } from '../helpers/management.js';

for (const dialect of DIALECTS) {
  describe(`management API user story [${dialect}]`, () => {
    let t: TestApp;
    let acme: Created;
    let platform: Created;
    let web: Created;
    let alice: Created;
    let aliceToken: string;
    let bobToken: string;
    let deployToken: string;
    let publicProject: Created;
    let internalProject: Created;

    before(async () => {
      t = await startApp(dialect);
    });
    after(async () => t.close());

    it('root creates a group with form fields, as `curl --data` does', async () => {
      const r = await t.call('POST', `${API}/groups`, {
        token: ROOT_TOKEN,
        body: form({ name: 'Acme', path: 'acme', visibility: 'private', description: 'The Acme company' }),
        headers: FORM,
      });
      assert.equal(r.status, 201, r.text);
      acme = r.body;
      assert.equal(acme.name, 'Acme');
      assert.equal(acme.path, 'acme');
      assert.equal(acme.full_path, 'acme');
      assert.equal(acme.full_name, 'Acme');
      assert.equal(acme.visibility, 'private');
      assert.equal(acme.description, 'The Acme company');
      assert.equal(acme.parent_id, null);
      assert.equal(acme.web_url, 'http://wharf.test/groups/acme');
      assert.deepEqual(acme.projects, []);
      assert.deepEqual(acme.shared_projects, []);
      assert.equal(typeof acme.id, 'number');
    });

    it('root creates a subgroup with JSON', async () => {
      const r = await t.call('POST', `${API}/groups`, {
        token: ROOT_TOKEN,
        body: { name: 'Platform', path: 'platform', parent_id: acme.id },
      });
      assert.equal(r.status, 201, r.text);
      platform = r.body;
      assert.equal(platform.parent_id, acme.id);
      assert.equal(platform.full_path, 'acme/platform');
      assert.equal(platform.full_name, 'Acme / Platform');
      // A subgroup inherits its parent's visibility when none is given.
      assert.equal(platform.visibility, 'private');
      assert.equal(platform.web_url, 'http://wharf.test/groups/acme/platform');
    });

    it('root creates a private project in the subgroup with query-string parameters', async () => {
      const r = await t.call('POST', `${API}/projects?name=Web&path=web&namespace_id=${platform.id}&visibility=private`, { token: ROOT_TOKEN });
      assert.equal(r.status, 201, r.text);
      web = r.body;
      assert.equal(web.name, 'Web');
      assert.equal(web.path, 'web');
      assert.equal(web.path_with_namespace, 'acme/platform/web');
      assert.equal(web.name_with_namespace, 'Acme / Platform / Web');
      assert.equal(web.visibility, 'private');
      assert.equal(web.package_registry_access_level, 'enabled');
      assert.equal(web.packages_enabled, true);
      assert.equal(web.web_url, 'http://wharf.test/acme/platform/web');
      assert.equal(web.http_url_to_repo, 'http://wharf.test/acme/platform/web.git');
      assert.deepEqual(web.namespace, {
        id: platform.id,
        name: 'Platform',
        path: 'platform',
        kind: 'group',
        full_path: 'acme/platform',
        parent_id: acme.id,
        avatar_url: null,
        web_url: 'http://wharf.test/groups/acme/platform',
      });
      assert.equal(web._links.self, `http://wharf.test/api/v4/projects/${web.id}`);
    });

    it('root creates a public and an internal project for the visibility checks', async () => {
      const oss = await t.call('POST', `${API}/groups`, { token: ROOT_TOKEN, body: { name: 'oss', path: 'oss', visibility: 'public' } });
      assert.equal(oss.status, 201, oss.text);
      const pub = await t.call('POST', `${API}/projects`, { token: ROOT_TOKEN, body: { name: 'lib', namespace_id: oss.body.id, visibility: 'public' } });
      assert.equal(pub.status, 201, pub.text);
      publicProject = pub.body;
      const internal = await t.call('POST', `${API}/projects`, {
        token: ROOT_TOKEN,
        body: { path: 'tool', namespace_id: oss.body.id, visibility: 'internal' },
      });
      assert.equal(internal.status, 201, internal.text);
      internalProject = internal.body;
      assert.equal(internalProject.name, 'tool', 'the name defaults to the path');
    });

    it('root creates a user', async () => {
      const r = await t.call('POST', `${API}/users`, {
        token: ROOT_TOKEN,
        body: form({ email: 'alice@example.com', name: 'Alice Liddell', username: 'alice', password: 'wonderland-42' }),
        headers: FORM,
      });
      assert.equal(r.status, 201, r.text);
      alice = r.body;
      assert.equal(alice.username, 'alice');
      assert.equal(alice.name, 'Alice Liddell');
      assert.equal(alice.email, 'alice@example.com');
      assert.equal(alice.state, 'active');
      assert.equal(alice.is_admin, false);
      assert.equal(alice.web_url, 'http://wharf.test/alice');
      assert.equal(typeof alice.namespace_id, 'number');
      assert.equal('password' in alice, false);
      assert.equal('password_hash' in alice, false);
    });

    it('root makes the user a Developer of the group', async () => {
      const r = await t.call('POST', `${API}/groups/${acme.id}/members`, { token: ROOT_TOKEN, body: { user_id: alice.id, access_level: 30 } });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.body.id, alice.id);
      assert.equal(r.body.username, 'alice');
      assert.equal(r.body.name, 'Alice Liddell');
      assert.equal(r.body.state, 'active');
      assert.equal(r.body.access_level, 30);
      assert.equal(r.body.expires_at, null);
      assert.equal(r.body.web_url, 'http://wharf.test/alice');
    });

    // Within the 365 days a token may live while expiry is required (the default).
    const laptopExpiry = new Date(Date.now() + 300 * 86_400_000).toISOString().slice(0, 10);
    it('root creates the user’s personal access token', async () => {
      const r = await t.call('POST', `${API}/users/${alice.id}/personal_access_tokens`, {
        token: ROOT_TOKEN,
        body: form({ name: 'laptop', scopes: ['api'], expires_at: laptopExpiry }),
        headers: FORM,
      });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.body.name, 'laptop');
      assert.deepEqual(r.body.scopes, ['api']);
      assert.equal(r.body.user_id, alice.id);
      assert.equal(r.body.revoked, false);
      assert.equal(r.body.active, true);
      assert.equal(r.body.expires_at, laptopExpiry);
      assert.equal(typeof r.body.token, 'string');
      assert.ok(r.body.token.length >= 20);
      aliceToken = r.body.token;
    });

    it('root creates a deploy token for the project', async () => {
      const r = await t.call('POST', `${API}/projects/${web.id}/deploy_tokens`, {
        token: ROOT_TOKEN,
        body: { name: 'ci', scopes: ['read_package_registry', 'write_package_registry'] },
      });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.body.name, 'ci');
      assert.equal(r.body.username, `gitlab+deploy-token-${r.body.id}`);
      assert.deepEqual(r.body.scopes, ['read_package_registry', 'write_package_registry']);
      assert.equal(r.body.expires_at, null);
      assert.equal(r.body.revoked, false);
      assert.equal(r.body.expired, false);
      assert.equal(typeof r.body.token, 'string');
      deployToken = r.body.token;
      assert.notEqual(deployToken, aliceToken);
    });

    it('the user sees who they are with their token', async () => {
      const r = await t.call('GET', `${API}/user`, { token: aliceToken });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.id, alice.id);
      assert.equal(r.body.username, 'alice');
      assert.equal(r.body.email, 'alice@example.com');
      // UserPublic for non-admins: no admin fields.
      assert.equal('is_admin' in r.body, false);
      const bearer = await t.call('GET', `${API}/user`, { headers: { authorization: `Bearer ${aliceToken}` } });
      assert.equal(bearer.status, 200);
      assert.equal(bearer.body.username, 'alice');
    });

    it('a Developer of the group sees the private project in the subgroup, by id and by URL-encoded path', async () => {
      const byId = await t.call('GET', `${API}/projects/${web.id}`, { token: aliceToken });
      assert.equal(byId.status, 200, byId.text);
      assert.equal(byId.body.path_with_namespace, 'acme/platform/web');
      const byPath = await t.call('GET', `${API}/projects/acme%2Fplatform%2Fweb`, { token: aliceToken });
      assert.equal(byPath.status, 200, byPath.text);
      assert.equal(byPath.body.id, web.id);
      const mixedCase = await t.call('GET', `${API}/projects/Acme%2FPlatform%2FWeb`, { token: aliceToken });
      assert.equal(mixedCase.status, 200, 'paths are case-insensitive');
      assert.equal(mixedCase.body.id, web.id);
    });

    it('the Developer lists the group and its private subgroup, and the projects they may see', async () => {
      const groups = await t.call('GET', `${API}/groups`, { token: aliceToken });
      assert.equal(groups.status, 200, groups.text);
      assert.deepEqual(groups.body.map((g: any) => g.full_path).sort(), ['acme', 'acme/platform', 'oss']);
      assert.equal(groups.headers['x-total'], '3');

      const projects = await t.call('GET', `${API}/projects`, { token: aliceToken });
      assert.equal(projects.status, 200);
      assert.deepEqual(projects.body.map((p: any) => p.path_with_namespace).sort(), ['acme/platform/web', 'oss/lib', 'oss/tool']);

      const mine = await t.call('GET', `${API}/projects?membership=true`, { token: aliceToken });
      assert.deepEqual(mine.body.map((p: any) => p.id), [web.id]);

      const sub = await t.call('GET', `${API}/groups/acme%2Fplatform`, { token: aliceToken });
      assert.equal(sub.status, 200, sub.text);
      assert.deepEqual(sub.body.projects.map((p: any) => p.id), [web.id]);

      const tree = await t.call('GET', `${API}/groups/${acme.id}/projects?include_subgroups=true`, { token: aliceToken });
      assert.equal(tree.status, 200);
      assert.deepEqual(tree.body.map((p: any) => p.id), [web.id]);
      const direct = await t.call('GET', `${API}/groups/${acme.id}/projects`, { token: aliceToken });
      assert.deepEqual(direct.body, []);
    });

    it('the Developer may create a project in the subgroup but not manage members or deploy tokens', async () => {
      const created = await t.call('POST', `${API}/projects`, { token: aliceToken, body: { name: 'api-docs', namespace_id: platform.id } });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.path_with_namespace, 'acme/platform/api-docs');
      assert.equal(created.body.creator_id, alice.id);

      const member = await t.call('POST', `${API}/projects/${web.id}/members`, { token: aliceToken, body: { user_id: 1, access_level: 10 } });
      assert.equal(member.status, 403);
      assert.deepEqual(member.body, { message: '403 Forbidden' });
      const dt = await t.call('GET', `${API}/projects/${web.id}/deploy_tokens`, { token: aliceToken });
      assert.equal(dt.status, 403);
      assert.deepEqual(dt.body, { message: '403 Forbidden' });
      const sub = await t.call('POST', `${API}/groups`, { token: aliceToken, body: { name: 'x', path: 'xx', parent_id: acme.id } });
      assert.equal(sub.status, 403, 'creating subgroups needs Maintainer');
    });

    it('the group lists its members; the project has no direct ones', async () => {
      const g = await t.call('GET', `${API}/groups/${acme.id}/members`, { token: aliceToken });
      assert.equal(g.status, 200);
      assert.deepEqual(
        g.body.map((m: any) => [m.username, m.access_level]),
        [
          ['root', 50],
          ['alice', 30],
        ],
      );
      const p = await t.call('GET', `${API}/projects/${web.id}/members`, { token: aliceToken });
      assert.equal(p.status, 200);
      assert.deepEqual(p.body, []);
    });

    it('a user who is not a member gets 404 for the private project and group, by id and by path', async () => {
      const bob = await t.call('POST', `${API}/users`, {
        token: ROOT_TOKEN,
        body: { email: 'bob@example.com', name: 'Bob', username: 'bob', password: 'builder-123' },
      });
      assert.equal(bob.status, 201);
      const pat = await t.call('POST', `${API}/users/${bob.body.id}/personal_access_tokens`, {
        token: ROOT_TOKEN,
        body: { name: 'bob', scopes: ['read_api'] },
      });
      assert.equal(pat.status, 201);
      bobToken = pat.body.token;

      for (const id of [String(web.id), 'acme%2Fplatform%2Fweb']) {
        const r = await t.call('GET', `${API}/projects/${id}`, { token: bobToken });
        assert.equal(r.status, 404, id);
        assert.deepEqual(r.body, { message: '404 Project Not Found' });
      }
      for (const id of [String(acme.id), 'acme', 'acme%2Fplatform']) {
        const r = await t.call('GET', `${API}/groups/${id}`, { token: bobToken });
        assert.equal(r.status, 404, id);
        assert.deepEqual(r.body, { message: '404 Group Not Found' });
      }
      const members = await t.call('GET', `${API}/projects/${web.id}/members`, { token: bobToken });
      assert.equal(members.status, 404);

      const groups = await t.call('GET', `${API}/groups`, { token: bobToken });
      assert.deepEqual(groups.body.map((g: any) => g.full_path), ['oss']);
      const projects = await t.call('GET', `${API}/projects`, { token: bobToken });
      assert.deepEqual(projects.body.map((p: any) => p.path_with_namespace).sort(), ['oss/lib', 'oss/tool']);
      const internal = await t.call('GET', `${API}/projects/${internalProject.id}`, { token: bobToken });
      assert.equal(internal.status, 200, 'any signed-in user sees internal projects');
    });

    it('anonymous callers get 404 for private and internal projects and see public ones only', async () => {
      for (const id of [String(web.id), 'acme%2Fplatform%2Fweb', String(internalProject.id)]) {
        const r = await t.call('GET', `${API}/projects/${id}`);
        assert.equal(r.status, 404, id);
        assert.deepEqual(r.body, { message: '404 Project Not Found' });
      }
      const pub = await t.call('GET', `${API}/projects/oss%2Flib`);
      assert.equal(pub.status, 200);
      assert.equal(pub.body.id, publicProject.id);

      const projects = await t.call('GET', `${API}/projects`);
      assert.equal(projects.status, 200);
      assert.deepEqual(projects.body.map((p: any) => p.id), [publicProject.id]);
      const groups = await t.call('GET', `${API}/groups`);
      assert.deepEqual(groups.body.map((g: any) => g.full_path), ['oss']);
      const group = await t.call('GET', `${API}/groups/acme`);
      assert.equal(group.status, 404);
      assert.deepEqual(group.body, { message: '404 Group Not Found' });
      const me = await t.call('GET', `${API}/user`);
      assert.equal(me.status, 401);
      assert.deepEqual(me.body, { message: '401 Unauthorized' });
    });

    it('removing the user from the group takes the private project away from them', async () => {
      const del = await t.call('DELETE', `${API}/groups/${acme.id}/members/${alice.id}`, { token: ROOT_TOKEN });
      assert.equal(del.status, 204);
      assert.equal(del.text, '');
      const r = await t.call('GET', `${API}/projects/${web.id}`, { token: aliceToken });
      assert.equal(r.status, 404);
      const groups = await t.call('GET', `${API}/groups`, { token: aliceToken });
      assert.deepEqual(groups.body.map((g: any) => g.full_path), ['oss']);
    });
  });
}
