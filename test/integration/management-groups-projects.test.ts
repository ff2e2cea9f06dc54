/** Groups and projects: creation, lookup by id and path, listing, updating, and every kind of bad input. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import {
  API,
  addMember,
  assertPagination,
  createGroup,
  createProject,
  postForm,
  postQuery,
  refusedWithoutWrites,
  routeExists,
  userWithToken,
  type Created,
} from '../helpers/management.js';

const NAMESPACE_FORMAT = "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-' or end in '.', '.git' or '.atom'.";
const PROJECT_FORMAT = "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in '.git' or end in '.atom'";
const OCI_FORMAT =
  "can only include non-accented letters, digits, '_', '-' and '.'. It must not start with '-', '_', or '.', nor end with '-', '_', '.', '.git', or '.atom'.";
const GROUP_NAME = "can contain only letters, digits, emoji, '_', '.', dash, space, parenthesis. It must start with letter, digit, emoji or '_'.";
const PROJECT_NAME =
  "can contain only letters, digits, emoji, '_', '.', '+', dashes, or spaces. It must start with a letter, digit, emoji, or '_'.";

/** GitLab's group-create failure: the Ruby hash of errors inside a string. */
const failedToSave = (fields: Record<string, string[]>) =>
  `Failed to save group {${Object.entries(fields)
    .map(([k, v]) => `:${k}=>${JSON.stringify(v)}`)
    .join(', ')}}`;

