/**
 * The npm group endpoint `G = /api/v4/groups/:id/-/packages/npm` and instance endpoint `I = /api/v4/packages/npm`
 * on SQLite and PostgreSQL: every cell of docs/design/gitlab-compatibility.md#matrix-group-packument, #matrix-instance-packument, and the G and I columns of docs/design/gitlab-compatibility.md#matrix-dist-tag-reads and
 * docs/design/gitlab-compatibility.md#matrix-dist-tag-writes, plus what docs/design/gitlab-compatibility.md#npm-decision-procedure, #packument-shape say about them — versions merged across the readable projects of the tree,
 * tarball URLs pointing at each version's project, the dist-tag routes acting on the project of the last package,
 * forwarding, and revision-validated caching (ETag / 304, invalidated by a write anywhere in the tree).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { bearer, createNpmWorld, esc, npmBase, published, type NpmWorld, type Visibility } from '../helpers/npm.js';

/** The group/project visibility pairs of docs/design/gitlab-compatibility.md#matrix-group-packument: the project is never more visible than its group. */
const COMBOS = [
  ['public', 'public'],
  ['public', 'internal'],
  ['public', 'private'],
  ['internal', 'internal'],
  ['internal', 'private'],
  ['private', 'private'],
] as const satisfies ReadonlyArray<readonly [Visibility, Visibility]>;
type Combo = (typeof COMBOS)[number];
const comboName = ([g, p]: Combo) => `${g}/${p}`;

const SCOPE: Record<Visibility, string> = { public: 'pubgrp', internal: 'intgrp', private: 'privgrp' };
/** Under GitLab's naming convention (scope = root namespace), so the instance endpoint finds it too. */
const pkgOf = ([g, p]: Combo) => `@${SCOPE[g]}/in-${p}`;

const groupBase = (id: number | string) => `/api/v4/groups/${id}/-/packages/npm`;
const INSTANCE = '/api/v4/packages/npm';

interface Extra {
  groupId: Record<Visibility, number>;
  projectOf: Map<string, number>;
  /** A Reporter of each combo's project only, not a member of any group. */
  projectReporter: string;
  /** A read deploy token of each group. */
  groupDeploy: Record<Visibility, string>;
  /** A write deploy token of the private group. */
  groupDeployWrite: string;
}

