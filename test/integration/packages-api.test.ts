/** GitLab's package-management reads (docs/design/gitlab-compatibility.md#package-management-api): listing, filters, one package, its files, downloads, and who may see. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { createNpmWorld, published, type NpmWorld } from '../helpers/npm.js';

for (const dialect of DIALECTS) {
  describe(`packages API reads [${dialect}]`, () => {
    let t: TestApp;
    let w: NpmWorld;
    const tgz: Record<string, Buffer> = {};
    before(async () => {
      t = await startApp(dialect);
      w = await createNpmWorld(t);
      tgz.pub1 = (await published(t, w.project.public, '@pubgrp/alpha', '1.0.0')).tgz;
      await published(t, w.project.public, '@pubgrp/alpha', '1.1.0');
      await published(t, w.project.public, '@pubgrp/beta', '0.1.0');
      tgz.priv = (await published(t, w.project.private, '@privgrp/secret', '2.0.0')).tgz;
    });
    after(async () => t.close());

    const list = (url: string, token?: string) => t.call('GET', `/api/v4${url}`, { token });

    it('lists a project’s packages with GitLab’s fields and pagination', async () => {
      const r = await list(`/projects/${w.project.public}/packages?per_page=2`);
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-total'], '3');
      assert.equal(r.headers['x-next-page'], '2');
      assert.equal(r.body.length, 2);
      const [first] = r.body;
      assert.equal(first.name, '@pubgrp/alpha');
      assert.equal(first.version, '1.0.0');
      assert.equal(first.package_type, 'npm');
      assert.equal(first.status, 'default');
      assert.match(first._links.delete_api_path, new RegExp(`/api/v4/projects/${w.project.public}/packages/${first.id}$`));
      const alpha11 = (await list(`/projects/${w.project.public}/packages?package_version=1.1.0`)).body[0];
      assert.deepEqual(alpha11.tags, [{ name: 'latest' }]);
    });

    it('filters by name (substring, case-insensitive), version and type, and orders', async () => {
      const byName = await list(`/projects/${w.project.public}/packages?package_name=ALPHA`);
      assert.deepEqual(byName.body.map((p: any) => p.version).sort(), ['1.0.0', '1.1.0']);
      const byVersion = await list(`/projects/${w.project.public}/packages?package_version=0.1.0`);
      assert.deepEqual(byVersion.body.map((p: any) => p.name), ['@pubgrp/beta']);
      assert.equal((await list(`/projects/${w.project.public}/packages?package_type=helm`)).body.length, 0);
      const desc = await list(`/projects/${w.project.public}/packages?order_by=name&sort=desc`);
      assert.equal(desc.body[0].name, '@pubgrp/beta');
      // `_` is not a wildcard in a name filter.
      assert.equal((await list(`/projects/${w.project.public}/packages?package_name=_`)).body.length, 0);
    });

    it('refuses bad filters with GitLab’s 400', async () => {
      const r = await list(`/projects/${w.project.public}/packages?package_type=maven`);
      assert.equal(r.status, 400);
      assert.match(r.body.error, /package_type/);
      assert.equal((await list(`/projects/${w.project.public}/packages?order_by=size`)).status, 400);
    });

    it('lets only callers with read_package list a project: 404 hides, 403 when only the packages are hidden', async () => {
      assert.equal((await list(`/projects/${w.project.private}/packages`)).status, 404);
      assert.equal((await list(`/projects/${w.project.private}/packages`, w.token.outsider)).status, 404);
      assert.equal((await list(`/projects/${w.project.private}/packages`, w.token.guest)).status, 200);
      assert.equal((await list(`/projects/${w.project.private}/packages`, w.token.deployRead)).status, 200);
      assert.equal((await list(`/projects/999999/packages`, ROOT_TOKEN)).status, 404);
      const hidden = await t.call('POST', '/api/v4/projects', { token: ROOT_TOKEN, body: { name: 'members-pkgs', namespace_id: 1, visibility: 'public', package_registry_access_level: 'private' } });
      assert.equal(hidden.status, 201);
      const r = await list(`/projects/${hidden.body.id}/packages`, w.token.outsider);
      assert.equal(r.status, 403);
      assert.equal((await list(`/projects/${w.project.private}/packages`, w.token.revoked)).status, 401);
    });

    it('lists a group tree’s packages, only from projects the caller may read', async () => {
      const asGuest = await list('/groups/privgrp/packages', w.token.guest);
      assert.equal(asGuest.status, 200);
      assert.deepEqual(asGuest.body.map((p: any) => p.name), ['@privgrp/secret']);
      assert.equal(asGuest.body[0].project_path, 'privgrp/private-lib');
      assert.equal((await list('/groups/privgrp/packages', w.token.outsider)).status, 404);
      const pub = await list('/groups/pubgrp/packages');
      assert.equal(pub.status, 200);
      assert.equal(pub.body.length, 3);
    });

    it('shows one package, its files, and downloads the exact stored bytes', async () => {
      const [pkg] = (await list(`/projects/${w.project.private}/packages`, w.token.reporter)).body;
      const one = await list(`/projects/${w.project.private}/packages/${pkg.id}`, w.token.reporter);
      assert.equal(one.status, 200);
      assert.equal(one.body.name, '@privgrp/secret');
      const files = await list(`/projects/${w.project.private}/packages/${pkg.id}/package_files`, w.token.reporter);
      assert.equal(files.status, 200);
      assert.equal(files.body.length, 1);
      assert.equal(files.body[0].file_name, '@privgrp/secret-2.0.0.tgz');
      assert.equal(files.body[0].size, tgz.priv!.length);
      const dl = await t.app.inject({
        method: 'GET',
        url: `/api/v4/projects/${w.project.private}/packages/${pkg.id}/package_files/${files.body[0].id}/download`,
        headers: { 'private-token': w.token.reporter },
      });
      assert.equal(dl.statusCode, 200);
      assert.deepEqual(dl.rawPayload, tgz.priv);
      assert.equal(dl.headers['content-disposition'], 'attachment; filename="secret-2.0.0.tgz"');
      assert.equal((await list(`/projects/${w.project.private}/packages/${pkg.id}`, w.token.outsider)).status, 404);
      assert.equal((await list(`/projects/${w.project.public}/packages/${pkg.id}`)).status, 404, 'a package of another project');
      assert.equal((await list(`/projects/${w.project.private}/packages/${pkg.id}/package_files/999999/download`, w.token.reporter)).status, 404);
      assert.equal((await list(`/projects/${w.project.private}/packages/abc`, w.token.reporter)).status, 400);
    });
  });
}
