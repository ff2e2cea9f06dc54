/**
 * The audit log: every security event is recorded with its author, the client's address and its target, without
 * secrets; administrators alone read it through GitLab's `GET /audit_events`; a refused or rolled-back change
 * leaves no event; garbage collection applies the retention.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, TestClock, type TestApp } from '../helpers/app.js';
import { cookieOf, form, hidden } from '../helpers/web-forms.js';
import { API, createGroup, createPat, createProject, createUser, userWithToken, type Created } from '../helpers/management.js';
import { bearer, esc, npmBase, published } from '../helpers/npm.js';
import { basic, buildChart, send, upload } from '../helpers/helm.js';
import { digestToken } from '../../src/domain/access/tokens.js';

interface EventJson {
  id: number;
  author_id: number | null;
  entity_id: number | null;
  entity_type: string;
  event_name: string;
  details: Record<string, any>;
  created_at: string;
}

const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' };

/** Each action comes from its own address, so the test sees which request an event's address came from. */
const from = (ip: string) => ({ 'x-forwarded-for': ip });

for (const dialect of DIALECTS) {
  describe(`audit events [${dialect}]`, () => {
    let t: TestApp;
    let dana: Created;
    let danaToken: string;
    let group: Created;
    let project: Created;
    let maintainer: { user: Created; token: string };

    before(async () => {
      // Behind a proxy: the client address comes from X-Forwarded-For.
      t = await startApp(dialect, { env: { WHARF_TRUST_PROXY: 'true' } });
      dana = await createUser(t, 'dana', { password: 'dana-password' });
      danaToken = await createPat(t, dana.id);
      group = await createGroup(t, 'audgrp');
      project = await createProject(t, 'app', group.id);
      maintainer = await userWithToken(t, 'maint');
      const m = await t.call('POST', `${API}/projects/${project.id}/members`, { token: ROOT_TOKEN, body: { user_id: maintainer.user.id, access_level: 40 } });
      assert.equal(m.status, 201, m.text);
    });
    after(async () => t.close());

    const list = async (query = ''): Promise<EventJson[]> => {
      const r = await t.call('GET', `${API}/audit_events?per_page=100${query}`, { token: ROOT_TOKEN });
      assert.equal(r.status, 200, r.text);
      return r.body as EventJson[];
    };
    /** The newest event of that name. */
    const latest = async (name: string): Promise<EventJson> => {
      const found = (await list()).find((e) => e.event_name === name);
      assert.ok(found, `no ${name} event`);
      return found;
    };
    const count = async (): Promise<number> =>
      Number((await t.deps.database.db.selectFrom('audit_events').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    /** Every stored byte of the audit log, to look for secrets in. */
    const everything = async (): Promise<string> => JSON.stringify(await t.deps.database.db.selectFrom('audit_events').selectAll().execute());

    const expectEvent = (
      e: EventJson,
      want: { author_id: number | null; author_name: string; entity_type: string; entity_id: number | null; target_type: string; target_id: number | null; ip: string },
    ) => {
      assert.equal(e.author_id, want.author_id, `${e.event_name}: author_id`);
      assert.equal(e.details.author_name, want.author_name, `${e.event_name}: author_name`);
      assert.equal(e.entity_type, want.entity_type, `${e.event_name}: entity_type`);
      assert.equal(e.entity_id, want.entity_id, `${e.event_name}: entity_id`);
      assert.equal(e.details.target_type, want.target_type, `${e.event_name}: target_type`);
      assert.equal(e.details.target_id, want.target_id, `${e.event_name}: target_id`);
      assert.equal(e.details.ip_address, want.ip, `${e.event_name}: ip_address`);
      assert.match(e.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      assert.equal(typeof e.details.custom_message, 'string');
    };

    // --- sign-in ---------------------------------------------------------------------------------------------

    const webSignIn = async (login: string, password: string, ip: string) => {
      const page = await t.app.inject({ method: 'GET', url: '/users/sign_in', headers: from(ip) });
      const csrf = cookieOf(page.headers['set-cookie'], '_wharf_csrf')!;
      return t.app.inject({
        method: 'POST',
        url: '/users/sign_in',
        payload: form({ authenticity_token: csrf, login, password, redirect_to: '/' }),
        headers: { ...FORM_TYPE, cookie: `_wharf_csrf=${csrf}`, ...from(ip) },
      });
    };

    it('web sign-in: success and a wrong password are recorded with the address; the password never is', async () => {
      const ok = await webSignIn('dana', 'dana-password', '198.51.100.1');
      assert.equal(ok.statusCode, 303);
      expectEvent(await latest('authenticated_with_password'), {
        author_id: dana.id, author_name: 'dana', entity_type: 'User', entity_id: dana.id, target_type: 'User', target_id: dana.id, ip: '198.51.100.1',
      });
      assert.equal((await latest('authenticated_with_password')).details.entity_path, 'dana');

      const wrong = await webSignIn('dana', 'not-the-password-31337', '198.51.100.2');
      assert.equal(wrong.statusCode, 401);
      const failed = await latest('login_failed_with_standard_authentication');
      expectEvent(failed, {
        author_id: null, author_name: 'An unauthenticated user', entity_type: 'User', entity_id: dana.id, target_type: 'User', target_id: dana.id, ip: '198.51.100.2',
      });
      assert.equal(failed.details.target_details, 'dana');
      assert.equal(failed.details.author_class, 'Unauthenticated');
      const stored = await everything();
      assert.doesNotMatch(stored, /not-the-password-31337|dana-password/);
      const session = cookieOf(ok.headers['set-cookie'], '_wharf_session')!;
      assert.ok(!stored.includes(session) && !stored.includes(digestToken(session)), 'no session cookie, nor its digest');
    });

    it('a failed sign-in of an unknown user is recorded without an author, the attempted name bounded and cleaned', async () => {
      const before = await webSignIn('dana', 'wrong-for-dana-1', '198.51.100.3');
      const attempted = `ghost\u2028line\n${'x'.repeat(500)}`;
      const r = await webSignIn(attempted, 'ghost-password-42', '198.51.100.3');
      // Nothing in the answer tells an unknown login from a wrong password.
      assert.equal(r.statusCode, before.statusCode);
      assert.match(r.body, /Invalid login or password\./);
      assert.match(before.body, /Invalid login or password\./);
      const e = await latest('login_failed_with_standard_authentication');
      expectEvent(e, {
        author_id: null, author_name: 'An unauthenticated user', entity_type: 'Gitlab::Audit::InstanceScope', entity_id: 1, target_type: 'User', target_id: null, ip: '198.51.100.3',
      });
      const name = e.details.target_details as string;
      assert.ok(Array.from(name).length <= 100, `bounded: ${name.length}`);
      assert.ok(name.startsWith('ghost line x'), name);
      assert.ok(name.endsWith('…'));
      assert.doesNotMatch(name, /[\n\u2028]/);
      assert.doesNotMatch(await everything(), /ghost-password-42|wrong-for-dana-1/);
    });

    it('npm login and npm logout: the sign-in, the token it creates and its revocation, never the token', async () => {
      const login = await t.call('PUT', `${npmBase(project.id)}/-/user/org.couchdb.user:dana`, {
        headers: from('203.0.113.10'),
        body: { name: 'dana', password: 'dana-password' },
      });
      assert.equal(login.status, 201, login.text);
      const token = login.body.token as string;
      expectEvent(await latest('authenticated_with_password'), {
        author_id: dana.id, author_name: 'dana', entity_type: 'User', entity_id: dana.id, target_type: 'User', target_id: dana.id, ip: '203.0.113.10',
      });
      assert.match((await latest('authenticated_with_password')).details.custom_message, /npm login/);
      const created = await latest('personal_access_token_created');
      expectEvent(created, {
        author_id: dana.id, author_name: 'dana', entity_type: 'User', entity_id: dana.id, target_type: 'PersonalAccessToken', target_id: created.details.target_id, ip: '203.0.113.10',
      });
      assert.match(created.details.target_details, /^npm login /);

      const failed = await t.call('PUT', `${npmBase(project.id)}/-/user/org.couchdb.user:dana`, { headers: from('203.0.113.11'), body: { name: 'dana', password: 'npm-wrong-99' } });
      assert.equal(failed.status, 401);
      expectEvent(await latest('login_failed_with_standard_authentication'), {
        author_id: null, author_name: 'An unauthenticated user', entity_type: 'User', entity_id: dana.id, target_type: 'User', target_id: dana.id, ip: '203.0.113.11',
      });

      const logout = await t.call('DELETE', `${npmBase(project.id)}/-/user/token/${encodeURIComponent(token)}`, { headers: { ...bearer(token), ...from('203.0.113.12') } });
      assert.equal(logout.status, 200);
      const revoked = await latest('personal_access_token_revoked');
      expectEvent(revoked, {
        author_id: dana.id, author_name: 'dana', entity_type: 'User', entity_id: dana.id, target_type: 'PersonalAccessToken', target_id: created.details.target_id, ip: '203.0.113.12',
      });
      const stored = await everything();
      assert.ok(!stored.includes(token) && !stored.includes(digestToken(token)), 'neither the token value nor its digest is recorded');
      assert.doesNotMatch(stored, /npm-wrong-99/);
    });

    // --- tokens ----------------------------------------------------------------------------------------------

    it('personal access tokens: created by an admin for a user, in the web UI, and revoked by their owner', async () => {
      const r = await t.call('POST', `${API}/users/${dana.id}/personal_access_tokens`, { token: ROOT_TOKEN, headers: from('192.0.2.1'), body: { name: 'ci', scopes: ['read_api'] } });
      assert.equal(r.status, 201, r.text);
      const created = await latest('personal_access_token_created');
      expectEvent(created, { author_id: 1, author_name: 'root', entity_type: 'User', entity_id: dana.id, target_type: 'PersonalAccessToken', target_id: r.body.id, ip: '192.0.2.1' });
      assert.equal(created.details.target_details, 'ci');
      assert.match(created.details.custom_message, /read_api/);

      const del = await t.call('DELETE', `${API}/personal_access_tokens/${r.body.id}`, { token: danaToken, headers: from('192.0.2.2') });
      assert.equal(del.status, 204);
      expectEvent(await latest('personal_access_token_revoked'), {
        author_id: dana.id, author_name: 'dana', entity_type: 'User', entity_id: dana.id, target_type: 'PersonalAccessToken', target_id: r.body.id, ip: '192.0.2.2',
      });

      // The web UI's form, from a signed-in session.
      const signedIn = await webSignIn('dana', 'dana-password', '192.0.2.3');
      const cookie = `_wharf_session=${cookieOf(signedIn.headers['set-cookie'], '_wharf_session')}`;
      const page = await t.app.inject({ method: 'GET', url: '/-/user_settings/personal_access_tokens', headers: { cookie } });
      const csrf = hidden(page.body, 'authenticity_token')!;
      const made = await t.app.inject({
        method: 'POST',
        url: '/-/user_settings/personal_access_tokens',
        payload: form({ authenticity_token: csrf, name: 'laptop', expires_at: new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10), 'scopes[]': ['api'] }),
        headers: { ...FORM_TYPE, cookie, ...from('192.0.2.4') },
      });
      assert.equal(made.statusCode, 201, made.body);
      const web = await latest('personal_access_token_created');
      expectEvent(web, { author_id: dana.id, author_name: 'dana', entity_type: 'User', entity_id: dana.id, target_type: 'PersonalAccessToken', target_id: web.details.target_id, ip: '192.0.2.4' });
      assert.equal(web.details.target_details, 'laptop');
      const secret = /id="new-token-value"[^>]*value="([^"]+)"/.exec(made.body)?.[1];
      assert.ok(secret);
      assert.ok(!(await everything()).includes(secret));
    });

    it('deploy tokens: project and group tokens created and destroyed, never their value', async () => {
      const p = await t.call('POST', `${API}/projects/${project.id}/deploy_tokens`, { token: maintainer.token, headers: from('192.0.2.10'), body: { name: 'ci-read', scopes: ['read_package_registry'] } });
      assert.equal(p.status, 201, p.text);
      expectEvent(await latest('deploy_token_created'), {
        author_id: maintainer.user.id, author_name: 'maint', entity_type: 'Project', entity_id: project.id, target_type: 'DeployToken', target_id: p.body.id, ip: '192.0.2.10',
      });
      assert.equal((await latest('deploy_token_created')).details.entity_path, 'audgrp/app');
      const g = await t.call('POST', `${API}/groups/${group.id}/deploy_tokens`, { token: ROOT_TOKEN, headers: from('192.0.2.11'), body: { name: 'grp', scopes: ['write_package_registry'], username: 'grp-bot' } });
      assert.equal(g.status, 201, g.text);
      const ge = await latest('group_deploy_token_created');
      expectEvent(ge, { author_id: 1, author_name: 'root', entity_type: 'Group', entity_id: group.id, target_type: 'DeployToken', target_id: g.body.id, ip: '192.0.2.11' });
      assert.match(ge.details.custom_message, /grp-bot/);

      assert.equal((await t.call('DELETE', `${API}/projects/${project.id}/deploy_tokens/${p.body.id}`, { token: maintainer.token, headers: from('192.0.2.12') })).status, 204);
      expectEvent(await latest('deploy_token_destroyed'), {
        author_id: maintainer.user.id, author_name: 'maint', entity_type: 'Project', entity_id: project.id, target_type: 'DeployToken', target_id: p.body.id, ip: '192.0.2.12',
      });
      assert.equal((await t.call('DELETE', `${API}/groups/${group.id}/deploy_tokens/${g.body.id}`, { token: ROOT_TOKEN, headers: from('192.0.2.13') })).status, 204);
      expectEvent(await latest('group_deploy_token_destroyed'), {
        author_id: 1, author_name: 'root', entity_type: 'Group', entity_id: group.id, target_type: 'DeployToken', target_id: g.body.id, ip: '192.0.2.13',
      });
      const stored = await everything();
      for (const secret of [p.body.token, g.body.token]) assert.ok(!stored.includes(secret) && !stored.includes(digestToken(secret)));
    });

    // --- members ---------------------------------------------------------------------------------------------

    it('members: added, role changed and removed, on a group and on a project', async () => {
      const erin = await createUser(t, 'erin');
      for (const [kind, id, type] of [['groups', group.id, 'Group'], ['projects', project.id, 'Project']] as const) {
        const add = await t.call('POST', `${API}/${kind}/${id}/members`, { token: ROOT_TOKEN, headers: from('192.0.2.20'), body: { user_id: erin.id, access_level: 20 } });
        assert.equal(add.status, 201, add.text);
        const added = await latest('member_created');
        expectEvent(added, { author_id: 1, author_name: 'root', entity_type: type, entity_id: id, target_type: 'User', target_id: erin.id, ip: '192.0.2.20' });
        assert.deepEqual([added.details.change, added.details.from, added.details.to, added.details.target_details], ['access_level', null, 'Reporter', 'erin']);

        const put = await t.call('PUT', `${API}/${kind}/${id}/members/${erin.id}`, { token: ROOT_TOKEN, headers: from('192.0.2.21'), body: { access_level: 30 } });
        assert.equal(put.status, 200, put.text);
        const changed = await latest('member_updated');
        expectEvent(changed, { author_id: 1, author_name: 'root', entity_type: type, entity_id: id, target_type: 'User', target_id: erin.id, ip: '192.0.2.21' });
        assert.deepEqual([changed.details.from, changed.details.to], ['Reporter', 'Developer']);

        assert.equal((await t.call('DELETE', `${API}/${kind}/${id}/members/${erin.id}`, { token: ROOT_TOKEN, headers: from('192.0.2.22') })).status, 204);
        const removed = await latest('member_destroyed');
        expectEvent(removed, { author_id: 1, author_name: 'root', entity_type: type, entity_id: id, target_type: 'User', target_id: erin.id, ip: '192.0.2.22' });
        assert.deepEqual([removed.details.from, removed.details.to, removed.details.target_details], ['Developer', null, 'erin']);
      }
      // A refused change (a Reporter may not add members) leaves no event.
      const before = await count();
      const reporter = await userWithToken(t, 'rep');
      await t.call('POST', `${API}/projects/${project.id}/members`, { token: ROOT_TOKEN, body: { user_id: reporter.user.id, access_level: 20 } });
      const afterAdd = await count();
      assert.equal(afterAdd, before + 3, 'the reporter, their token, their membership');
      const refused = await t.call('POST', `${API}/projects/${project.id}/members`, { token: reporter.token, body: { user_id: erin.id, access_level: 20 } });
      assert.equal(refused.status, 403);
      assert.equal(await count(), afterAdd);
    });

    // --- protection rules ------------------------------------------------------------------------------------

    it('protection rules: created, changed and deleted; a creation that fails records nothing', async () => {
      const base = `${API}/projects/${project.id}/packages/protection/rules`;
      const c = await t.call('POST', base, { token: maintainer.token, headers: from('192.0.2.30'), body: { package_name_pattern: '@audgrp/locked-*', package_type: 'npm', minimum_access_level_for_push: 'maintainer' } });
      assert.equal(c.status, 201, c.text);
      const created = await latest('package_protection_rule_created');
      expectEvent(created, {
        author_id: maintainer.user.id, author_name: 'maint', entity_type: 'Project', entity_id: project.id, target_type: 'Packages::Protection::Rule', target_id: c.body.id, ip: '192.0.2.30',
      });
      assert.equal(created.details.target_details, '@audgrp/locked-*');

      const u = await t.call('PATCH', `${base}/${c.body.id}`, { token: maintainer.token, headers: from('192.0.2.31'), body: { minimum_access_level_for_delete: 'owner' } });
      assert.equal(u.status, 200, u.text);
      const updated = await latest('package_protection_rule_updated');
      expectEvent(updated, {
        author_id: maintainer.user.id, author_name: 'maint', entity_type: 'Project', entity_id: project.id, target_type: 'Packages::Protection::Rule', target_id: c.body.id, ip: '192.0.2.31',
      });
      assert.match(updated.details.from, /delete: any/);
      assert.match(updated.details.to, /delete: owner/);

      // Refused or failing: validation, a duplicate pattern (the insert itself fails), a Developer.
      const before = await count();
      const invalid = await t.call('POST', base, { token: maintainer.token, body: { package_name_pattern: '@audgrp/x', package_type: 'npm' } });
      assert.equal(invalid.status, 400);
      const duplicate = await t.call('POST', base, { token: maintainer.token, body: { package_name_pattern: '@audgrp/locked-*', package_type: 'npm', minimum_access_level_for_push: 'owner' } });
      assert.equal(duplicate.status, 400, duplicate.text);
      assert.equal(await count(), before, 'no event for a rule that was not created');

      assert.equal((await t.call('DELETE', `${base}/${c.body.id}`, { token: maintainer.token, headers: from('192.0.2.32') })).status, 204);
      const deleted = await latest('package_protection_rule_deleted');
      expectEvent(deleted, {
        author_id: maintainer.user.id, author_name: 'maint', entity_type: 'Project', entity_id: project.id, target_type: 'Packages::Protection::Rule', target_id: c.body.id, ip: '192.0.2.32',
      });
      assert.equal((await t.call('DELETE', `${base}/${c.body.id}`, { token: maintainer.token })).status, 404);
      assert.equal(await count(), before + 1);
    });

    // --- package deletes -------------------------------------------------------------------------------------

    it('package deletes: packages API (package, file, deploy token), web UI, npm unpublish and Helm DELETE', async () => {
      const pid = project.id as number;
      const idOf = async (name: string, version: string): Promise<number> => {
        const r = await t.call('GET', `${API}/projects/${pid}/packages?package_name=${encodeURIComponent(name)}&package_version=${version}`, { token: ROOT_TOKEN });
        const found = (r.body as { id: number; name: string; version: string }[]).find((p) => p.name === name && p.version === version);
        assert.ok(found, `${name}@${version}`);
        return found.id;
      };

      await published(t, pid, '@audgrp/api-del', '1.0.0');
      const apiId = await idOf('@audgrp/api-del', '1.0.0');
      assert.equal((await t.call('DELETE', `${API}/projects/${pid}/packages/${apiId}`, { token: maintainer.token, headers: from('192.0.2.40') })).status, 204);
      const del = await latest('package_deleted');
      expectEvent(del, { author_id: maintainer.user.id, author_name: 'maint', entity_type: 'Project', entity_id: pid, target_type: 'Packages::Package', target_id: apiId, ip: '192.0.2.40' });
      assert.equal(del.details.target_details, '@audgrp/api-del@1.0.0');

      await published(t, pid, '@audgrp/file-del', '1.0.0');
      const fileOwner = await idOf('@audgrp/file-del', '1.0.0');
      const files = (await t.call('GET', `${API}/projects/${pid}/packages/${fileOwner}/package_files`, { token: ROOT_TOKEN })).body as { id: number; file_name: string }[];
      assert.equal((await t.call('DELETE', `${API}/projects/${pid}/packages/${fileOwner}/package_files/${files[0]!.id}`, { token: ROOT_TOKEN, headers: from('192.0.2.41') })).status, 204);
      const fileEvent = await latest('package_file_deleted');
      expectEvent(fileEvent, { author_id: 1, author_name: 'root', entity_type: 'Project', entity_id: pid, target_type: 'Packages::PackageFile', target_id: files[0]!.id, ip: '192.0.2.41' });
      assert.equal(fileEvent.details.target_details, files[0]!.file_name);

      // A deploy token acts under GitLab's deploy-token name, never a user's id.
      const dt = await t.call('POST', `${API}/projects/${pid}/deploy_tokens`, { token: ROOT_TOKEN, body: { name: 'cleaner', scopes: ['write_package_registry'] } });
      assert.equal(dt.status, 201, dt.text);
      await published(t, pid, '@audgrp/dt-del', '1.0.0');
      const dtId = await idOf('@audgrp/dt-del', '1.0.0');
      assert.equal((await t.call('DELETE', `${API}/projects/${pid}/packages/${dtId}`, { headers: { 'deploy-token': dt.body.token, ...from('192.0.2.42') } })).status, 204);
      const byToken = await latest('package_deleted');
      expectEvent(byToken, {
        author_id: null, author_name: `gitlab+deploy-token-${dt.body.id}`, entity_type: 'Project', entity_id: pid, target_type: 'Packages::Package', target_id: dtId, ip: '192.0.2.42',
      });
      assert.equal(byToken.details.author_class, 'DeployToken');

      // The web UI's delete button.
      await published(t, pid, '@audgrp/web-del', '1.0.0');
      const webId = await idOf('@audgrp/web-del', '1.0.0');
      const signedIn = await webSignIn('maint', 'correct-horse-1', '192.0.2.43');
      const cookie = `_wharf_session=${cookieOf(signedIn.headers['set-cookie'], '_wharf_session')}`;
      const confirm = await t.app.inject({ method: 'GET', url: `/audgrp/app/-/packages/${webId}/delete`, headers: { cookie } });
      assert.equal(confirm.statusCode, 200, confirm.body);
      const csrf = hidden(confirm.body, 'authenticity_token')!;
      const gone = await t.app.inject({
        method: 'POST',
        url: `/audgrp/app/-/packages/${webId}/delete`,
        payload: `authenticity_token=${csrf}`,
        headers: { ...FORM_TYPE, cookie, ...from('192.0.2.44') },
      });
      assert.equal(gone.statusCode, 303, gone.body);
      expectEvent(await latest('package_deleted'), {
        author_id: maintainer.user.id, author_name: 'maint', entity_type: 'Project', entity_id: pid, target_type: 'Packages::Package', target_id: webId, ip: '192.0.2.44',
      });

      // npm unpublish of a whole package: one event per version.
      await published(t, pid, '@audgrp/unpub', '1.0.0');
      await published(t, pid, '@audgrp/unpub', '1.1.0');
      const ids = [await idOf('@audgrp/unpub', '1.0.0'), await idOf('@audgrp/unpub', '1.1.0')];
      const doc = (await t.call('GET', `${npmBase(pid)}/${esc('@audgrp/unpub')}?write=true`, { headers: bearer(maintainer.token) })).body;
      const un = await t.call('DELETE', `${npmBase(pid)}/${esc('@audgrp/unpub')}/-rev/${doc._rev}`, { headers: { ...bearer(maintainer.token), ...from('192.0.2.45') } });
      assert.equal(un.status, 200, un.text);
      const unpublished = (await list()).filter((e) => e.event_name === 'package_deleted' && ids.includes(e.details.target_id));
      assert.equal(unpublished.length, 2);
      for (const e of unpublished) {
        expectEvent(e, { author_id: maintainer.user.id, author_name: 'maint', entity_type: 'Project', entity_id: pid, target_type: 'Packages::Package', target_id: e.details.target_id, ip: '192.0.2.45' });
        assert.match(e.details.custom_message, /^Unpublished npm package @audgrp\/unpub@1\.[01]\.0$/);
      }

      // Helm: ChartMuseum's DELETE of a chart version in a channel.
      const helm = `${API}/projects/${pid}/packages/helm`;
      const up = await upload(t, `${helm}/api/stable/charts`, basic('maint', maintainer.token), [{ field: 'chart', content: buildChart('audchart', '0.1.0') }]);
      assert.equal(up.status, 201, up.text);
      const chartId = await idOf('audchart', '0.1.0');
      const hd = await send(t, 'DELETE', `${helm}/api/stable/charts/audchart/0.1.0`, { headers: { authorization: basic('maint', maintainer.token), ...from('192.0.2.46') } });
      assert.equal(hd.status, 200, hd.text);
      const helmEvent = await latest('package_deleted');
      expectEvent(helmEvent, { author_id: maintainer.user.id, author_name: 'maint', entity_type: 'Project', entity_id: pid, target_type: 'Packages::Package', target_id: chartId, ip: '192.0.2.46' });
      assert.match(helmEvent.details.custom_message, /channel stable/);
    });

    it('a delete refused inside its transaction (a protection rule) records nothing', async () => {
      const pid = project.id as number;
      await published(t, pid, '@audgrp/guarded', '1.0.0');
      const rule = await t.call('POST', `${API}/projects/${pid}/packages/protection/rules`, {
        token: ROOT_TOKEN,
        body: { package_name_pattern: '@audgrp/guarded', package_type: 'npm', minimum_access_level_for_delete: 'owner' },
      });
      assert.equal(rule.status, 201, rule.text);
      const pkg = ((await t.call('GET', `${API}/projects/${pid}/packages?package_name=%40audgrp%2Fguarded`, { token: ROOT_TOKEN })).body as { id: number }[])[0]!;
      const before = await count();
      const refused = await t.call('DELETE', `${API}/projects/${pid}/packages/${pkg.id}`, { token: maintainer.token });
      assert.equal(refused.status, 403, refused.text);
      assert.equal(await count(), before);
    });

    // --- users and settings ----------------------------------------------------------------------------------

    it('users created and application settings changed (only values that change)', async () => {
      const u = await t.call('POST', `${API}/users`, {
        token: ROOT_TOKEN,
        headers: from('192.0.2.50'),
        body: { username: 'newadmin', name: 'New Admin', email: 'newadmin@example.com', password: 'new-admin-pass-1', admin: true },
      });
      assert.equal(u.status, 201, u.text);
      const created = await latest('user_created');
      expectEvent(created, { author_id: 1, author_name: 'root', entity_type: 'User', entity_id: u.body.id, target_type: 'User', target_id: u.body.id, ip: '192.0.2.50' });
      assert.match(created.details.custom_message, /administrator newadmin/);
      assert.doesNotMatch(await everything(), /new-admin-pass-1/);

      const before = await count();
      const s = await t.call('PUT', `${API}/application/settings`, { token: ROOT_TOKEN, headers: from('192.0.2.51'), body: { helm_max_packages_count: 77, npm_max_file_size: 500 * 1024 * 1024 } });
      assert.equal(s.status, 200, s.text);
      assert.equal(await count(), before + 1, 'npm_max_file_size kept its value: no event for it');
      const changed = await latest('application_setting_updated');
      expectEvent(changed, { author_id: 1, author_name: 'root', entity_type: 'Gitlab::Audit::InstanceScope', entity_id: 1, target_type: 'ApplicationSetting', target_id: 1, ip: '192.0.2.51' });
      assert.deepEqual([changed.details.change, changed.details.from, changed.details.to], ['helm_max_packages_count', 'null', '77']);
      const bad = await t.call('PUT', `${API}/application/settings`, { token: ROOT_TOKEN, body: { helm_max_packages_count: 'lots' } });
      assert.equal(bad.status, 400);
      assert.equal(await count(), before + 1);
    });

    // --- reading ---------------------------------------------------------------------------------------------

    it('is for administrators only: 401 anonymous or with a deploy token, 403 for users; a read_api admin token reads', async () => {
      for (const url of [`${API}/audit_events`, `${API}/audit_events/1`, `${API}/audit_events?entity_type=bogus`]) {
        const anon = await t.call('GET', url);
        assert.equal(anon.status, 401, url);
        assert.deepEqual(anon.body, { message: '401 Unauthorized' });
        const user = await t.call('GET', url, { token: danaToken });
        assert.equal(user.status, 403, url);
        assert.deepEqual(user.body, { message: '403 Forbidden' });
        assert.equal((await t.call('GET', url, { token: 'glpat-unknown-token' })).status, 401, url);
      }
      const dt = await t.call('POST', `${API}/projects/${project.id}/deploy_tokens`, { token: ROOT_TOKEN, body: { name: 'reader', scopes: ['read_package_registry', 'write_package_registry'] } });
      assert.equal(dt.status, 201);
      const byDeployToken = await t.call('GET', `${API}/audit_events`, { headers: { 'deploy-token': dt.body.token } });
      assert.equal(byDeployToken.status, 401);
      const readApi = await createPat(t, 1, ['read_api']);
      assert.equal((await t.call('GET', `${API}/audit_events`, { token: readApi })).status, 200);
    });

    it('lists newest first, filters by time and entity, paginates like every list, and shows one event', async () => {
      const all = await list();
      assert.ok(all.length > 20);
      const ids = all.map((e) => e.id);
      assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');

      const r = await t.call('GET', `${API}/audit_events?per_page=5&page=2`, { token: ROOT_TOKEN });
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-total'], String(await count()));
      assert.equal(r.headers['x-page'], '2');
      assert.equal(r.headers['x-per-page'], '5');
      assert.equal(r.headers['x-prev-page'], '1');
      assert.match(String(r.headers.link), /<http:\/\/wharf\.test\/api\/v4\/audit_events\?page=3&per_page=5>; rel="next"/);
      assert.deepEqual(r.body.map((e: EventJson) => e.id), ids.slice(5, 10));

      const forDana = await list(`&entity_type=User&entity_id=${dana.id}`);
      assert.ok(forDana.length > 0);
      assert.ok(forDana.every((e) => e.entity_type === 'User' && e.entity_id === dana.id));
      const projects = await list('&entity_type=Project');
      assert.ok(projects.length > 0 && projects.every((e) => e.entity_type === 'Project'));
      const instance = await list('&entity_type=Gitlab::Audit::InstanceScope');
      assert.ok(instance.some((e) => e.event_name === 'application_setting_updated'));

      const pivot = all[Math.floor(all.length / 2)]!.created_at;
      const afterPivot = await list(`&created_after=${encodeURIComponent(pivot)}`);
      assert.ok(afterPivot.length > 0 && afterPivot.every((e) => e.created_at >= pivot));
      const beforePivot = await list(`&created_before=${encodeURIComponent(pivot)}`);
      assert.ok(beforePivot.length > 0 && beforePivot.every((e) => e.created_at <= pivot));
      assert.deepEqual(await list('&created_after=2999-01-01'), []);
      assert.equal((await list('&created_before=2000-01-01T00:00:00Z')).length, 0);

      for (const [query, message] of [
        ['created_after=yesterday', 'created_after is invalid'],
        ['created_before=2026-02-30', 'created_before is invalid'],
        ['entity_type=Pipeline', 'entity_type does not have a valid value'],
        [`entity_id=${dana.id}`, 'entity_type is missing'],
      ] as const) {
        const bad = await t.call('GET', `${API}/audit_events?${query}`, { token: ROOT_TOKEN });
        assert.equal(bad.status, 400, query);
        assert.deepEqual(bad.body, { error: message }, query);
      }

      const one = await t.call('GET', `${API}/audit_events/${all[0]!.id}`, { token: ROOT_TOKEN });
      assert.equal(one.status, 200);
      assert.deepEqual(one.body, all[0]);
      assert.equal((await t.call('GET', `${API}/audit_events/999999`, { token: ROOT_TOKEN })).status, 404);
    });
  });

  describe(`audit events without a trusted proxy, and retention [${dialect}]`, () => {
    let t: TestApp;
    const clock = new TestClock('2026-01-01T00:00:00.000Z');
    before(async () => {
      t = await startApp(dialect, { clock });
    });
    after(async () => t.close());

    it('records the peer address and ignores X-Forwarded-For when the proxy is not trusted', async () => {
      const r = await t.call('POST', `${API}/users`, {
        token: ROOT_TOKEN,
        headers: { 'x-forwarded-for': '10.9.8.7' },
        body: { username: 'peer', name: 'peer', email: 'peer@example.com', password: 'peer-password-1' },
      });
      assert.equal(r.status, 201, r.text);
      const events = (await t.call('GET', `${API}/audit_events?entity_type=User&entity_id=${r.body.id}`, { token: ROOT_TOKEN })).body as EventJson[];
      assert.equal(events[0]!.event_name, 'user_created');
      assert.equal(events[0]!.details.ip_address, '127.0.0.1');
    });

    it('garbage collection deletes events past audit_events_retention_days; null keeps them', async () => {
      const db = t.deps.database.db;
      const total = async () => Number((await db.selectFrom('audit_events').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
      const old = await total();
      assert.ok(old > 0);
      clock.advance(400 * 86_400_000);
      assert.equal((await t.call('PUT', `${API}/application/settings`, { token: ROOT_TOKEN, body: { audit_events_retention_days: null } })).status, 200);
      assert.equal((await t.deps.services.gc.run({ graceMs: 0 })).auditEventsPruned, 0, 'null: kept for ever');
      assert.equal(await total(), old + 1);

      assert.equal((await t.call('PUT', `${API}/application/settings`, { token: ROOT_TOKEN, body: { audit_events_retention_days: 365 } })).status, 200);
      const dry = await t.deps.services.gc.run({ graceMs: 0, dryRun: true });
      assert.equal(dry.auditEventsPruned, old);
      assert.equal(await total(), old + 2);
      const run = await t.deps.services.gc.run({ graceMs: 0 });
      assert.equal(run.auditEventsPruned, old);
      const left = (await t.call('GET', `${API}/audit_events`, { token: ROOT_TOKEN })).body as EventJson[];
      assert.deepEqual(left.map((e) => e.details.change), ['audit_events_retention_days', 'audit_events_retention_days'], 'the recent events stay');
      const invalid = await t.call('PUT', `${API}/application/settings`, { token: ROOT_TOKEN, body: { audit_events_retention_days: 0 } });
      assert.equal(invalid.status, 400);
    });
  });
}