for (const dialect of DIALECTS) {
  describe(`npm group and instance endpoints [${dialect}]`, () => {
    let t: TestApp;
    let w: NpmWorld;
    let x: Extra;
    const get = (url: string, token?: string, headers: Record<string, string> = {}) => t.call('GET', url, { headers: { ...bearer(token), ...headers } });
    const api = async (method: string, url: string, body: unknown) => {
      const r = await t.call(method, `/api/v4${url}`, { token: ROOT_TOKEN, body });
      assert.ok(r.status === 201 || r.status === 200, `${url}: ${r.status} ${r.text}`);
      return r.body;
    };
    /** GitLab's rule (one name in several projects of a namespace), which these GitLab-semantics tests need. */
    const sharedNames = async (on: boolean) => {
      const r = await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { npm_package_names_shared_across_projects: on } });
      assert.equal(r.status, 200, r.text);
    };
    const setForwarding = async (on: boolean) => {
      // GitLab's redirect, which these tests are about (the proxy, Wharf's default mode, has its own suite).
      const r = await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { npm_package_requests_forwarding: on, npm_package_requests_forwarding_mode: 'redirect' } });
      assert.equal(r.status, 200, r.text);
    };

    before(async () => {
      t = await startApp(dialect);
      w = await createNpmWorld(t);
      const groups = (await api('GET', '/groups?per_page=100', undefined)) as Array<{ id: number; path: string }>;
      const groupId = {} as Record<Visibility, number>;
      for (const v of ['public', 'internal', 'private'] as const) groupId[v] = groups.find((g) => g.path === SCOPE[v])!.id;
      const projectOf = new Map<string, number>();
      const reporter = await api('POST', '/users', { username: 'projrep', name: 'projrep', email: 'projrep@example.com', password: 'password123' });
      for (const combo of COMBOS) {
        const [g, p] = combo;
        const id = g === p ? w.project[p] : (await api('POST', '/projects', { name: `${p}-in-${g}`, namespace_id: groupId[g], visibility: p })).id;
        projectOf.set(comboName(combo), id);
        await api('POST', `/projects/${id}/members`, { user_id: reporter.id, access_level: 20 });
        await published(t, id, pkgOf(combo), '1.0.0');
      }
      const projectReporter = (await api('POST', `/users/${reporter.id}/personal_access_tokens`, { name: 'npm', scopes: ['api'] })).token;
      const groupDeploy = {} as Record<Visibility, string>;
      for (const v of ['public', 'internal', 'private'] as const) {
        groupDeploy[v] = (await api('POST', `/groups/${groupId[v]}/deploy_tokens`, { name: 'read', scopes: ['read_package_registry'] })).token;
      }
      const groupDeployWrite = (await api('POST', `/groups/${groupId.private}/deploy_tokens`, { name: 'write', scopes: ['write_package_registry'] })).token;
      x = { groupId, projectOf, projectReporter, groupDeploy, groupDeployWrite };
    });
    after(async () => t.close());

    const tokenOf = (caller: string, combo: Combo): string | undefined => {
      if (caller === 'anonymous') return undefined;
      if (caller === 'projectReporter') return x.projectReporter;
      if (caller === 'groupDeploy') return x.groupDeploy[combo[0]];
      return w.token[caller as keyof NpmWorld['token']];
    };

    describe('packument GET G/*package_name (docs/design/gitlab-compatibility.md#matrix-group-packument)', () => {
      const expected: Record<string, (c: Combo) => number> = {
        anonymous: ([g, p]) => (g === 'public' && p === 'public' ? 200 : 401),
        guest: () => 200,
        reporter: () => 200,
        developer: () => 200,
        groupDeploy: () => 200,
        projectReporter: () => 200,
      };
      for (const [caller, status] of Object.entries(expected)) {
        for (const combo of COMBOS) {
          it(`${caller} on group/project ${comboName(combo)} → ${status(combo)}`, async () => {
            const r = await get(`${groupBase(x.groupId[combo[0]])}/${esc(pkgOf(combo))}`, tokenOf(caller, combo));
            assert.equal(r.status, status(combo), r.text);
            if (r.status === 401) assert.deepEqual(r.body, { message: '401 Unauthorized' });
            if (r.status === 200) {
              assert.equal(r.body.name, pkgOf(combo));
              assert.deepEqual(Object.keys(r.body.versions), ['1.0.0']);
              // Tarballs are served by the project route only (docs/design/gitlab-compatibility.md#tarball-urls), numeric id, external URL.
              assert.equal(
                r.body.versions['1.0.0'].dist.tarball,
                `http://wharf.test/api/v4/projects/${x.projectOf.get(comboName(combo))}/packages/npm/${pkgOf(combo)}/-/${pkgOf(combo)}-1.0.0.tgz`,
              );
            }
          });
        }
      }

      it('an outsider sees public and internal packages; a private one that exists → 403, an invisible group → 404 Group not found', async () => {
        assert.equal((await get(`${groupBase(x.groupId.public)}/${esc(pkgOf(['public', 'internal']))}`, w.token.outsider)).status, 200);
        const hidden = await get(`${groupBase(x.groupId.public)}/${esc(pkgOf(['public', 'private']))}`, w.token.outsider);
        assert.equal(hidden.status, 403, hidden.text);
        const group = await get(`${groupBase(x.groupId.private)}/${esc(pkgOf(['private', 'private']))}`, w.token.outsider);
        assert.equal(group.status, 404);
        assert.deepEqual(group.body, { message: '404 Group Not Found', error: 'Group not found' });
      });

      it('the group may be addressed by its full path; a missing group → 401 anonymous, 404 signed in', async () => {
        assert.equal((await get(`${groupBase('pubgrp')}/${esc(pkgOf(['public', 'public']))}`)).status, 200);
        assert.equal((await get(`${groupBase(999999)}/${esc(pkgOf(['public', 'public']))}`)).status, 401);
        assert.equal((await get(`${groupBase(999999)}/${esc(pkgOf(['public', 'public']))}`, w.token.guest)).status, 404);
      });

      it('a revoked or unknown token → 401, even on a public group', async () => {
        for (const tok of [w.token.revoked, 'glpat-unknown-0000000000000']) {
          assert.equal((await get(`${groupBase(x.groupId.public)}/${esc(pkgOf(['public', 'public']))}`, tok)).status, 401);
        }
      });

      describe('a package that does not exist', () => {
        it('forwarding off: public/anonymous → 404 Packages not found; private/anonymous → 401; private/guest → 404', async () => {
          const pub = await get(`${groupBase(x.groupId.public)}/non-existing-package`);
          assert.equal(pub.status, 404);
          assert.deepEqual(pub.body, { message: '404 Packages Not Found', error: 'Packages not found' });
          assert.equal((await get(`${groupBase(x.groupId.private)}/non-existing-package`)).status, 401);
          assert.equal((await get(`${groupBase(x.groupId.private)}/non-existing-package`, w.token.guest)).status, 404);
        });
        it('forwarding on: public/anonymous → 302 upstream; an existing package is never forwarded, whatever the caller', async () => {
          await setForwarding(true);
          try {
            const r = await get(`${groupBase(x.groupId.public)}/non-existing-package`);
            assert.equal(r.status, 302);
            assert.equal(r.headers.location, 'https://registry.npmjs.org/non-existing-package');
            assert.equal((await get(`${groupBase(x.groupId.public)}/${esc(pkgOf(['public', 'private']))}`, w.token.outsider)).status, 403);
            assert.equal((await get(`${groupBase(x.groupId.public)}/${esc(pkgOf(['public', 'private']))}`)).status, 401);
            // The group is checked before forwarding: an invisible group is not forwarded.
            assert.equal((await get(`${groupBase(x.groupId.private)}/non-existing-package`)).status, 401);
          } finally {
            await setForwarding(false);
          }
        });
      });
    });

    describe('packument GET I/*package_name (docs/design/gitlab-compatibility.md#matrix-instance-packument)', () => {
      const expected: Record<string, Record<Visibility, number>> = {
        anonymous: { public: 200, internal: 401, private: 401 },
        guest: { public: 200, internal: 200, private: 200 },
        reporter: { public: 200, internal: 200, private: 200 },
        outsider: { public: 200, internal: 200, private: 403 },
        projectReporter: { public: 200, internal: 200, private: 200 },
      };
      for (const [caller, row] of Object.entries(expected)) {
        for (const v of ['public', 'internal', 'private'] as const) {
          const combo: Combo = COMBOS.find(([g, p]) => g === v && p === v)!;
          it(`@<top-level namespace>/name, ${caller} on a ${v} project → ${row[v]}`, async () => {
            const r = await get(`${INSTANCE}/${esc(pkgOf(combo))}`, tokenOf(caller, combo));
            assert.equal(r.status, row[v], r.text);
            if (r.status === 200) assert.match(r.body.versions['1.0.0'].dist.tarball, /\/api\/v4\/projects\/\d+\/packages\/npm\//);
          });
        }
      }
      it('the scope is matched case-insensitively against top-level namespaces only', async () => {
        assert.equal((await get(`${INSTANCE}/${esc('@PubGrp/in-public')}`)).status, 404, 'names are exact; @PubGrp/in-public does not exist');
        assert.equal((await get(`${INSTANCE}/${esc(pkgOf(['public', 'public']))}`)).status, 200);
      });
      it('a user namespace is a top-level namespace too', async () => {
        const user = await api('GET', '/users?username=developer', undefined);
        const personal = (await api('POST', '/projects', { name: 'mine', namespace_id: user[0].namespace_id ?? undefined, visibility: 'private' })) as { id: number; namespace: { path: string } };
        // The project lives where the API put it; publish a conventional name for whichever namespace that is.
        const scope = personal.namespace.path;
        await published(t, personal.id, `@${scope}/own`, '1.0.0');
        const r = await get(`${INSTANCE}/${esc(`@${scope}/own`)}`, ROOT_TOKEN);
        assert.equal(r.status, 200, r.text);
      });
      for (const [label, name] of [
        ['@any-scope/name (no such top-level namespace)', '@any-scope/name'],
        ['an unscoped name', 'unscoped-name'],
        ['a non-existing package', `@${SCOPE.public}/non-existing`],
      ] as const) {
        it(`${label} → 404 with forwarding off, 302 with it on`, async () => {
          const off = await get(`${INSTANCE}/${esc(name)}`);
          assert.equal(off.status, 404);
          assert.deepEqual(off.body, { message: '404 Packages Not Found', error: 'Packages not found' });
          await setForwarding(true);
          try {
            const on = await get(`${INSTANCE}/${esc(name)}`);
            assert.equal(on.status, 302);
            assert.equal(on.headers.location, `https://registry.npmjs.org/${name}`);
          } finally {
            await setForwarding(false);
          }
        });
      }
      it('a subgroup project is part of its top-level namespace', async () => {
        const sub = await api('POST', '/groups', { name: 'sub', path: 'sub', parent_id: x.groupId.public, visibility: 'public' });
        const proj = await api('POST', '/projects', { name: 'deep', namespace_id: sub.id, visibility: 'public' });
        await published(t, proj.id, '@pubgrp/deep', '1.0.0');
        assert.equal((await get(`${INSTANCE}/${esc('@pubgrp/deep')}`)).status, 200);
        assert.equal((await get(`${groupBase(x.groupId.public)}/${esc('@pubgrp/deep')}`)).status, 200);
        assert.equal((await get(`${groupBase(sub.id)}/${esc('@pubgrp/deep')}`)).status, 200);
        assert.equal((await get(`${groupBase(sub.id)}/${esc(pkgOf(['public', 'public']))}`)).status, 404, 'a subgroup sees only its own tree');
      });
    });

    describe('merging the projects of a namespace (docs/design/gitlab-compatibility.md#packument-shape)', () => {
      const NAME = '@pubgrp/merged';
      let a: number;
      let b: number;
      before(async () => {
        a = (await api('POST', '/projects', { name: 'merge-a', namespace_id: x.groupId.public, visibility: 'public' })).id;
        b = (await api('POST', '/projects', { name: 'merge-b', namespace_id: x.groupId.public, visibility: 'private' })).id;
        // Every test here publishes one name in several projects of a root namespace: GitLab's rule.
        await sharedNames(true);
        await published(t, a, NAME, '1.0.0');
        await published(t, b, NAME, '2.0.0', { tag: 'next' });
      });
      after(async () => sharedNames(false));

      it('merges the versions of every readable project, each tarball URL at its own project', async () => {
        for (const base of [groupBase(x.groupId.public), INSTANCE]) {
          const r = await get(`${base}/${esc(NAME)}`, w.token.guest);
          assert.equal(r.status, 200, r.text);
          assert.deepEqual(Object.keys(r.body.versions).sort(), ['1.0.0', '2.0.0']);
          assert.match(r.body.versions['1.0.0'].dist.tarball, new RegExp(`/projects/${a}/packages/npm/`));
          assert.match(r.body.versions['2.0.0'].dist.tarball, new RegExp(`/projects/${b}/packages/npm/`));
          assert.deepEqual(r.body['dist-tags'], { latest: '1.0.0', next: '2.0.0' });
          assert.equal(r.body.name, NAME);
          assert.ok(r.body.time['1.0.0'] && r.body.time['2.0.0'] && r.body._rev);
          // The tarball URL is what a client downloads.
          const dl = await t.app.inject({ method: 'GET', url: new URL(r.body.versions['2.0.0'].dist.tarball).pathname, headers: bearer(w.token.guest) });
          assert.equal(dl.statusCode, 200);
        }
      });

      it('leaves out the projects the caller may not read', async () => {
        const anon = await get(`${groupBase(x.groupId.public)}/${esc(NAME)}`);
        assert.equal(anon.status, 200);
        assert.deepEqual(Object.keys(anon.body.versions), ['1.0.0']);
        assert.deepEqual(anon.body['dist-tags'], { latest: '1.0.0' });
        const outsider = await get(`${INSTANCE}/${esc(NAME)}`, w.token.outsider);
        assert.deepEqual(Object.keys(outsider.body.versions), ['1.0.0']);
      });

      it('serves the abbreviated document and validates with ETags that change with any project of the tree', async () => {
        const url = `${groupBase(x.groupId.public)}/${esc(NAME)}`;
        const corgi = await get(url, w.token.guest, { accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*' });
        assert.equal(corgi.headers['content-type'], 'application/vnd.npm.install-v1+json');
        assert.ok(corgi.body.modified);
        const first = await get(url, w.token.guest);
        const etag = String(first.headers.etag);
        assert.match(etag, /^"[^"]+"$/, 'a strong validator');
        assert.notEqual(etag, corgi.headers.etag);
        assert.equal((await get(url, w.token.guest, { 'if-none-match': etag })).status, 304);
        // The anonymous view is another document with another validator.
        assert.notEqual((await get(url)).headers.etag, etag);
        // A publish in one project of the tree changes the group's document.
        await published(t, b, NAME, '2.1.0');
        const after = await get(url, w.token.guest, { 'if-none-match': etag });
        assert.equal(after.status, 200);
        assert.ok(after.body.versions['2.1.0']);
        // So does a dist-tag moved in the other project.
        const tagged = await t.call('PUT', `${npmBase(a)}/-/package/${esc(NAME)}/dist-tags/stable`, { headers: bearer(ROOT_TOKEN), body: '"1.0.0"' });
        assert.equal(tagged.status, 204);
        const again = await get(url, w.token.guest, { 'if-none-match': String(after.headers.etag) });
        assert.equal(again.status, 200);
        assert.equal(again.body['dist-tags'].stable, '1.0.0');
      });

      it('the same version in two projects: the most recently published wins', async () => {
        const c = (await api('POST', '/projects', { name: 'merge-c', namespace_id: x.groupId.internal, visibility: 'internal' })).id;
        const d = (await api('POST', '/projects', { name: 'merge-d', namespace_id: x.groupId.internal, visibility: 'internal' })).id;
        // Not under the naming convention, so the same version may exist in two projects of the root.
        await published(t, c, 'dup-pkg', '1.0.0', { extra: { description: 'from c' } });
        await published(t, d, 'dup-pkg', '1.0.0', { extra: { description: 'from d' } });
        const r = await get(`${groupBase(x.groupId.internal)}/dup-pkg`, w.token.guest);
        assert.equal(r.status, 200, r.text);
        assert.match(r.body.versions['1.0.0'].dist.tarball, new RegExp(`/projects/${d}/`));
        assert.equal((await get(`${INSTANCE}/dup-pkg`, w.token.guest)).status, 404, 'unscoped names are not found at instance level');
      });
    });

    describe('dist-tags GET {G,I}/-/package/*name/dist-tags (docs/design/gitlab-compatibility.md#matrix-dist-tag-reads)', () => {
      const same = (v: Visibility): Combo => COMBOS.find(([g, p]) => g === v && p === v)!;
      const urls = (v: Visibility, name = pkgOf(same(v))) => ({
        G: `${groupBase(x.groupId[v])}/-/package/${esc(name)}/dist-tags`,
        I: `${INSTANCE}/-/package/${esc(name)}/dist-tags`,
      });
      const expected: Record<string, Record<Visibility, number>> = {
        anonymous: { public: 200, internal: 401, private: 401 },
        guest: { public: 200, internal: 200, private: 200 },
        reporter: { public: 200, internal: 200, private: 200 },
        developer: { public: 200, internal: 200, private: 200 },
      };
      for (const [caller, row] of Object.entries(expected)) {
        for (const v of ['public', 'internal', 'private'] as const) {
          for (const level of ['G', 'I'] as const) {
            it(`${level}: ${caller} on a ${v} project → ${row[v]}`, async () => {
              const r = await get(urls(v)[level], tokenOf(caller, same(v)));
              assert.equal(r.status, row[v], r.text);
              if (r.status === 200) assert.deepEqual(r.body, { latest: '1.0.0' });
            });
          }
        }
      }
      it('deploy tokens: a group token and a project token of the private project → 200', async () => {
        assert.equal((await get(urls('private').G, x.groupDeploy.private)).status, 200);
        assert.equal((await get(urls('private').I, w.token.deployRead)).status, 200);
      });
      it('non-existing package, group scope: public/anonymous 404, internal/anonymous 401, guest 404 Project not found', async () => {
        assert.equal((await get(urls('public', '@pubgrp/nope').G)).status, 404);
        assert.equal((await get(urls('internal', '@intgrp/nope').G)).status, 401);
        const guest = await get(urls('private', '@privgrp/nope').G, w.token.guest);
        assert.equal(guest.status, 404);
        assert.deepEqual(guest.body, { message: '404 Project Not Found', error: 'Project not found' });
      });
      it('non-existing package, instance scope → 404 for everyone; @any-scope and unscoped names → 404', async () => {
        for (const tok of [undefined, w.token.guest, w.token.reporter]) {
          for (const name of ['@intgrp/nope', '@any-scope/in-public', 'in-public']) {
            const r = await get(urls('internal', name).I, tok);
            assert.equal(r.status, 404, `${name}: ${r.text}`);
            assert.deepEqual(r.body, { message: '404 Project Not Found', error: 'Project not found' });
          }
        }
      });
      it('%20 as the name → 400 "Package Name" not given', async () => {
        for (const url of [`${groupBase(x.groupId.public)}/-/package/%20/dist-tags`, `${INSTANCE}/-/package/%20/dist-tags`]) {
          const r = await get(url);
          assert.equal(r.status, 400);
          assert.deepEqual(r.body, { message: '400 Bad request - "Package Name" not given', error: '"Package Name" not given' });
        }
      });
    });

    describe('dist-tag PUT/DELETE {G,I}/-/package/*name/dist-tags/:tag (docs/design/gitlab-compatibility.md#matrix-dist-tag-writes)', () => {
      const combo: Combo = ['private', 'private'];
      const tagUrl = (level: 'G' | 'I', tag: string, name = pkgOf(combo)) =>
        level === 'G' ? `${groupBase(x.groupId.private)}/-/package/${esc(name)}/dist-tags/${tag}` : `${INSTANCE}/-/package/${esc(name)}/dist-tags/${tag}`;
      const put = (url: string, token: string | undefined, body: string = '"1.0.0"') =>
        t.call('PUT', url, { headers: { ...bearer(token), 'content-type': 'application/json' }, body });
      const del = (url: string, token: string | undefined) => t.call('DELETE', url, { headers: bearer(token) });
      const tagsOf = async () => (await get(`${npmBase(x.projectOf.get('private/private')!)}/-/package/${esc(pkgOf(combo))}/dist-tags`, ROOT_TOKEN)).body;

      for (const level of ['G', 'I'] as const) {
        it(`${level}: anonymous → 401 (PUT and DELETE)`, async () => {
          assert.deepEqual((await put(tagUrl(level, 'x'), undefined)).body, { message: '401 Unauthorized' });
          assert.equal((await del(tagUrl(level, 'x'), undefined)).status, 401);
        });
        it(`${level}: guest → 403 on public, internal and private projects`, async () => {
          for (const c of [COMBOS[0], COMBOS[3], COMBOS[5]]) {
            const url = level === 'G' ? `${groupBase(x.groupId[c[0]])}/-/package/${esc(pkgOf(c))}/dist-tags/x` : `${INSTANCE}/-/package/${esc(pkgOf(c))}/dist-tags/x`;
            const r = await put(url, w.token.guest);
            assert.equal(r.status, 403, r.text);
            assert.deepEqual(r.body, { message: '403 Forbidden' });
            assert.equal((await del(url, w.token.guest)).status, 403);
          }
        });
        it(`${level}: developer PUT → 204 (empty body), maintainer DELETE → 204, developer DELETE → 403`, async () => {
          const r = await put(tagUrl(level, `dev-${level}`), w.token.developer);
          assert.equal(r.status, 204, r.text);
          assert.equal(r.text, '');
          assert.equal((await tagsOf())[`dev-${level}`], '1.0.0');
          assert.equal((await del(tagUrl(level, `dev-${level}`), w.token.developer)).status, 403);
          const d = await del(tagUrl(level, `dev-${level}`), w.token.maintainer);
          assert.equal(d.status, 204, d.text);
          assert.equal((await tagsOf())[`dev-${level}`], undefined);
        });
        it(`${level}: a write deploy token adds and removes; a read deploy token may not`, async () => {
          // At group level the token must see the group: a group deploy token (a project's token sees no group).
          const write = level === 'G' ? x.groupDeployWrite : w.token.deployWrite;
          const read = level === 'G' ? x.groupDeploy.private : w.token.deployRead;
          assert.equal((await put(tagUrl(level, 'dt'), read)).status, 403);
          assert.equal((await put(tagUrl(level, 'dt'), write)).status, 204);
          assert.equal((await del(tagUrl(level, 'dt'), write)).status, 204);
          if (level === 'G') {
            const r = await put(tagUrl(level, 'dt'), w.token.deployWrite);
            assert.equal(r.status, 404, 'a project deploy token does not see the private group');
            assert.deepEqual(r.body, { message: '404 Group Not Found', error: 'Group not found' });
          }
        });
        it(`${level}: a read_api token → 403 insufficient_scope`, async () => {
          const r = await put(tagUrl(level, 'ro'), w.token.readApi);
          assert.equal(r.status, 403);
          assert.equal(r.body.error, 'insufficient_scope');
        });
        it(`${level}: a non-existing package → 404 Project not found (guest and developer alike)`, async () => {
          for (const tok of [w.token.guest, w.token.developer, w.token.maintainer]) {
            const r = await put(tagUrl(level, 'x', '@privgrp/nope'), tok);
            assert.equal(r.status, 404);
            assert.deepEqual(r.body, { message: '404 Project Not Found', error: 'Project not found' });
            assert.equal((await del(tagUrl(level, 'x', '@privgrp/nope'), tok)).status, 404);
          }
        });
        it(`${level}: blank version → 400 "Version" not given; tag %20 → 400 "Tag" not given; empty tag → 404`, async () => {
          for (const body of ['""', '" "', '']) {
            const r = await put(tagUrl(level, 'x'), w.token.developer, body);
            assert.equal(r.status, 400, JSON.stringify(body));
            assert.equal(r.body.error, '"Version" not given');
          }
          const tag = await put(tagUrl(level, '%20'), w.token.developer);
          assert.equal(tag.status, 400);
          assert.equal(tag.body.error, '"Tag" not given');
          const empty = await put(tagUrl(level, ''), w.token.developer);
          assert.equal(empty.status, 404);
          assert.deepEqual(empty.body, { error: '404 Not Found' });
        });
        it(`${level}: an unknown version of an existing package → 404 Package not found; a missing tag → 404 Package tag not found`, async () => {
          const r = await put(tagUrl(level, 'x'), w.token.developer, '"9.9.9"');
          assert.equal(r.status, 404);
          assert.deepEqual(r.body, { message: '404 Package Not Found', error: 'Package not found' });
          const d = await del(tagUrl(level, 'never-set'), w.token.maintainer);
          assert.equal(d.status, 404);
          assert.deepEqual(d.body, { message: '404 Package Tag Not Found', error: 'Package tag not found' });
        });
      }

      it('acts on the project of the last package with that name, and moves an existing tag', async () => {
        const NAME = '@privgrp/twice';
        const p1 = (await api('POST', '/projects', { name: 'twice-1', namespace_id: x.groupId.private, visibility: 'private' })).id;
        const p2 = (await api('POST', '/projects', { name: 'twice-2', namespace_id: x.groupId.private, visibility: 'private' })).id;
        await sharedNames(true);
        await published(t, p1, NAME, '1.0.0');
        await published(t, p2, NAME, '2.0.0');
        await published(t, p2, NAME, '2.1.0');
        await sharedNames(false);
        assert.equal((await put(tagUrl('G', 'stable', NAME), w.token.developer, '"2.0.0"')).status, 204);
        assert.equal((await put(tagUrl('I', 'stable', NAME), w.token.developer, '"2.1.0"')).status, 204, 'moved');
        const own = (await get(`${npmBase(p2)}/-/package/${esc(NAME)}/dist-tags`, ROOT_TOKEN)).body;
        assert.equal(own.stable, '2.1.0');
        assert.equal((await get(`${npmBase(p1)}/-/package/${esc(NAME)}/dist-tags`, ROOT_TOKEN)).body.stable, undefined);
        // 1.0.0 lives in the other project: not a version of the target project.
        assert.equal((await put(tagUrl('G', 'old', NAME), w.token.developer, '"1.0.0"')).status, 404);
        // The group's dist-tags list is the target project's.
        assert.deepEqual((await get(`${groupBase(x.groupId.private)}/-/package/${esc(NAME)}/dist-tags`, w.token.guest)).body, { latest: '2.1.0', stable: '2.1.0' });
      });
    });
  });
}
