/**
 * docs/design/gitlab-compatibility.md#credentials, #abilities, #npm-decision-procedure against a real database: tokens created through the API, roles inherited through
 * nested groups, each credential form resolved the way the npm and Helm routes resolve it, and the package
 * abilities decided by the access service those routes call.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { extractCredential, type CredentialMode } from '../../src/domain/access/credentials.js';
import type { PackageAbility, AccessRouteKind } from '../../src/domain/access/abilities.js';
import { AppError } from '../../src/domain/errors.js';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, TestClock, type TestApp } from '../helpers/app.js';

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

for (const dialect of DIALECTS) {
  describe(`credentials and package abilities [${dialect}]`, () => {
    let t: TestApp;
    const clock = new TestClock('2026-06-01T12:00:00.000Z');
    const tok: Record<string, string> = {};
    const ids: Record<string, number> = {};

    const post = async (url: string, body: unknown) => {
      const r = await t.call('POST', `/api/v4${url}`, { token: ROOT_TOKEN, body });
      assert.equal(r.status, 201, `${url}: ${r.text}`);
      return r.body;
    };

    before(async () => {
      t = await startApp(dialect, { clock });
      ids.acme = (await post('/groups', { name: 'Acme', path: 'acme', visibility: 'private' })).id;
      ids.platform = (await post('/groups', { name: 'Platform', path: 'platform', parent_id: ids.acme })).id;
      ids.web = (await post('/projects', { name: 'web', namespace_id: ids.platform, visibility: 'private' })).id;
      ids.other = (await post('/projects', { name: 'other', namespace_id: ids.acme, visibility: 'private' })).id;
      ids.open = (await post('/groups', { name: 'Open', path: 'open', visibility: 'public' })).id;
      ids.lib = (await post('/projects', { name: 'lib', namespace_id: ids.open, visibility: 'public' })).id;
      ids.intranet = (await post('/projects', { name: 'intranet', namespace_id: ids.open, visibility: 'internal' })).id;
      ids.members = (await post('/projects', { name: 'members-only', namespace_id: ids.open, visibility: 'public', package_registry_access_level: 'private' })).id;
      ids.everyone = (await post('/projects', { name: 'everyone', namespace_id: ids.acme, visibility: 'private', package_registry_access_level: 'public' })).id;
      ids.disabled = (await post('/projects', { name: 'disabled', namespace_id: ids.open, visibility: 'public', package_registry_access_level: 'disabled' })).id;

      for (const name of ['guest', 'reporter', 'developer', 'maintainer', 'outsider']) {
        const u = await post('/users', { username: name, name, email: `${name}@example.com`, password: 'password123' });
        ids[name] = u.id;
        tok[name] = (await post(`/users/${u.id}/personal_access_tokens`, { name: 'api', scopes: ['api'] })).token;
      }
      // Roles at different heights of the tree: inherited from the top group, from the subgroup, direct on the project.
      await post(`/groups/${ids.acme}/members`, { user_id: ids.guest, access_level: 10 });
      await post(`/groups/${ids.platform}/members`, { user_id: ids.reporter, access_level: 20 });
      await post(`/groups/${ids.acme}/members`, { user_id: ids.developer, access_level: 30 });
      await post(`/projects/${ids.web}/members`, { user_id: ids.maintainer, access_level: 40 });

      tok.devReadApi = (await post(`/users/${ids.developer}/personal_access_tokens`, { name: 'ro', scopes: ['read_api'] })).token;
      tok.soonExpired = (await post(`/users/${ids.developer}/personal_access_tokens`, { name: 'short', scopes: ['api'], expires_at: '2026-06-02' })).token;
      const revoked = await post(`/users/${ids.developer}/personal_access_tokens`, { name: 'gone', scopes: ['api'] });
      tok.revoked = revoked.token;
      assert.equal((await t.call('DELETE', `/api/v4/personal_access_tokens/${revoked.id}`, { token: ROOT_TOKEN })).status, 204);

      tok.deployRead = (await post(`/projects/${ids.web}/deploy_tokens`, { name: 'ci-read', scopes: ['read_package_registry'] })).token;
      tok.deployWriteGroup = (await post(`/groups/${ids.acme}/deploy_tokens`, { name: 'ci-write', scopes: ['write_package_registry'] })).token;
      const revokedDeploy = await post(`/projects/${ids.web}/deploy_tokens`, { name: 'old', scopes: ['read_package_registry'] });
      tok.deployRevoked = revokedDeploy.token;
      assert.equal((await t.call('DELETE', `/api/v4/projects/${ids.web}/deploy_tokens/${revokedDeploy.id}`, { token: ROOT_TOKEN })).status, 204);
      tok.deployExpiring = (await post(`/projects/${ids.web}/deploy_tokens`, { name: 'brief', scopes: ['read_package_registry'], expires_at: '2026-06-01T13:00:00Z' })).token;
    });
    after(async () => t.close());

    /** The identity the npm (standard) or Helm (basic-only) routes would see for these headers. */
    const identity = (headers: Record<string, string>, mode: CredentialMode = 'standard', query: Record<string, string> = {}) =>
      t.deps.services.identity.resolve(extractCredential(headers, query, mode));

    const decide = async (headers: Record<string, string>, project: string, ability: PackageAbility, route: AccessRouteKind = 'authenticate-non-public', mode: CredentialMode = 'standard'): Promise<number> => {
      try {
        const who = await identity(headers, mode);
        await t.deps.services.access.authorizePackageAccess(who, String(ids[project]), ability, route);
        return 200;
      } catch (err) {
        if (err instanceof AppError) return err.status;
        throw err;
      }
    };
    const pat = (name: string) => ({ 'private-token': tok[name]! });

    it('accepts a PAT as Bearer, PRIVATE-TOKEN, Basic password (any username) and private_token query', async () => {
      for (const headers of [{ authorization: `Bearer ${tok.developer}` }, { 'private-token': tok.developer! }, { authorization: basic('whoever', tok.developer!) }] as Record<string, string>[]) {
        const r = await t.call('GET', '/api/v4/user', { headers });
        assert.equal(r.status, 200, JSON.stringify(headers));
        assert.equal(r.body.username, 'developer');
      }
      const q = await t.call('GET', `/api/v4/user?private_token=${tok.developer}`);
      assert.equal(q.body.username, 'developer');
    });

    it('accepts a deploy token as Deploy-Token, Bearer and Basic password, for package access only', async () => {
      for (const headers of [{ 'deploy-token': tok.deployRead! }, { authorization: `Bearer ${tok.deployRead}` }, { authorization: basic('gitlab+deploy-token-1', tok.deployRead!) }] as Record<string, string>[]) {
        const who = await identity(headers);
        assert.equal(who.kind, 'deploy_token', JSON.stringify(headers));
        assert.equal(await decide(headers, 'web', 'read_package'), 200);
        assert.equal(await decide(headers, 'other', 'read_package'), 404);
        // As in GitLab, deploy tokens do not authenticate the management API.
        assert.equal((await t.call('GET', `/api/v4/projects/${ids.web}`, { headers })).status, 401);
      }
    });

    it('answers 401 for an unknown, revoked or expired token, even where anonymous callers may read', async () => {
      for (const bad of ['no-such-token-at-all', tok.revoked!, tok.deployRevoked!]) {
        assert.equal(await decide({ authorization: `Bearer ${bad}` }, 'lib', 'read_package'), 401, bad);
        assert.equal((await t.call('GET', `/api/v4/projects/${ids.lib}`, { token: bad })).status, 401);
      }
      const revoked = await t.call('GET', '/api/v4/user', { token: tok.revoked });
      assert.match(String(revoked.headers['www-authenticate']), /invalid_token/);
      assert.match(revoked.body.error_description, /revoked/);
      // A PAT is valid until midnight UTC at the start of its expiry date; a deploy token until its expiry instant.
      assert.equal((await t.call('GET', '/api/v4/user', { token: tok.soonExpired })).status, 200);
      assert.equal(await decide({ 'deploy-token': tok.deployExpiring! }, 'web', 'read_package'), 200);
      clock.advance(2 * 86_400_000);
      t.deps.services.identity.forgetAll();
      const expired = await t.call('GET', '/api/v4/user', { token: tok.soonExpired });
      assert.equal(expired.status, 401);
      assert.match(expired.body.error_description, /expired/);
      assert.equal(await decide({ 'deploy-token': tok.deployExpiring! }, 'web', 'read_package'), 401);
    });

    it('Helm credentials: Basic only; Bearer and PRIVATE-TOKEN are anonymous there', async () => {
      assert.equal((await identity({ authorization: basic('x', tok.developer!) }, 'basic-only')).kind, 'user');
      assert.equal((await identity({ authorization: basic('x', tok.deployRead!) }, 'basic-only')).kind, 'deploy_token');
      assert.equal((await identity({ authorization: `Bearer ${tok.developer}` }, 'basic-only')).kind, 'anonymous');
      assert.equal((await identity({ 'private-token': tok.developer! }, 'basic-only')).kind, 'anonymous');
      assert.equal(await decide({ authorization: basic('x', 'wrong-token-xxxxxxxx') }, 'web', 'read_package', 'authenticate-non-public', 'basic-only'), 401);
    });

    it('read_package: Guest+ members through any ancestor group, nobody else, on a private project', async () => {
      assert.equal(await decide(pat('guest'), 'web', 'read_package'), 200);
      assert.equal(await decide(pat('reporter'), 'web', 'read_package'), 200);
      assert.equal(await decide(pat('developer'), 'web', 'read_package'), 200);
      assert.equal(await decide(pat('maintainer'), 'web', 'read_package'), 200);
      assert.equal(await decide(pat('outsider'), 'web', 'read_package'), 404);
      assert.equal(await decide({}, 'web', 'read_package'), 401);
      assert.equal(await decide({}, 'web', 'read_package', 'plain'), 404);
      // The subgroup role does not reach a sibling project under the top group.
      assert.equal(await decide(pat('reporter'), 'other', 'read_package'), 404);
      assert.equal(await decide(pat('maintainer'), 'other', 'read_package'), 404);
    });

    it('read_package on public, internal, "members only" and "Everyone" registries, and disabled ones', async () => {
      assert.equal(await decide({}, 'lib', 'read_package'), 200);
      assert.equal(await decide(pat('outsider'), 'lib', 'read_package'), 200);
      assert.equal(await decide({}, 'intranet', 'read_package'), 401);
      assert.equal(await decide(pat('outsider'), 'intranet', 'read_package'), 200);
      assert.equal(await decide(pat('outsider'), 'members', 'read_package'), 403);
      assert.equal(await decide({}, 'everyone', 'read_package'), 200);
      assert.equal(await decide(pat('outsider'), 'disabled', 'read_package'), 403);
      assert.equal(await decide({ authorization: `Bearer ${ROOT_TOKEN}` }, 'disabled', 'read_package'), 403);
    });

    it('create_package: Developer+ and write deploy tokens of the group tree; not Guest, Reporter or read tokens', async () => {
      assert.equal(await decide(pat('developer'), 'web', 'create_package', 'plain'), 200);
      assert.equal(await decide(pat('maintainer'), 'web', 'create_package', 'plain'), 200);
      assert.equal(await decide(pat('reporter'), 'web', 'create_package', 'plain'), 403);
      assert.equal(await decide(pat('guest'), 'web', 'create_package', 'plain'), 403);
      assert.equal(await decide({ 'deploy-token': tok.deployWriteGroup! }, 'web', 'create_package', 'plain'), 200);
      assert.equal(await decide({ 'deploy-token': tok.deployWriteGroup! }, 'other', 'create_package', 'plain'), 200);
      assert.equal(await decide({ 'deploy-token': tok.deployWriteGroup! }, 'lib', 'create_package', 'plain'), 403);
      assert.equal(await decide({ 'deploy-token': tok.deployRead! }, 'web', 'create_package', 'plain'), 403);
      assert.equal(await decide({}, 'lib', 'create_package', 'plain'), 401);
      assert.equal(await decide(pat('outsider'), 'lib', 'create_package', 'plain'), 403);
    });

    it('destroy_package: Maintainer+ and write deploy tokens; not Developer', async () => {
      assert.equal(await decide(pat('maintainer'), 'web', 'destroy_package', 'plain'), 200);
      assert.equal(await decide(pat('developer'), 'web', 'destroy_package', 'plain'), 403);
      assert.equal(await decide({ 'deploy-token': tok.deployWriteGroup! }, 'web', 'destroy_package', 'plain'), 200);
      assert.equal(await decide({ authorization: `Bearer ${ROOT_TOKEN}` }, 'web', 'destroy_package', 'plain'), 200);
    });

    it('read_api tokens may read but not write (403 insufficient_scope)', async () => {
      assert.equal((await t.call('GET', `/api/v4/projects/${ids.web}`, { token: tok.devReadApi })).status, 200);
      const w = await t.call('POST', '/api/v4/projects', { token: tok.devReadApi, body: { name: 'x', namespace_id: ids.acme } });
      assert.equal(w.status, 403);
      assert.equal(w.body.error, 'insufficient_scope');
    });

    it('a project resolves by numeric id and by URL-encoded full path, case-insensitively', async () => {
      for (const id of [String(ids.web), 'acme%2Fplatform%2Fweb', 'ACME%2Fplatform%2FWeb']) {
        const r = await t.call('GET', `/api/v4/projects/${id}`, { token: tok.reporter });
        assert.equal(r.status, 200, id);
        assert.equal(r.body.id, ids.web);
      }
    });

    it('expired memberships stop granting access', async () => {
      const u = await post('/users', { username: 'contractor', name: 'c', email: 'c@example.com', password: 'password123' });
      const token = (await post(`/users/${u.id}/personal_access_tokens`, { name: 'x', scopes: ['api'] })).token;
      const day = clock.now().toISOString().slice(0, 10);
      const next = new Date(clock.now().getTime() + 86_400_000).toISOString().slice(0, 10);
      assert.ok(day < next);
      await post(`/projects/${ids.web}/members`, { user_id: u.id, access_level: 30, expires_at: next });
      assert.equal(await decide({ 'private-token': token }, 'web', 'create_package', 'plain'), 200);
      clock.advance(86_400_000);
      t.deps.services.identity.forgetAll();
      assert.equal(await decide({ 'private-token': token }, 'web', 'create_package', 'plain'), 404);
    });

    it('a remembered access level ends when its membership expires, with nothing written in between', async () => {
      const u = await post('/users', { username: 'temp', name: 't', email: 't@example.com', password: 'password123' });
      const token = (await post(`/users/${u.id}/personal_access_tokens`, { name: 'x', scopes: ['api'] })).token;
      // Two minutes before the next midnight, with a membership that ends at that midnight.
      const now = clock.now().getTime();
      const midnight = Math.ceil((now + 1) / 86_400_000) * 86_400_000;
      clock.advance(midnight - 120_000 - now);
      await post(`/projects/${ids.web}/members`, { user_id: u.id, access_level: 30, expires_at: new Date(midnight).toISOString().slice(0, 10) });
      assert.equal(await decide({ 'private-token': token }, 'web', 'create_package', 'plain'), 200);
      // The first use records the token's last use (a write); this second decision is made from what it remembers.
      assert.equal(await decide({ 'private-token': token }, 'web', 'create_package', 'plain'), 200);
      // Past midnight; within the token's last-use throttle, so this request writes nothing either.
      clock.advance(240_000);
      assert.equal(await decide({ 'private-token': token }, 'web', 'create_package', 'plain'), 404);
    });
  });
}
