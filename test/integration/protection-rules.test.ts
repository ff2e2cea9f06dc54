/**
 * Package protection rules (docs/design/gitlab-compatibility.md#protection-rules): the management API, and what they refuse — npm publish, Helm
 * upload, package and file deletion, npm unpublish — on both databases.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { basic, buildChart, multipart } from '../helpers/helm.js';
import { bearer, createNpmWorld, esc, npmBase, publish, publishBody, published, type NpmWorld } from '../helpers/npm.js';

for (const dialect of DIALECTS) {
  describe(`package protection rules [${dialect}]`, () => {
    let t: TestApp;
    let w: NpmWorld;
    let project: number;
    const rules = () => `/api/v4/projects/${project}/packages/protection/rules`;
    const rule = (body: Record<string, unknown>, token = w.token.maintainer) => t.call('POST', rules(), { token, body });
    const packageId = async (name: string, version: string) => {
      const list = await t.call('GET', `/api/v4/projects/${project}/packages?package_name=${encodeURIComponent(name)}&per_page=100`, { token: ROOT_TOKEN });
      return (list.body as Array<{ id: number; name: string; version: string }>).find((p) => p.name === name && p.version === version)!.id;
    };
    const helmUpload = (username: string, token: string, name: string, version: string) => {
      const { payload, contentType } = multipart([{ field: 'chart', content: buildChart(name, version) }]);
      return t.app.inject({
        method: 'POST',
        url: `/api/v4/projects/${project}/packages/helm/api/stable/charts`,
        headers: { authorization: basic(username, token), 'content-type': contentType },
        payload,
      });
    };

    before(async () => {
      t = await startApp(dialect);
      w = await createNpmWorld(t);
      project = w.project.private;
    });
    after(async () => t.close());

    describe('the API', () => {
      it('a Maintainer creates, lists, updates and deletes rules in GitLab’s shape', async () => {
        const created = await rule({ package_name_pattern: '@privgrp/core-*', package_type: 'npm', minimum_access_level_for_push: 'maintainer' });
        assert.equal(created.status, 201, created.text);
        assert.deepEqual(Object.keys(created.body).sort(), [
          'id',
          'minimum_access_level_for_delete',
          'minimum_access_level_for_push',
          'package_name_pattern',
          'package_type',
          'project_id',
        ]);
        assert.equal(created.body.project_id, project);
        assert.equal(created.body.minimum_access_level_for_delete, null);
        const list = await t.call('GET', rules(), { token: w.token.maintainer });
        assert.equal(list.status, 200);
        assert.deepEqual(list.body, [created.body]);
        const patched = await t.call('PATCH', `${rules()}/${created.body.id}`, { token: w.token.maintainer, body: { minimum_access_level_for_delete: 'owner' } });
        assert.equal(patched.status, 200, patched.text);
        assert.equal(patched.body.minimum_access_level_for_delete, 'owner');
        assert.equal(patched.body.minimum_access_level_for_push, 'maintainer');
        assert.equal((await t.call('DELETE', `${rules()}/${created.body.id}`, { token: w.token.maintainer })).status, 204);
        assert.deepEqual((await t.call('GET', rules(), { token: w.token.maintainer })).body, []);
        assert.equal((await t.call('DELETE', `${rules()}/${created.body.id}`, { token: w.token.maintainer })).status, 404);
      });

      it('refuses bad input with a clear 4xx and stores nothing', async () => {
        const cases: Array<[Record<string, unknown>, number, RegExp]> = [
          [{ package_type: 'npm', minimum_access_level_for_push: 'maintainer' }, 400, /package_name_pattern is missing/],
          [{ package_name_pattern: 'x', minimum_access_level_for_push: 'maintainer' }, 400, /package_type is missing/],
          [{ package_name_pattern: 'x', package_type: 'maven', minimum_access_level_for_push: 'maintainer' }, 400, /package_type does not have a valid value/],
          [{ package_name_pattern: 'x', package_type: 'npm', minimum_access_level_for_push: 'developer' }, 400, /minimum_access_level_for_push does not have a valid value/],
          [{ package_name_pattern: 'x', package_type: 'npm', minimum_access_level_for_delete: 'maintainer' }, 400, /minimum_access_level_for_delete does not have a valid value/],
          [{ package_name_pattern: 'x', package_type: 'npm' }, 400, /at least a minimum access role for push or delete/],
          [{ package_name_pattern: '  ', package_type: 'npm', minimum_access_level_for_push: 'owner' }, 400, /can't be blank/],
          [{ package_name_pattern: 'x'.repeat(256), package_type: 'npm', minimum_access_level_for_push: 'owner' }, 400, /too long/],
        ];
        for (const [body, status, message] of cases) {
          const r = await rule(body);
          assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
          assert.match(r.text, message);
        }
        assert.equal((await rule({ package_name_pattern: 'dup', package_type: 'helm', minimum_access_level_for_push: 'owner' })).status, 201);
        const dup = await rule({ package_name_pattern: 'dup', package_type: 'helm', minimum_access_level_for_delete: 'owner' });
        assert.equal(dup.status, 400);
        assert.match(dup.text, /has already been taken/);
        const all = (await t.call('GET', rules(), { token: ROOT_TOKEN })).body as Array<{ id: number; package_name_pattern: string }>;
        assert.deepEqual(all.map((r) => r.package_name_pattern), ['dup']);
        const cleared = await t.call('PATCH', `${rules()}/${all[0]!.id}`, { token: ROOT_TOKEN, body: { minimum_access_level_for_push: null } });
        assert.equal(cleared.status, 400, 'a rule left with no level is refused');
        await t.call('DELETE', `${rules()}/${all[0]!.id}`, { token: ROOT_TOKEN });
      });

      it('only Maintainers and administrators manage rules; others get 403, outsiders 404, deploy tokens and anonymous callers 401', async () => {
        const body = { package_name_pattern: 'x', package_type: 'npm', minimum_access_level_for_push: 'owner' };
        assert.equal((await rule(body, w.token.developer)).status, 403);
        assert.equal((await t.call('GET', rules(), { token: w.token.developer })).status, 403);
        assert.equal((await t.call('GET', rules(), { token: w.token.outsider })).status, 404);
        assert.equal((await t.call('GET', rules(), { headers: { 'deploy-token': w.token.deployWrite } })).status, 401);
        assert.equal((await t.call('GET', rules())).status, 401);
        assert.equal((await rule(body, w.token.readApi)).status, 403, 'a read_api token cannot write');
      });
    });

    describe('what rules refuse', () => {
      before(async () => {
        assert.equal((await rule({ package_name_pattern: '@privgrp/guarded-*', package_type: 'npm', minimum_access_level_for_push: 'maintainer', minimum_access_level_for_delete: 'owner' })).status, 201);
        assert.equal((await rule({ package_name_pattern: 'guarded-*', package_type: 'helm', minimum_access_level_for_push: 'owner' })).status, 201);
      });

      it('npm publish of a matching name: a Developer and a deploy token get 403 Package protected.; a Maintainer publishes', async () => {
        for (const token of [w.token.developer, w.token.deployWrite]) {
          const r = await publish(t, project, publishBody('@privgrp/guarded-api', '1.0.0').body, token);
          assert.equal(r.status, 403, r.text);
          assert.deepEqual(r.body, { message: 'Package protected.', error: 'Package protected.' });
        }
        assert.equal((await publish(t, project, publishBody('@privgrp/guarded-api', '1.0.0').body, w.token.maintainer)).status, 200);
        // Names the pattern does not match, case-insensitively compared, are not protected.
        assert.equal((await publish(t, project, publishBody('@privgrp/open-api', '1.0.0').body, w.token.developer)).status, 200);
        assert.equal((await publish(t, project, publishBody('@PRIVGRP/GUARDED-X', '1.0.0').body, w.token.developer, '@PRIVGRP/GUARDED-X')).status, 403);
      });

      it('Helm upload of a matching chart: a Maintainer is below owner; an administrator is exempt', async () => {
        const refused = await helmUpload('maintainer', w.token.maintainer, 'guarded-web', '1.0.0');
        assert.equal(refused.statusCode, 403, refused.body);
        // `error` too: it is the field `helm cm-push` prints.
        assert.deepEqual(JSON.parse(refused.body), { message: '403 Forbidden - Package protected.', error: 'Package protected.' });
        assert.equal((await helmUpload('root', ROOT_TOKEN, 'guarded-web', '1.0.0')).statusCode, 201);
        assert.equal((await helmUpload('developer', w.token.developer, 'plain-web', '1.0.0')).statusCode, 201);
        const index = await t.call('GET', `/api/v4/projects/${project}/packages/helm/stable/index.yaml`, { headers: { authorization: basic('root', ROOT_TOKEN) } });
        assert.match(index.text, /guarded-web/);
        assert.equal((index.text.match(/guarded-web-1\.0\.0\.tgz/g) ?? []).length, 1, 'the refused upload left nothing behind');
      });

      it('deleting a matching package or file: a Maintainer gets 403 Package is deletion protected.; an administrator deletes', async () => {
        const id = await packageId('@privgrp/guarded-api', '1.0.0');
        const del = await t.call('DELETE', `/api/v4/projects/${project}/packages/${id}`, { token: w.token.maintainer });
        assert.equal(del.status, 403, del.text);
        assert.deepEqual(del.body, { message: '403 Forbidden - Package is deletion protected.' });
        const files = (await t.call('GET', `/api/v4/projects/${project}/packages/${id}/package_files`, { token: ROOT_TOKEN })).body as Array<{ id: number }>;
        const delFile = await t.call('DELETE', `/api/v4/projects/${project}/packages/${id}/package_files/${files[0]!.id}`, { token: w.token.maintainer });
        assert.equal(delFile.status, 403);
        const unpublish = await t.call('DELETE', `${npmBase(project)}/${esc('@privgrp/guarded-api')}/-rev/whatever`, { headers: bearer(w.token.maintainer) });
        assert.equal(unpublish.status, 403, unpublish.text);
        assert.deepEqual(unpublish.body, { message: 'Package is deletion protected.', error: 'Package is deletion protected.' });
        const doc = await t.call('GET', `${npmBase(project)}/${esc('@privgrp/guarded-api')}`, { headers: bearer(w.token.maintainer) });
        assert.deepEqual(Object.keys(doc.body.versions), ['1.0.0'], 'nothing was deleted');
        // Unprotected names are deleted as before; an administrator deletes protected ones.
        const open = await packageId('@privgrp/open-api', '1.0.0');
        assert.equal((await t.call('DELETE', `/api/v4/projects/${project}/packages/${open}`, { token: w.token.maintainer })).status, 204);
        assert.equal((await t.call('DELETE', `/api/v4/projects/${project}/packages/${id}`, { token: ROOT_TOKEN })).status, 204);
      });

      it('rules belong to one project: the same name elsewhere is not protected', async () => {
        await published(t, w.project.public, '@pubgrp/guarded-api', '1.0.0');
        const r = await publish(t, w.project.public, publishBody('@privgrp/guarded-api', '2.0.0').body, w.token.developer);
        assert.notEqual(r.status, 403, r.text);
      });
    });
  });
}
