/** The UI's package pages through inject(): explore, lists, the package page, safety of READMEs, deletion. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { signInCookie } from '../helpers/web-forms.js';
import { createNpmWorld, published, type NpmWorld } from '../helpers/npm.js';

const README = '# Alpha\n\nUse it **well**.\n\n<script>alert("xss")</script>\n\n[click](javascript:alert(1)) and [docs](https://example.com)\n';

for (const dialect of DIALECTS) {
  describe(`web package pages [${dialect}]`, () => {
    let t: TestApp;
    let w: NpmWorld;
    before(async () => {
      t = await startApp(dialect);
      w = await createNpmWorld(t);
      await published(t, w.project.public, '@pubgrp/alpha', '1.0.0', { readme: README, extra: { dependencies: { lodash: '^4.17.21' } } });
      await published(t, w.project.public, '@pubgrp/alpha', '1.1.0', { readme: README });
      await published(t, w.project.private, '@privgrp/secret', '2.0.0');
    });
    after(async () => t.close());

    const signIn = (username: string): Promise<string> => signInCookie(t.app, username, 'password123');
    const page = (url: string, cookie?: string) => t.app.inject({ method: 'GET', url, headers: cookie ? { cookie } : {} });

    it('explores public packages for anonymous visitors, everything readable when signed in, with search and type filter', async () => {
      const anon = await page('/explore');
      assert.equal(anon.statusCode, 200);
      assert.match(anon.body, /@pubgrp\/alpha/);
      assert.doesNotMatch(anon.body, /@privgrp\/secret/);
      const guest = await signIn('guest');
      const signedIn = await page('/explore', guest);
      assert.match(signedIn.body, /@privgrp\/secret/);
      assert.doesNotMatch((await page('/explore?q=secret', guest)).body, /@pubgrp\/alpha/);
      assert.match((await page('/explore?type=helm', guest)).body, /No packages found/);
    });

    it('lists a project’s and a group’s packages at GitLab’s addresses', async () => {
      const project = await page('/pubgrp/public-lib/-/packages');
      assert.equal(project.statusCode, 200);
      assert.match(project.body, /@pubgrp\/alpha/);
      assert.match(project.body, /2 versions/);
      assert.equal((await page('/pubgrp/-/packages')).statusCode, 200);
      assert.equal((await page('/privgrp/private-lib/-/packages')).statusCode, 404, 'private project, anonymous');
      assert.equal((await page('/privgrp/-/packages')).statusCode, 404, 'private group, anonymous');
      assert.equal((await page('/nope/-/packages')).statusCode, 404);
    });

    it('shows a package page: README rendered without raw HTML or script links, dependencies, versions, snippets', async () => {
      const list = await t.call('GET', `/api/v4/projects/${w.project.public}/packages?package_version=1.0.0`);
      const id = list.body[0].id;
      const r = await page(`/pubgrp/public-lib/-/packages/${id}`);
      assert.equal(r.statusCode, 200);
      assert.match(r.body, /<h3>Alpha<\/h3>/, "README headings nest under the page");
      assert.match(r.body, /<strong>well<\/strong>/);
      assert.doesNotMatch(r.body, /<script>alert/);
      assert.match(r.body, /&lt;script&gt;alert/);
      assert.doesNotMatch(r.body, /href="javascript:/);
      assert.match(r.body, /href="https:\/\/example.com" rel="nofollow noopener noreferrer"/);
      assert.match(r.body, /<code>lodash<\/code> \^4\.17\.21/);
      assert.match(r.body, /1\.1\.0/);
      assert.match(r.body, new RegExp(`@pubgrp:registry=http://wharf.test/api/v4/projects/${w.project.public}/packages/npm/`));
      assert.match(r.body, /npm install @pubgrp\/alpha@1\.0\.0/);
      assert.match(r.body, /sha256 [0-9a-f]{64}/);
      assert.doesNotMatch(r.body, /Danger zone/, 'anonymous visitors get no delete button');
      assert.match(String(r.headers['content-security-policy']), /script-src 'self'/);
    });

    it('answers 404 for a private project’s package page to anonymous visitors and outsiders', async () => {
      const id = (await t.call('GET', `/api/v4/projects/${w.project.private}/packages`, { token: w.token.guest })).body[0].id;
      assert.equal((await page(`/privgrp/private-lib/-/packages/${id}`)).statusCode, 404);
      assert.equal((await page(`/privgrp/private-lib/-/packages/${id}`, await signIn('outsider'))).statusCode, 404);
      assert.equal((await page(`/privgrp/private-lib/-/packages/${id}`, await signIn('guest'))).statusCode, 200);
      assert.equal((await page(`/pubgrp/public-lib/-/packages/${id}`)).statusCode, 404, 'a package of another project');
    });

    it('lets only those allowed delete, after a confirmation, and the version leaves the packument', async () => {
      const id = (await t.call('GET', `/api/v4/projects/${w.project.public}/packages?package_version=1.1.0`)).body[0].id;
      const dev = await signIn('developer');
      assert.doesNotMatch((await page(`/pubgrp/public-lib/-/packages/${id}`, dev)).body, /Danger zone/);
      assert.equal((await page(`/pubgrp/public-lib/-/packages/${id}/delete`, dev)).statusCode, 404);
      const maintainer = await signIn('maintainer');
      const confirm = await page(`/pubgrp/public-lib/-/packages/${id}/delete`, maintainer);
      assert.equal(confirm.statusCode, 200);
      const csrf = /name="authenticity_token" value="([^"]+)"/.exec(confirm.body)![1]!;
      const forged = await t.app.inject({ method: 'POST', url: `/pubgrp/public-lib/-/packages/${id}/delete`, payload: 'authenticity_token=x', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: maintainer } });
      assert.equal(forged.statusCode, 422);
      const done = await t.app.inject({ method: 'POST', url: `/pubgrp/public-lib/-/packages/${id}/delete`, payload: `authenticity_token=${csrf}`, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: maintainer } });
      assert.equal(done.statusCode, 303);
      const doc = await t.call('GET', `/api/v4/projects/${w.project.public}/packages/npm/@pubgrp%2falpha`, { headers: { accept: 'application/json' } });
      assert.deepEqual(Object.keys(doc.body.versions), ['1.0.0']);
    });

    it('a version protected from deletion stays, with a page that says why', async () => {
      const rule = await t.call('POST', `/api/v4/projects/${w.project.public}/packages/protection/rules`, {
        token: ROOT_TOKEN,
        body: { package_name_pattern: '@pubgrp/alpha', package_type: 'npm', minimum_access_level_for_delete: 'owner' },
      });
      assert.equal(rule.status, 201, rule.text);
      const id = (await t.call('GET', `/api/v4/projects/${w.project.public}/packages?package_version=1.0.0`)).body[0].id;
      const maintainer = await signIn('maintainer');
      const confirm = await page(`/pubgrp/public-lib/-/packages/${id}/delete`, maintainer);
      const csrf = /name="authenticity_token" value="([^"]+)"/.exec(confirm.body)![1]!;
      const refused = await t.app.inject({ method: 'POST', url: `/pubgrp/public-lib/-/packages/${id}/delete`, payload: `authenticity_token=${csrf}`, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: maintainer } });
      assert.equal(refused.statusCode, 403);
      assert.match(refused.headers['content-type'] as string, /text\/html/);
      assert.match(refused.body, /protected from deletion by a package protection rule/);
      const doc = await t.call('GET', `/api/v4/projects/${w.project.public}/packages/npm/@pubgrp%2falpha`, { headers: { accept: 'application/json' } });
      assert.deepEqual(Object.keys(doc.body.versions), ['1.0.0']);
      await t.call('DELETE', `/api/v4/projects/${w.project.public}/packages/protection/rules/${rule.body.id}`, { token: ROOT_TOKEN });
    });

    it('keeps GitLab’s JSON 404 for unknown API paths', async () => {
      const r = await t.call('GET', '/api/v4/definitely/not/here');
      assert.equal(r.status, 404);
      assert.deepEqual(r.body, { error: '404 Not Found' });
    });
  });
}