for (const dialect of DIALECTS) {
  describe(`management API: groups and projects [${dialect}]`, () => {
    let t: TestApp;
    let dev: { user: Created; token: string };
    let maintainer: { user: Created; token: string };
    let outsider: { user: Created; token: string };
    let corp: Created;
    let corpTeam: Created;
    let secret: Created;

    before(async () => {
      t = await startApp(dialect);
      dev = await userWithToken(t, 'dev');
      maintainer = await userWithToken(t, 'maint');
      outsider = await userWithToken(t, 'outsider');
      corp = await createGroup(t, 'corp', { name: 'Corp', visibility: 'private' });
      corpTeam = await createGroup(t, 'team', { name: 'Team', parent_id: corp.id });
      secret = await createGroup(t, 'secret', { visibility: 'private' });
      await addMember(t, 'groups', corp.id, dev.user.id, 30);
      await addMember(t, 'groups', corp.id, maintainer.user.id, 40);
    });
    after(async () => t.close());

    describe('POST /groups', () => {
      it('creates top-level groups from JSON, form fields and the query string', async () => {
        const json = await t.call('POST', `${API}/groups`, { token: ROOT_TOKEN, body: { name: 'Json Group', path: 'json-group', visibility: 'internal' } });
        assert.equal(json.status, 201, json.text);
        assert.equal(json.body.full_path, 'json-group');
        assert.equal(json.body.visibility, 'internal');
        for (const field of ['id', 'web_url', 'name', 'path', 'description', 'visibility', 'full_name', 'full_path', 'created_at', 'parent_id', 'projects', 'shared_projects']) {
          assert.ok(field in json.body, field);
        }
        const f = await postForm(t, 'POST', `${API}/groups`, ROOT_TOKEN, { name: 'Form Group', path: 'form-group' });
        assert.equal(f.status, 201, f.text);
        assert.equal(f.body.visibility, 'private', 'private by default');
        const q = await postQuery(t, 'POST', `${API}/groups`, ROOT_TOKEN, { name: 'Query Group', path: 'query-group', parent_id: f.body.id });
        assert.equal(q.status, 201, q.text);
        assert.equal(q.body.parent_id, f.body.id);
        assert.equal(q.body.full_path, 'form-group/query-group');
        assert.equal(q.body.full_name, 'Form Group / Query Group');
      });

      it('lets any user create a top-level group, which they then own', async () => {
        const r = await t.call('POST', `${API}/groups`, { token: outsider.token, body: { name: 'Mine', path: 'outsider-group' } });
        assert.equal(r.status, 201, r.text);
        const members = await t.call('GET', `${API}/groups/${r.body.id}/members`, { token: outsider.token });
        assert.deepEqual(
          members.body.map((m: any) => [m.username, m.access_level]),
          [['outsider', 50]],
        );
        const owned = await t.call('GET', `${API}/groups?owned=true`, { token: outsider.token });
        assert.deepEqual(owned.body.map((g: any) => g.full_path), ['outsider-group']);
      });

      it('refuses missing and mistyped parameters with Grape’s messages', async () => {
        const cases: [unknown, string][] = [
          [{ path: 'no-name' }, 'name is missing'],
          [{ name: 'no path' }, 'path is missing'],
          [{ name: 'x', path: 'bad-parent', parent_id: 'abc' }, 'parent_id is invalid'],
          [{ name: 'x', path: 'bad-parent', parent_id: 1.5 }, 'parent_id is invalid'],
          [{ name: 'x', path: 'bad-vis', visibility: 'secret' }, 'visibility does not have a valid value'],
          [{ name: 'x', path: 'bad-vis', visibility: 10 }, 'visibility does not have a valid value'],
          [{ name: { first: 'x' }, path: 'bad-name' }, 'name is invalid'],
        ];
        for (const [body, error] of cases) {
          const r = await refusedWithoutWrites(t, () => t.call('POST', `${API}/groups`, { token: ROOT_TOKEN, body }));
          assert.equal(r.status, 400, JSON.stringify(body));
          assert.deepEqual(r.body, { error }, JSON.stringify(body));
        }
        const form = await refusedWithoutWrites(t, () => postForm(t, 'POST', `${API}/groups`, ROOT_TOKEN, { name: 'x', path: 'p', parent_id: 'abc' }));
        assert.deepEqual(form.body, { error: 'parent_id is invalid' });
      });

      it('answers a parent that does not exist or cannot be seen with 404, and a parent without rights with 403', async () => {
        const userNs = dev.user.namespace_id;
        for (const [token, parent] of [
          [ROOT_TOKEN, 999999],
          [ROOT_TOKEN, 0],
          [ROOT_TOKEN, userNs],
          [outsider.token, corp.id],
        ] as const) {
          const r = await refusedWithoutWrites(t, () => t.call('POST', `${API}/groups`, { token, body: { name: 'child', path: 'child', parent_id: parent } }));
          assert.equal(r.status, 404, String(parent));
          assert.deepEqual(r.body, { message: '404 Group Not Found' });
        }
        const devTry = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/groups`, { token: dev.token, body: { name: 'child', path: 'child', parent_id: corp.id } }),
        );
        assert.equal(devTry.status, 403);
        assert.deepEqual(devTry.body, { message: '403 Forbidden' });
        const ok = await t.call('POST', `${API}/groups`, { token: maintainer.token, body: { name: 'child', path: 'child', parent_id: corp.id } });
        assert.equal(ok.status, 201, 'a Maintainer may create subgroups');
      });

      it('answers duplicate paths with GitLab’s "Failed to save group" string, case-insensitively', async () => {
        const cases: [Record<string, unknown>, Record<string, string[]>][] = [
          [{ name: 'corp again', path: 'CORP' }, { path: ['has already been taken'] }],
          [{ name: 'team again', path: 'Team', parent_id: corp.id }, { path: ['has already been taken'] }],
          [{ name: 'Team', path: 'team-2', parent_id: corp.id }, { name: ['has already been taken'] }],
          [{ name: 'Team', path: 'team', parent_id: corp.id }, { name: ['has already been taken'], path: ['has already been taken'] }],
          // A user's personal namespace holds its path too.
          [{ name: 'dev group', path: 'dev' }, { path: ['has already been taken'] }],
        ];
        for (const [body, fields] of cases) {
          const r = await refusedWithoutWrites(t, () => t.call('POST', `${API}/groups`, { token: ROOT_TOKEN, body }));
          assert.equal(r.status, 400, JSON.stringify(body));
          assert.deepEqual(r.body, { message: failedToSave(fields) }, JSON.stringify(body));
        }
        // Group names are unique among siblings only.
        const topLevelSameName = await t.call('POST', `${API}/groups`, { token: ROOT_TOKEN, body: { name: 'Corp', path: 'corp-2' } });
        assert.equal(topLevelSameName.status, 201);
      });

      it('applies GitLab’s path rules to top-level groups and subgroups', async () => {
        const top: [string, string[]][] = [
          ['admin', ['admin is a reserved name']],
          ['api', ['api is a reserved name']],
          ['Groups', ['Groups is a reserved name']],
          ['-', [NAMESPACE_FORMAT, OCI_FORMAT, 'is too short (minimum is 2 characters)']],
          ['-lead', [NAMESPACE_FORMAT, OCI_FORMAT]],
          ['trail.', [NAMESPACE_FORMAT, OCI_FORMAT]],
          ['repo.git', [NAMESPACE_FORMAT]],
          ['feed.atom', [NAMESPACE_FORMAT]],
          ['a..b', [OCI_FORMAT]],
          ['a-_b', [OCI_FORMAT]],
          ['x', ['is too short (minimum is 2 characters)']],
          ['has space', [NAMESPACE_FORMAT, OCI_FORMAT]],
          ['g'.repeat(256), ['is too long (maximum is 255 characters)']],
          ['', ["can't be blank"]],
        ];
        for (const [path, messages] of top) {
          const r = await refusedWithoutWrites(t, () => t.call('POST', `${API}/groups`, { token: ROOT_TOKEN, body: { name: 'Rules', path } }));
          assert.equal(r.status, 400, path);
          assert.deepEqual(r.body, { message: failedToSave({ path: messages }) }, path);
        }
        const sub: [string, string[]][] = [
          ['badges', ['badges is a reserved name']],
          ['-', [NAMESPACE_FORMAT, OCI_FORMAT, 'is too short (minimum is 2 characters)']],
          ['y', ['is too short (minimum is 2 characters)']],
        ];
        for (const [path, messages] of sub) {
          const r = await refusedWithoutWrites(t, () =>
            t.call('POST', `${API}/groups`, { token: ROOT_TOKEN, body: { name: 'Rules', path, parent_id: corp.id } }),
          );
          assert.equal(r.status, 400, path);
          assert.deepEqual(r.body, { message: failedToSave({ path: messages }) }, path);
        }
        // Top-level words are fine below the top.
        const admin = await t.call('POST', `${API}/groups`, { token: ROOT_TOKEN, body: { name: 'Admin', path: 'admin', parent_id: corp.id } });
        assert.equal(admin.status, 201, admin.text);
        assert.equal(await routeExists(t, 'admin'), false);
      });

      it('validates name, description and visibility against the parent', async () => {
        const cases: [Record<string, unknown>, Record<string, string[]>][] = [
          [{ name: '', path: 'nameless' }, { name: ["can't be blank"] }],
          [{ name: '-dash', path: 'dash' }, { name: [GROUP_NAME] }],
          [{ name: 'n'.repeat(256), path: 'long-name' }, { name: ['is too long (maximum is 255 characters)'] }],
          [{ name: 'desc', path: 'desc', description: 'd'.repeat(501) }, { description: ['is too long (maximum is 500 characters)'] }],
          [
            { name: 'public child', path: 'public-child', parent_id: corp.id, visibility: 'public' },
            { visibility_level: ['public is not allowed since the parent group has a private visibility.'] },
          ],
          [
            { name: '-bad', path: 'a..b' },
            { name: [GROUP_NAME], path: [OCI_FORMAT] },
          ],
        ];
        for (const [body, fields] of cases) {
          const r = await refusedWithoutWrites(t, () => t.call('POST', `${API}/groups`, { token: ROOT_TOKEN, body }));
          assert.equal(r.status, 400, JSON.stringify(body));
          assert.deepEqual(r.body, { message: failedToSave(fields) });
        }
        for (const path of ['nameless', 'dash', 'desc', 'corp/public-child']) assert.equal(await routeExists(t, path), false, path);
        // The refused paths are still free.
        const ok = await t.call('POST', `${API}/groups`, { token: ROOT_TOKEN, body: { name: 'Public Child', path: 'public-child', parent_id: corp.id } });
        assert.equal(ok.status, 201);
        assert.equal(ok.body.visibility, 'private');
      });

      it('nests at most 20 ancestors deep, as GitLab', async () => {
        let parent = await createGroup(t, 'deep0');
        for (let depth = 1; depth <= 20; depth++) parent = await createGroup(t, `deep${depth}`, { parent_id: parent.id });
        assert.equal(parent.full_path.split('/').length, 21);
        const r = await refusedWithoutWrites(t, () =>
          t.call('POST', `${API}/groups`, { token: ROOT_TOKEN, body: { name: 'too deep', path: 'too-deep', parent_id: parent.id } }),
        );
        assert.equal(r.status, 400);
        assert.deepEqual(r.body, { message: failedToSave({ parent_id: ['has too deep level of nesting'] }) });
      });
    });

    describe('GET /groups and GET /groups/:id', () => {
      it('finds a group by id, full path and URL-encoded full path', async () => {
        for (const id of [String(corpTeam.id), 'corp%2Fteam', 'CORP%2FTEAM']) {
          const r = await t.call('GET', `${API}/groups/${id}`, { token: dev.token });
          assert.equal(r.status, 200, id);
          assert.equal(r.body.id, corpTeam.id);
          assert.equal(r.body.full_path, 'corp/team');
          assert.deepEqual(r.body.projects, []);
        }
      });

      it('answers unknown groups, user namespaces and invisible groups with 404', async () => {
        for (const id of ['999999', '0', '-1', 'nope', 'corp%2Fnope', 'dev', String(dev.user.namespace_id), '99999999999999999999999']) {
          const r = await t.call('GET', `${API}/groups/${id}`, { token: ROOT_TOKEN });
          assert.equal(r.status, 404, id);
          assert.deepEqual(r.body, { message: '404 Group Not Found' });
        }
        const hidden = await t.call('GET', `${API}/groups/secret`, { token: dev.token });
        assert.equal(hidden.status, 404);
        const projects = await t.call('GET', `${API}/groups/secret/projects`, { token: dev.token });
        assert.equal(projects.status, 404);
        assert.deepEqual(projects.body, { message: '404 Group Not Found' });
      });

      it('lists every group to admins and filters by search and top level', async () => {
        const all = await t.call('GET', `${API}/groups?per_page=100`, { token: ROOT_TOKEN });
        assert.equal(all.status, 200);
        const paths = all.body.map((g: any) => g.full_path);
        for (const p of ['corp', 'corp/team', 'secret']) assert.ok(paths.includes(p), p);
        const top = await t.call('GET', `${API}/groups?top_level_only=true&per_page=100`, { token: ROOT_TOKEN });
        assert.ok(top.body.every((g: any) => g.parent_id === null));
        assert.ok(!top.body.some((g: any) => g.full_path === 'corp/team'));
        const search = await t.call('GET', `${API}/groups?search=TEAM`, { token: ROOT_TOKEN });
        assert.ok(search.body.length >= 1);
        assert.ok(search.body.every((g: any) => g.full_path.toLowerCase().includes('team') || g.name.toLowerCase().includes('team')));
      });

      it('treats LIKE wildcards in a search literally', async () => {
        await createGroup(t, 'snake_case');
        await createGroup(t, 'snakeXcase');
        const r = await t.call('GET', `${API}/groups?search=snake_c`, { token: ROOT_TOKEN });
        assert.deepEqual(r.body.map((g: any) => g.full_path), ['snake_case']);
        const pct = await t.call('GET', `${API}/groups?search=%25`, { token: ROOT_TOKEN });
        assert.deepEqual(pct.body, []);
      });

      it('shows a member the groups below their group, and hides other private groups', async () => {
        const r = await t.call('GET', `${API}/groups?per_page=100`, { token: dev.token });
        const paths: string[] = r.body.map((g: any) => g.full_path);
        assert.ok(paths.includes('corp'));
        assert.ok(paths.includes('corp/team'), 'inherited membership shows the private subgroup');
        assert.ok(!paths.includes('secret'));
        assert.ok(paths.includes('json-group'), 'internal groups are listed for signed-in users');
        const anon = await t.call('GET', `${API}/groups?per_page=100`);
        assert.ok(anon.body.every((g: any) => g.visibility === 'public'));
      });

      it('shows a member of a subgroup its parent groups', async () => {
        const sub = await userWithToken(t, 'subonly');
        await addMember(t, 'groups', corpTeam.id, sub.user.id, 10);
        const r = await t.call('GET', `${API}/groups?per_page=100`, { token: sub.token });
        const paths: string[] = r.body.map((g: any) => g.full_path);
        assert.ok(paths.includes('corp/team'));
        assert.ok(paths.includes('corp'), 'the parent of a group one belongs to is visible, as GET /groups/:id allows');
        assert.ok(!paths.includes('corp/child'), 'siblings stay hidden');
        const parent = await t.call('GET', `${API}/groups/corp`, { token: sub.token });
        assert.equal(parent.status, 200);
      });

      it('paginates groups', async () => {
        const all = await t.call('GET', `${API}/groups?per_page=100`, { token: ROOT_TOKEN });
        const total = all.body.length;
        const totalPages = Math.ceil(total / 3);
        const r = await t.call('GET', `${API}/groups?per_page=3&page=2`, { token: ROOT_TOKEN });
        assert.equal(r.status, 200);
        assert.equal(r.body.length, 3);
        assertPagination(r, { page: 2, perPage: 3, total, totalPages, next: 3, prev: 1 });
        assert.deepEqual(
          r.body.map((g: any) => g.id),
          all.body.slice(3, 6).map((g: any) => g.id),
        );
        const bad = await t.call('GET', `${API}/groups?per_page=0`, { token: ROOT_TOKEN });
        assert.equal(bad.status, 400);
        assert.deepEqual(bad.body, { error: 'per_page does not have a valid value' });
        const badBool = await t.call('GET', `${API}/groups?top_level_only=perhaps`, { token: ROOT_TOKEN });
        assert.equal(badBool.status, 400);
        assert.deepEqual(badBool.body, { error: 'top_level_only is invalid' });
      });
    });

    describe('POST /projects', () => {
      it('creates projects from JSON, form fields and the query string; derives path from name and name from path', async () => {
        const json = await t.call('POST', `${API}/projects`, {
          token: ROOT_TOKEN,
          body: { name: 'My Fancy Project', namespace_id: corp.id, description: 'fancy', package_registry_access_level: 'private' },
        });
        assert.equal(json.status, 201, json.text);
        assert.equal(json.body.path, 'my-fancy-project');
        assert.equal(json.body.name, 'My Fancy Project');
        assert.equal(json.body.description, 'fancy');
        assert.equal(json.body.package_registry_access_level, 'private');
        assert.equal(json.body.visibility, 'private');
        assert.equal(json.body.path_with_namespace, 'corp/my-fancy-project');
        assert.equal(json.body.empty_repo, true);
        assert.equal(json.body.archived, false);

        const f = await postForm(t, 'POST', `${API}/projects`, ROOT_TOKEN, { path: 'form-proj', namespace_id: corp.id, visibility: 'internal' });
        assert.equal(f.status, 201, f.text);
        assert.equal(f.body.name, 'form-proj');
        // Capped to the group's visibility, quietly, as GitLab does.
        assert.equal(f.body.visibility, 'private');

        const q = await postQuery(t, 'POST', `${API}/projects`, dev.token, { name: 'query-proj', namespace_id: corpTeam.id });
        assert.equal(q.status, 201, q.text);
        assert.equal(q.body.path_with_namespace, 'corp/team/query-proj');
        assert.equal(q.body.creator_id, dev.user.id);

        const personal = await t.call('POST', `${API}/projects`, { token: dev.token, body: { path: 'a' } });
        assert.equal(personal.status, 201, 'one-character project paths are allowed');
        assert.equal(personal.body.path_with_namespace, 'dev/a');
        assert.equal(personal.body.visibility, 'private');

        const curl = await t.call('POST', `${API}/projects?path=empty-json-body&namespace_id=${corp.id}`, {
          token: ROOT_TOKEN,
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(curl.status, 201, `a JSON content type with an empty body and query parameters: ${curl.text}`);
      });

      it('refuses missing and mistyped parameters', async () => {
        const cases: [unknown, string][] = [
          [{}, 'name, path are missing, at least one parameter must be provided'],
          [{ description: 'only' }, 'name, path are missing, at least one parameter must be provided'],
          [{ path: 'p1', namespace_id: 'abc' }, 'namespace_id is invalid'],
          [{ path: 'p1', visibility: 'open' }, 'visibility does not have a valid value'],
          [{ path: 'p1', package_registry_access_level: 'everyone' }, 'package_registry_access_level does not have a valid value'],
        ];
        for (const [body, error] of cases) {
          const r = await refusedWithoutWrites(t, () => t.call('POST', `${API}/projects`, { token: ROOT_TOKEN, body }));
          assert.equal(r.status, 400, JSON.stringify(body));
          assert.deepEqual(r.body, { error }, JSON.stringify(body));
        }
      });

      it('answers a namespace the caller may not use with {"namespace":["is not valid"]}', async () => {
        const cases: [string, unknown][] = [
          [ROOT_TOKEN, 999999],
          [outsider.token, corp.id],
          [outsider.token, dev.user.namespace_id],
          [outsider.token, secret.id],
        ];
        const reporter = await userWithToken(t, 'reporter');
        await addMember(t, 'groups', corp.id, reporter.user.id, 20);
        cases.push([reporter.token, corp.id]);
        for (const [token, namespace_id] of cases) {
          const r = await refusedWithoutWrites(t, () => t.call('POST', `${API}/projects`, { token, body: { path: 'nsproj', namespace_id } }));
          assert.equal(r.status, 400, String(namespace_id));
          assert.deepEqual(r.body, { message: { namespace: ['is not valid'] } });
        }
        // Admins may create in anyone's namespace.
        const admin = await t.call('POST', `${API}/projects`, { token: ROOT_TOKEN, body: { path: 'nsproj', namespace_id: outsider.user.namespace_id } });
        assert.equal(admin.status, 201);
      });

      it('answers duplicates with the name and path errors, and leaves the route untouched', async () => {
        await createProject(t, 'dup', corp.id, { name: 'Dup' });
        const cases: [Record<string, unknown>, Record<string, string[]>][] = [
          [{ name: 'Dup', path: 'dup' }, { name: ['has already been taken'], path: ['has already been taken'] }],
          [{ name: 'Other', path: 'DUP' }, { path: ['has already been taken'] }],
          [{ name: 'Dup', path: 'dup-2' }, { name: ['has already been taken'] }],
          // Groups and projects share the route space.
          [{ name: 'team', path: 'team' }, { path: ['has already been taken'] }],
        ];
        for (const [body, fields] of cases) {
          const r = await refusedWithoutWrites(t, () => t.call('POST', `${API}/projects`, { token: ROOT_TOKEN, body: { ...body, namespace_id: corp.id } }));
          assert.equal(r.status, 400, JSON.stringify(body));
          assert.deepEqual(r.body, { message: fields }, JSON.stringify(body));
        }
        assert.equal(await routeExists(t, 'corp/dup-2'), false);
        // The same name and path are fine in another namespace.
        const elsewhere = await t.call('POST', `${API}/projects`, { token: ROOT_TOKEN, body: { name: 'Dup', path: 'dup', namespace_id: corpTeam.id } });
        assert.equal(elsewhere.status, 201);
      });

      it('applies GitLab’s project path and name rules, and a refused project leaves its path free', async () => {
        const cases: [Record<string, unknown>, Record<string, string[]>][] = [
          [{ path: 'repo.git' }, { path: [PROJECT_FORMAT] }],
          [{ path: 'feed.atom' }, { path: [PROJECT_FORMAT] }],
          [{ path: '-lead' }, { path: [PROJECT_FORMAT, OCI_FORMAT] }],
          [{ path: 'a..b' }, { path: [OCI_FORMAT] }],
          [{ path: 'trail.' }, { path: [OCI_FORMAT] }],
          [{ path: 'badges' }, { path: ['badges is a reserved name'] }],
          [{ path: '-' }, { path: [PROJECT_FORMAT, OCI_FORMAT] }],
          // GitLab's project path regex itself stops at 255 characters, so both checks fail.
          [{ path: 'p'.repeat(256) }, { path: ['is too long (maximum is 255 characters)', PROJECT_FORMAT] }],
          [{ path: '' }, { path: ["can't be blank"] }],
          [{ name: '-dash', path: 'dash' }, { name: [PROJECT_NAME] }],
          [{ name: 'ok', path: 'ok', description: 'd'.repeat(2001) }, { description: ['is too long (maximum is 2000 characters)'] }],
          [{ name: '!bad', path: 'a..b' }, { name: [PROJECT_NAME], path: [OCI_FORMAT] }],
        ];
        for (const [body, fields] of cases) {
          const r = await refusedWithoutWrites(t, () =>
            t.call('POST', `${API}/projects`, { token: ROOT_TOKEN, body: { name: 'Valid Name', ...body, namespace_id: corp.id } }),
          );
          assert.equal(r.status, 400, JSON.stringify(body));
          assert.deepEqual(r.body, { message: fields }, JSON.stringify(body));
        }
        // Given only a path, the name is the path, and both are validated.
        const onlyPath = await refusedWithoutWrites(t, () => t.call('POST', `${API}/projects`, { token: ROOT_TOKEN, body: { path: '-x', namespace_id: corp.id } }));
        assert.deepEqual(onlyPath.body, { message: { name: [PROJECT_NAME], path: [PROJECT_FORMAT, OCI_FORMAT] } });
        for (const path of ['corp/dash', 'corp/ok', 'corp/-lead']) assert.equal(await routeExists(t, path), false, path);
        const missing = await t.call('GET', `${API}/projects/corp%2Fdash`, { token: ROOT_TOKEN });
        assert.equal(missing.status, 404);
        // Words reserved at the top level are fine for projects.
        const admin = await t.call('POST', `${API}/projects`, { token: ROOT_TOKEN, body: { path: 'admin', namespace_id: corpTeam.id } });
        assert.equal(admin.status, 201, admin.text);
        assert.equal(admin.body.path_with_namespace, 'corp/team/admin');
        const dash = await t.call('POST', `${API}/projects`, { token: ROOT_TOKEN, body: { name: 'Dash', path: 'dash', namespace_id: corp.id } });
        assert.equal(dash.status, 201, 'the refused path is still free');
      });
    });

    describe('GET /projects and GET /projects/:id', () => {
      let web: Created;
      before(async () => {
        web = await createProject(t, 'web', corpTeam.id, { name: 'Web' });
      });

      it('finds a project by id and by URL-encoded path; 404 otherwise', async () => {
        for (const id of [String(web.id), 'corp%2Fteam%2Fweb', 'Corp%2FTeam%2FWeb']) {
          const r = await t.call('GET', `${API}/projects/${id}`, { token: dev.token });
          assert.equal(r.status, 200, id);
          assert.equal(r.body.id, web.id);
        }
        for (const id of ['999999', '0', '-5', 'web', 'corp%2Fteam', 'corp%2Fteam%2Fnope', '99999999999999999999999']) {
          const r = await t.call('GET', `${API}/projects/${id}`, { token: ROOT_TOKEN });
          assert.equal(r.status, 404, id);
          assert.deepEqual(r.body, { message: '404 Project Not Found' });
        }
        const hidden = await t.call('GET', `${API}/projects/${web.id}`, { token: outsider.token });
        assert.equal(hidden.status, 404);
        assert.deepEqual(hidden.body, { message: '404 Project Not Found' });
      });

      it('lists, searches and filters projects with pagination', async () => {
        const all = await t.call('GET', `${API}/projects?per_page=100`, { token: ROOT_TOKEN });
        assert.equal(all.status, 200);
        const total = all.body.length;
        assert.ok(total >= 5);
        const ids = all.body.map((p: any) => p.id);
        assert.deepEqual(ids, [...ids].sort((a: number, b: number) => b - a), 'newest first, as GitLab orders by created_at desc');
        const page = await t.call('GET', `${API}/projects?per_page=2&page=2`, { token: ROOT_TOKEN });
        assertPagination(page, { page: 2, perPage: 2, total, totalPages: Math.ceil(total / 2), next: total > 4 ? 3 : null, prev: 1 });
        assert.deepEqual(
          page.body.map((p: any) => p.id),
          ids.slice(2, 4),
        );
        const search = await t.call('GET', `${API}/projects?search=fancy`, { token: ROOT_TOKEN });
        assert.deepEqual(search.body.map((p: any) => p.path), ['my-fancy-project']);
        const internal = await t.call('GET', `${API}/projects?visibility=internal`, { token: ROOT_TOKEN });
        assert.ok(internal.body.every((p: any) => p.visibility === 'internal'));
        const bad = await t.call('GET', `${API}/projects?visibility=everyone`, { token: ROOT_TOKEN });
        assert.equal(bad.status, 400);
        assert.deepEqual(bad.body, { error: 'visibility does not have a valid value' });
      });

      it('lists the group’s projects, with subgroups on request', async () => {
        const direct = await t.call('GET', `${API}/groups/${corp.id}/projects?per_page=100`, { token: dev.token });
        assert.equal(direct.status, 200);
        assert.ok(direct.body.every((p: any) => p.namespace.id === corp.id));
        const tree = await t.call('GET', `${API}/groups/corp/projects?include_subgroups=true&per_page=100`, { token: dev.token });
        assert.ok(tree.body.some((p: any) => p.id === web.id));
        assert.equal(tree.headers['x-total'], String(tree.body.length));
        const searched = await t.call('GET', `${API}/groups/corp/projects?include_subgroups=true&search=web`, { token: dev.token });
        assert.deepEqual(searched.body.map((p: any) => p.id), [web.id]);
        const total = tree.body.length;
        const paged = await t.call('GET', `${API}/groups/corp/projects?include_subgroups=true&per_page=1&page=2`, { token: dev.token });
        assert.equal(paged.status, 200);
        assertPagination(paged, { page: 2, perPage: 1, total, totalPages: total, next: total > 2 ? 3 : null, prev: 1 });
        assert.deepEqual(paged.body.map((p: any) => p.id), [tree.body[1].id]);
        const link = String(paged.headers.link);
        assert.ok(link.includes('include_subgroups=true'), 'Link keeps the other query parameters');
        assert.ok(link.includes('/api/v4/groups/corp/projects?'), link);
      });
    });

    describe('PUT /projects/:id', () => {
      let app: Created;
      before(async () => {
        app = await createProject(t, 'app', corp.id, { name: 'App' });
      });

      it('updates from JSON, form fields and the query string', async () => {
        const json = await t.call('PUT', `${API}/projects/${app.id}`, { token: maintainer.token, body: { description: 'new', package_registry_access_level: 'public' } });
        assert.equal(json.status, 200, json.text);
        assert.equal(json.body.description, 'new');
        assert.equal(json.body.package_registry_access_level, 'public');
        const f = await postForm(t, 'PUT', `${API}/projects/corp%2Fapp`, ROOT_TOKEN, { name: 'App Renamed' });
        assert.equal(f.status, 200, f.text);
        assert.equal(f.body.name, 'App Renamed');
        assert.equal(f.body.path, 'app', 'renaming keeps the path');
        const q = await postQuery(t, 'PUT', `${API}/projects/${app.id}`, ROOT_TOKEN, { package_registry_access_level: 'disabled' });
        assert.equal(q.status, 200, q.text);
        assert.equal(q.body.packages_enabled, false);
        const again = await t.call('GET', `${API}/projects/${app.id}`, { token: ROOT_TOKEN });
        assert.equal(again.body.name, 'App Renamed');
        assert.equal(again.body.package_registry_access_level, 'disabled');
      });

      it('refuses bad input without changing the project', async () => {
        const before = (await t.call('GET', `${API}/projects/${app.id}`, { token: ROOT_TOKEN })).body;
        await createProject(t, 'other-app', corp.id, { name: 'Other App' });
        const cases: [unknown, unknown][] = [
          [{}, { error: 'name, description, visibility, package_registry_access_level are missing, at least one parameter must be provided' }],
          [{ visibility: 'open' }, { error: 'visibility does not have a valid value' }],
          [{ package_registry_access_level: 1 }, { error: 'package_registry_access_level does not have a valid value' }],
          [{ visibility: 'public' }, { message: { visibility_level: ['public is not allowed in a private group.'] } }],
          [{ name: '-x' }, { message: { name: [PROJECT_NAME] } }],
          [{ name: 'Other App' }, { message: { name: ['has already been taken'] } }],
          [{ description: 'd'.repeat(2001) }, { message: { description: ['is too long (maximum is 2000 characters)'] } }],
        ];
        for (const [body, expected] of cases) {
          const r = await t.call('PUT', `${API}/projects/${app.id}`, { token: ROOT_TOKEN, body });
          assert.equal(r.status, 400, JSON.stringify(body));
          assert.deepEqual(r.body, expected, JSON.stringify(body));
        }
        const empty = await t.call('PUT', `${API}/projects/${app.id}`, { token: ROOT_TOKEN });
        assert.equal(empty.status, 400);
        const after = (await t.call('GET', `${API}/projects/${app.id}`, { token: ROOT_TOKEN })).body;
        assert.deepEqual(after, before);
        // Renaming to its own name is no conflict.
        const same = await t.call('PUT', `${API}/projects/${app.id}`, { token: ROOT_TOKEN, body: { name: before.name } });
        assert.equal(same.status, 200);
      });

      it('needs Maintainer: 403 for a Developer, 404 for a stranger, 401 for anonymous, 404 for an unknown project', async () => {
        const devTry = await t.call('PUT', `${API}/projects/${app.id}`, { token: dev.token, body: { description: 'dev' } });
        assert.equal(devTry.status, 403);
        assert.deepEqual(devTry.body, { message: '403 Forbidden' });
        const stranger = await t.call('PUT', `${API}/projects/${app.id}`, { token: outsider.token, body: { description: 'x' } });
        assert.equal(stranger.status, 404);
        assert.deepEqual(stranger.body, { message: '404 Project Not Found' });
        const anon = await t.call('PUT', `${API}/projects/${app.id}`, { body: { description: 'x' } });
        assert.equal(anon.status, 401);
        const unknown = await t.call('PUT', `${API}/projects/corp%2Fnothing`, { token: ROOT_TOKEN, body: { description: 'x' } });
        assert.equal(unknown.status, 404);
        assert.deepEqual(unknown.body, { message: '404 Project Not Found' });
        const after = await t.call('GET', `${API}/projects/${app.id}`, { token: ROOT_TOKEN });
        assert.notEqual(after.body.description, 'dev');
      });
    });
  });
}
