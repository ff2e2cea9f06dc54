/**
 * Every cell of docs/design/gitlab-compatibility.md#matrix-project-packument, #matrix-dist-tag-reads, #matrix-dist-tag-writes, #matrix-tarball, #matrix-publish at project scope, on SQLite and
 * PostgreSQL: who gets 200/204, 401, 403 or 404 on packuments, dist-tags, tarballs and publishes, with GitLab's
 * bodies. (Wharf has no CI job tokens or OAuth applications; PATs and deploy tokens stand in for those rows, and
 * the "finished job token" row becomes "a revoked or unknown token".)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import {
  bearer,
  createNpmWorld,
  esc,
  npmBase,
  publish,
  publishBody,
  published,
  refusedWithNothingStored,
  type NpmWorld,
  type Visibility,
} from '../helpers/npm.js';

const VISIBILITIES: Visibility[] = ['public', 'internal', 'private'];
const pkg = (v: string) => `@${v}/pkg`;

for (const dialect of DIALECTS) {
  describe(`npm project endpoints: status matrices [${dialect}]`, () => {
    let t: TestApp;
    let w: NpmWorld;
    const get = (url: string, token?: string) => t.call('GET', url, { headers: bearer(token) });
    const who = (name: string): string | undefined => (name === 'anonymous' ? undefined : w.token[name as keyof NpmWorld['token']]);

    before(async () => {
      t = await startApp(dialect);
      w = await createNpmWorld(t);
      for (const v of [...VISIBILITIES, 'everyone', 'dotted'] as const) await published(t, w.project[v], pkg(v), '1.0.0', { tag: 'latest' });
    });
    after(async () => t.close());

    describe('packument GET P/*package_name (docs/design/gitlab-compatibility.md#matrix-project-packument)', () => {
      const expected: Record<string, Record<Visibility, number>> = {
        anonymous: { public: 200, internal: 401, private: 401 },
        guest: { public: 200, internal: 200, private: 200 },
        reporter: { public: 200, internal: 200, private: 200 },
        developer: { public: 200, internal: 200, private: 200 },
        outsider: { public: 200, internal: 200, private: 404 },
        readApi: { public: 200, internal: 200, private: 200 },
      };
      for (const [caller, row] of Object.entries(expected)) {
        for (const v of VISIBILITIES) {
          it(`${caller} on a ${v} project → ${row[v]}`, async () => {
            const r = await get(`${npmBase(w.project[v])}/${esc(pkg(v))}`, who(caller));
            assert.equal(r.status, row[v], r.text);
            if (r.status === 200) assert.equal(r.body.name, pkg(v));
            if (r.status === 401) assert.deepEqual(r.body, { message: '401 Unauthorized' });
            if (r.status === 404) assert.deepEqual(r.body, { message: '404 Project Not Found', error: 'Project not found' });
          });
        }
      }

      it('deploy tokens read their own project (read and write scope), and nothing else that is private', async () => {
        for (const tok of [w.token.deployRead, w.token.deployWrite]) {
          assert.equal((await get(`${npmBase(w.project.private)}/${esc(pkg('private'))}`, tok)).status, 200);
          assert.equal((await get(`${npmBase(w.project.internal)}/${esc(pkg('internal'))}`, tok)).status, 404);
          assert.equal((await get(`${npmBase(w.project.public)}/${esc(pkg('public'))}`, tok)).status, 200);
        }
      });

      it('a revoked or unknown token gets 401 everywhere, even on a public project', async () => {
        for (const tok of [w.token.revoked, 'glpat-not-a-real-token-000000']) {
          for (const v of VISIBILITIES) assert.equal((await get(`${npmBase(w.project[v])}/${esc(pkg(v))}`, tok)).status, 401);
        }
      });

      it('anonymous reads a private project whose package registry is open to everyone', async () => {
        const r = await get(`${npmBase(w.project.everyone)}/${esc(pkg('everyone'))}`);
        assert.equal(r.status, 200);
      });

      it('a project addressed by a full path containing a dot → 200', async () => {
        const r = await get(`${npmBase(encodeURIComponent('pubgrp/my.lib'))}/${esc(pkg('dotted'))}`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.name, pkg('dotted'));
      });

      it('an invalid name → 400 package_name should be a valid file path', async () => {
        for (const bad of ['%0d%0ahttp:/%2fexample.com', '..%2f..%2fetc%2fpasswd', '%2e%2e%2f1.2.3', '%252e%252e%252fx']) {
          const r = await get(`${npmBase(w.project.public)}/${bad}`);
          assert.equal(r.status, 400, bad);
          assert.deepEqual(r.body, { error: 'package_name should be a valid file path' });
        }
      });

      describe('a package that does not exist', () => {
        const missing = (v: Visibility) => `${npmBase(w.project[v])}/non-existing-package`;
        it('forwarding off: public/anonymous → 404 Packages not found', async () => {
          const r = await get(missing('public'));
          assert.equal(r.status, 404);
          assert.deepEqual(r.body, { message: '404 Packages Not Found', error: 'Packages not found' });
        });
        it('forwarding off: private/anonymous → 401', async () => assert.equal((await get(missing('private'))).status, 401));
        it('forwarding off: private/guest → 404', async () => assert.equal((await get(missing('private'), w.token.guest)).status, 404));
        it('forwarding off: private/reporter → 404', async () => assert.equal((await get(missing('private'), w.token.reporter)).status, 404));
        it('forwarding on: public/anonymous → 302 to the upstream registry; existing packages are never forwarded', async () => {
          const on = await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { npm_package_requests_forwarding: true, npm_package_requests_forwarding_mode: 'redirect' } }); // GitLab's redirect, not the proxy (Wharf's default mode)
          assert.equal(on.status, 200, on.text);
          try {
            const r = await get(missing('public'));
            assert.equal(r.status, 302);
            assert.equal(r.headers.location, 'https://registry.npmjs.org/non-existing-package');
            const scoped = await get(`${npmBase(w.project.private)}/@nobody%2fthing`);
            assert.equal(scoped.status, 302, 'forwarding is decided before authorisation');
            assert.equal(scoped.headers.location, 'https://registry.npmjs.org/@nobody/thing');
            assert.equal((await get(`${npmBase(999999)}/left-pad`)).status, 302, 'a missing project forwards too');
            assert.equal((await get(`${npmBase(w.project.public)}/caf%C3%A9%20x`)).headers.location, 'https://registry.npmjs.org/caf%C3%A9%20x');
            // An existing private package is answered by the access rules, never by npmjs (dependency confusion).
            assert.equal((await get(`${npmBase(w.project.private)}/${esc(pkg('private'))}`)).status, 401);
          } finally {
            await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { npm_package_requests_forwarding: false } });
          }
        });
      });

      it('a project that does not exist: anonymous → 401, signed in → 404 Project not found', async () => {
        assert.equal((await get(`${npmBase(999999)}/x`)).status, 401);
        const r = await get(`${npmBase(999999)}/x`, w.token.developer);
        assert.equal(r.status, 404);
        assert.deepEqual(r.body, { message: '404 Project Not Found', error: 'Project not found' });
      });
    });

    describe('dist-tags GET P/-/package/*name/dist-tags (docs/design/gitlab-compatibility.md#matrix-dist-tag-reads)', () => {
      const tagsUrl = (v: Visibility | 'everyone', name = pkg(v)) => `${npmBase(w.project[v])}/-/package/${esc(name)}/dist-tags`;
      const expected: Record<string, Partial<Record<Visibility, number>>> = {
        anonymous: { public: 200, internal: 401, private: 401 },
        guest: { internal: 200, private: 200 },
        reporter: { private: 200 },
      };
      for (const [caller, row] of Object.entries(expected)) {
        for (const [v, status] of Object.entries(row) as [Visibility, number][]) {
          it(`${caller} on a ${v} project → ${status}`, async () => {
            const r = await get(tagsUrl(v), who(caller));
            assert.equal(r.status, status, r.text);
            if (status === 200) assert.deepEqual(r.body, { latest: '1.0.0' });
          });
        }
      }
      it('deploy tokens (read and write) → 200', async () => {
        for (const tok of [w.token.deployRead, w.token.deployWrite]) assert.equal((await get(tagsUrl('private'), tok)).status, 200);
      });
      it('non-existing package: public/anonymous 404, internal/anonymous 401, guest 404, reporter 404', async () => {
        const a = await get(tagsUrl('public', '@x/none'));
        assert.equal(a.status, 404);
        assert.deepEqual(a.body, { message: '404 Package Not Found', error: 'Package not found' });
        assert.equal((await get(tagsUrl('internal', '@x/none'))).status, 401);
        for (const v of VISIBILITIES) assert.equal((await get(tagsUrl(v, '@x/none'), w.token.guest)).status, 404);
        assert.equal((await get(tagsUrl('private', '@x/none'), w.token.reporter)).status, 404);
      });
      it('%20 as the name → 400 "Package Name" not given', async () => {
        const r = await get(`${npmBase(w.project.public)}/-/package/%20/dist-tags`);
        assert.equal(r.status, 400);
        assert.deepEqual(r.body, { message: '400 Bad request - "Package Name" not given', error: '"Package Name" not given' });
      });
    });

    describe('dist-tag PUT/DELETE P/-/package/*name/dist-tags/:tag (docs/design/gitlab-compatibility.md#matrix-dist-tag-writes)', () => {
      const tagUrl = (v: Visibility, tag: string, name = pkg(v)) => `${npmBase(w.project[v])}/-/package/${esc(name)}/dist-tags/${tag}`;
      const put = (v: Visibility, tag: string, version: unknown, token?: string, name?: string) =>
        t.call('PUT', tagUrl(v, tag, name), { headers: bearer(token), body: JSON.stringify(version) });
      const del = (v: Visibility, tag: string, token?: string, name?: string) => t.call('DELETE', tagUrl(v, tag, name), { headers: bearer(token) });

      it('anonymous → 401 (PUT and DELETE)', async () => {
        for (const v of VISIBILITIES) {
          const p = await refusedWithNothingStored(t, () => put(v, 'next', '1.0.0'));
          assert.equal(p.status, 401);
          assert.deepEqual(p.body, { message: '401 Unauthorized' });
          assert.equal((await refusedWithNothingStored(t, () => del(v, 'latest'))).status, 401);
        }
      });
      it('guest → 403 on public, internal and private projects', async () => {
        for (const v of VISIBILITIES) {
          const p = await refusedWithNothingStored(t, () => put(v, 'next', '1.0.0', w.token.guest));
          assert.equal(p.status, 403);
          assert.deepEqual(p.body, { message: '403 Forbidden' });
          assert.equal((await refusedWithNothingStored(t, () => del(v, 'latest', w.token.guest))).status, 403);
        }
      });
      it('developer PUT → 204 with an empty body; maintainer DELETE → 204; a developer may not DELETE', async () => {
        for (const v of VISIBILITIES) {
          const p = await put(v, 'next', '1.0.0', w.token.developer);
          assert.equal(p.status, 204, p.text);
          assert.equal(p.text, '');
          assert.deepEqual((await get(`${npmBase(w.project[v])}/-/package/${esc(pkg(v))}/dist-tags`, w.token.developer)).body, {
            latest: '1.0.0',
            next: '1.0.0',
          });
          assert.equal((await refusedWithNothingStored(t, () => del(v, 'next', w.token.developer))).status, 403);
          const d = await del(v, 'next', w.token.maintainer);
          assert.equal(d.status, 204, d.text);
          assert.equal(d.text, '');
        }
      });
      it('a write deploy token adds and removes tags; a read deploy token may not', async () => {
        assert.equal((await put('private', 'ci', '1.0.0', w.token.deployWrite)).status, 204);
        assert.equal((await del('private', 'ci', w.token.deployWrite)).status, 204);
        assert.equal((await refusedWithNothingStored(t, () => put('private', 'ci', '1.0.0', w.token.deployRead))).status, 403);
      });
      it('a read_api token may not write (403 insufficient_scope)', async () => {
        const r = await refusedWithNothingStored(t, () => put('private', 'x', '1.0.0', w.token.readApi));
        assert.equal(r.status, 403);
        assert.equal(r.body.error, 'insufficient_scope');
      });
      it('non-existing package: guest → 403; developer PUT → 404 Package not found; maintainer DELETE → 404 Package tag not found', async () => {
        assert.equal((await refusedWithNothingStored(t, () => put('private', 'next', '1.0.0', w.token.guest, '@x/none'))).status, 403);
        const p = await refusedWithNothingStored(t, () => put('private', 'next', '1.0.0', w.token.developer, '@x/none'));
        assert.equal(p.status, 404);
        assert.deepEqual(p.body, { message: '404 Package Not Found', error: 'Package not found' });
        const d = await refusedWithNothingStored(t, () => del('private', 'next', w.token.maintainer, '@x/none'));
        assert.equal(d.status, 404);
        assert.deepEqual(d.body, { message: '404 Package Tag Not Found', error: 'Package tag not found' });
        const unknownVersion = await refusedWithNothingStored(t, () => put('private', 'next', '9.9.9', w.token.developer));
        assert.equal(unknownVersion.status, 404);
      });
      it('PUT with a blank version body → 400 "Version" not given', async () => {
        for (const body of ['""', '" "', '', 'null', '{}']) {
          const r = await refusedWithNothingStored(t, () =>
            t.call('PUT', tagUrl('private', 'next'), { headers: { ...bearer(w.token.developer), 'content-type': 'application/json' }, body }),
          );
          assert.equal(r.status, 400, body);
          assert.deepEqual(r.body, { message: '400 Bad request - "Version" not given', error: '"Version" not given' });
        }
      });
      it('tag %20 → 400 "Tag" not given; an empty tag segment → 404 {"error":"404 Not Found"}', async () => {
        const r = await refusedWithNothingStored(t, () => put('private', '%20', '1.0.0', w.token.developer));
        assert.equal(r.status, 400);
        assert.deepEqual(r.body, { message: '400 Bad request - "Tag" not given', error: '"Tag" not given' });
        const d = await refusedWithNothingStored(t, () => del('private', '%20', w.token.maintainer));
        assert.equal(d.status, 400);
        const e = await refusedWithNothingStored(t, () => put('private', '', '1.0.0', w.token.developer));
        assert.equal(e.status, 404);
        assert.deepEqual(e.body, { error: '404 Not Found' });
      });
      it('PUT of a tag that exists on another version moves it (same row)', async () => {
        await published(t, w.project.private, pkg('private'), '1.1.0', { tag: 'beta' });
        const db = t.deps.database.db;
        const row = () =>
          db.selectFrom('package_tags').selectAll().where('project_id', '=', w.project.private).where('tag', '=', 'beta').executeTakeFirstOrThrow();
        const before = await row();
        assert.equal((await put('private', 'beta', '1.0.0', w.token.developer)).status, 204);
        const after = await row();
        assert.equal(after.id, before.id);
        assert.notEqual(after.package_id, before.package_id);
        assert.equal((await get(`${npmBase(w.project.private)}/-/package/${esc(pkg('private'))}/dist-tags`, w.token.guest)).body.beta, '1.0.0');
      });
      it('DELETE of a tag attached to a different package name → 404', async () => {
        await published(t, w.project.private, '@privgrp/other', '1.0.0', { tag: 'only-here' });
        const r = await refusedWithNothingStored(t, () => del('private', 'only-here', w.token.maintainer));
        assert.equal(r.status, 404);
        assert.equal((await del('private', 'only-here', w.token.maintainer, '@privgrp/other')).status, 204);
      });
    });

    describe('tarball GET P/*package_name/-/*file_name (docs/design/gitlab-compatibility.md#matrix-tarball)', () => {
      const tarUrl = (v: Visibility | 'everyone') => `${npmBase(w.project[v])}/${pkg(v)}/-/${pkg(v)}-1.0.0.tgz`;
      const cases: [string, Visibility | 'everyone', string | undefined, number][] = [
        ['public project, anonymous', 'public', undefined, 200],
        ['internal project, anonymous', 'internal', undefined, 404],
        ['private project, anonymous', 'private', undefined, 404],
        ['internal project, developer PAT', 'internal', 'developer', 200],
        ['private project, developer PAT', 'private', 'developer', 200],
        ['private project, guest', 'private', 'guest', 200],
        ['internal project, non-member signed in', 'internal', 'outsider', 200],
        ['private project, non-member', 'private', 'outsider', 404],
        ['private project, read deploy token', 'private', 'deployRead', 200],
        ['private, registry open to everyone, anonymous', 'everyone', undefined, 200],
      ];
      for (const [label, v, caller, status] of cases) {
        it(`${label} → ${status}`, async () => {
          const r = await t.app.inject({ method: 'GET', url: tarUrl(v), headers: bearer(caller ? w.token[caller as keyof NpmWorld['token']] : undefined) });
          assert.equal(r.statusCode, status, r.body);
          if (status === 200) {
            assert.equal(r.headers['content-type'], 'application/octet-stream');
            assert.equal(Number(r.headers['content-length']), r.rawPayload.length);
            assert.equal(r.rawPayload[0], 0x1f);
          } else {
            assert.deepEqual(JSON.parse(r.body), { message: '404 Project Not Found', error: 'Project not found' });
          }
        });
      }
    });

    describe('publish PUT P/:package_name (docs/design/gitlab-compatibility.md#matrix-publish)', () => {
      const body = (v: Visibility, version: string) => publishBody(pkg(v), version).body;
      it('anonymous → 401', async () => {
        for (const v of VISIBILITIES) {
          const r = await refusedWithNothingStored(t, () => publish(t, w.project[v], body(v, '3.0.0'), null));
          assert.equal(r.status, 401);
          assert.deepEqual(r.body, { message: '401 Unauthorized' });
        }
      });
      it('guest and reporter → 403 Forbidden', async () => {
        for (const role of ['guest', 'reporter'] as const) {
          for (const v of VISIBILITIES) {
            const r = await refusedWithNothingStored(t, () => publish(t, w.project[v], body(v, '3.0.0'), w.token[role]));
            assert.equal(r.status, 403, `${role} ${v}`);
            assert.deepEqual(r.body, { message: '403 Forbidden' });
          }
        }
      });
      it('developer PAT → 200 on every visibility', async () => {
        for (const v of VISIBILITIES) {
          const r = await publish(t, w.project[v], body(v, '3.0.0'), w.token.developer);
          assert.equal(r.status, 200, r.text);
          assert.equal(r.body.name, pkg(v));
          assert.equal(r.body.version, '3.0.0');
          assert.equal(typeof r.body.id, 'number');
        }
      });
      it('write deploy token → 200; read deploy token → 403; read_api PAT → 403 insufficient_scope', async () => {
        assert.equal((await publish(t, w.project.private, body('private', '3.1.0'), w.token.deployWrite)).status, 200);
        assert.equal((await refusedWithNothingStored(t, () => publish(t, w.project.private, body('private', '3.2.0'), w.token.deployRead))).status, 403);
        const scope = await refusedWithNothingStored(t, () => publish(t, w.project.private, body('private', '3.2.0'), w.token.readApi));
        assert.equal(scope.status, 403);
        assert.equal(scope.body.error, 'insufficient_scope');
      });
      it('npm-command: deprecate by a developer → 403; by a maintainer → 200', async () => {
        const dep = { name: pkg('private'), versions: { '1.0.0': { name: pkg('private'), version: '1.0.0', deprecated: 'old' } } };
        const send = (token: string) =>
          t.call('PUT', `${npmBase(w.project.private)}/${esc(pkg('private'))}`, { headers: { ...bearer(token), 'npm-command': 'deprecate' }, body: dep });
        const r = await refusedWithNothingStored(t, () => send(w.token.developer));
        assert.equal(r.status, 403);
        assert.deepEqual(r.body, { message: '403 Forbidden' });
        assert.equal((await send(w.token.maintainer)).status, 200);
      });
      it('a project the caller cannot see → 404 Project not found; a missing project → 404', async () => {
        const r = await refusedWithNothingStored(t, () => publish(t, w.project.private, body('private', '4.0.0'), w.token.outsider));
        assert.equal(r.status, 404);
        assert.deepEqual(r.body, { message: '404 Project Not Found', error: 'Project not found' });
        assert.equal((await refusedWithNothingStored(t, () => publish(t, 999999, body('private', '4.0.0'), w.token.developer))).status, 404);
      });
    });
  });
}
