/**
 * npm package name ownership (issue 12, finding 4): a name belongs to the first project of its top-level namespace
 * that published it. A Developer of a sibling project cannot publish versions of it (403 naming the owner), so the
 * group and instance endpoints never serve a sibling's version as `latest`. Other top-level namespaces are
 * independent; the instance setting `npm_package_names_shared_across_projects` restores GitLab's rule; ownership
 * is released when the owner holds no package of the name; two first publishes racing in two projects: one wins.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { addMember, createGroup, createPat, createProject, createUser } from '../helpers/management.js';
import { bearer, esc, publish, publishBody, published, refusedWithNothingStored } from '../helpers/npm.js';
import { migration007 } from '../../src/storage/db/migrations/007-package-name-owners.js';

for (const dialect of DIALECTS) {
  describe(`npm package name ownership [${dialect}]`, () => {
    let t: TestApp;
    let acme: number;
    let core: number;
    let sibling: number;
    let nested: number;
    let hidden: number;
    let other: number;
    /** Developer of `acme/sibling` only. */
    let dev: string;
    /** Developer of the whole acme group. */
    let groupDev: string;
    const shared = async (on: boolean) => {
      const r = await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { npm_package_names_shared_across_projects: on } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.npm_package_names_shared_across_projects, on);
    };
    const versionsAt = async (url: string) => Object.keys((await t.call('GET', url, { token: ROOT_TOKEN })).body.versions ?? {}).sort();

    before(async () => {
      t = await startApp(dialect);
      acme = (await createGroup(t, 'acme', { visibility: 'private' })).id;
      const sub = (await createGroup(t, 'team', { parent_id: acme, visibility: 'private' })).id;
      core = (await createProject(t, 'core', acme, { visibility: 'private' })).id;
      sibling = (await createProject(t, 'sibling', acme, { visibility: 'private' })).id;
      nested = (await createProject(t, 'nested', sub, { visibility: 'private' })).id;
      hidden = (await createProject(t, 'hidden', acme, { visibility: 'private' })).id;
      const otherGroup = (await createGroup(t, 'other', { visibility: 'private' })).id;
      other = (await createProject(t, 'lib', otherGroup, { visibility: 'private' })).id;
      const d = await createUser(t, 'sibdev');
      for (const p of [sibling, nested, other]) await addMember(t, 'projects', p, d.id, 30);
      dev = await createPat(t, d.id);
      const g = await createUser(t, 'groupdev');
      await addMember(t, 'groups', acme, g.id, 30);
      groupDev = await createPat(t, g.id);
      await published(t, core, '@acme/core', '1.0.0');
      await published(t, hidden, '@acme/secret', '1.0.0');
    });
    after(async () => t?.close());

    it('the default is off', async () => {
      const r = await t.call('GET', '/api/v4/application/settings', { token: ROOT_TOKEN });
      assert.equal(r.body.npm_package_names_shared_across_projects, false);
      const bad = await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { npm_package_names_shared_across_projects: 'maybe' } });
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body, { message: { npm_package_names_shared_across_projects: ['is not a boolean'] } });
      // Only administrators change it.
      assert.equal((await t.call('PUT', '/api/v4/application/settings', { token: groupDev, body: { npm_package_names_shared_across_projects: true } })).status, 403);
    });

    it('a sibling project’s Developer is refused with 403 naming the owning project, and nothing is stored', async () => {
      const r = await refusedWithNothingStored(t, () => publish(t, sibling, publishBody('@acme/core', '9.9.9').body, groupDev));
      assert.equal(r.status, 403);
      const message = 'Package name @acme/core belongs to the project acme/core: publish new versions of it there.';
      assert.deepEqual(r.body, { message, error: message });
      // Names differ only in case: the same name.
      const upper = await refusedWithNothingStored(t, () => publish(t, sibling, publishBody('@acme/CORE', '9.9.9').body, groupDev, '@acme/CORE'));
      assert.equal(upper.status, 403);
      // A subgroup's project is in the same top-level namespace.
      assert.equal((await refusedWithNothingStored(t, () => publish(t, nested, publishBody('@acme/core', '9.9.9').body, dev))).status, 403);
      // Administrators too: the rule is about where a name lives, not about rights.
      assert.equal((await refusedWithNothingStored(t, () => publish(t, sibling, publishBody('@acme/core', '9.9.9').body, ROOT_TOKEN))).status, 403);
      // The group and instance endpoints still serve only the owner's versions.
      assert.deepEqual(await versionsAt(`/api/v4/groups/${acme}/-/packages/npm/${esc('@acme/core')}`), ['1.0.0']);
      assert.deepEqual(await versionsAt(`/api/v4/packages/npm/${esc('@acme/core')}`), ['1.0.0']);
    });

    it('names the owner only to a caller who may see it', async () => {
      const r = await publish(t, sibling, publishBody('@acme/secret', '2.0.0').body, dev);
      assert.equal(r.status, 403, r.text);
      assert.equal(r.body.error, 'Package name @acme/secret belongs to another project of the acme namespace: publish new versions of it there.');
      assert.doesNotMatch(r.text, /hidden/);
    });

    it('the owning project publishes new versions; another top-level namespace has its own names', async () => {
      assert.equal((await publish(t, core, publishBody('@acme/core', '1.1.0').body, groupDev)).status, 200);
      assert.equal((await publish(t, other, publishBody('@acme/core', '5.0.0').body, dev)).status, 200);
      assert.equal((await publish(t, sibling, publishBody('@acme/sibling-only', '1.0.0').body, dev)).status, 200);
    });

    it('with npm_package_names_shared_across_projects on, GitLab’s rule applies; off again, the first owner keeps the name', async () => {
      await shared(true);
      try {
        assert.equal((await publish(t, sibling, publishBody('@acme/core', '2.0.0').body, dev)).status, 200);
        assert.deepEqual(await versionsAt(`/api/v4/groups/${acme}/-/packages/npm/${esc('@acme/core')}`), ['1.0.0', '1.1.0', '2.0.0']);
      } finally {
        await shared(false);
      }
      const r = await publish(t, sibling, publishBody('@acme/core', '2.0.1').body, groupDev);
      assert.equal(r.status, 403, r.text);
      assert.match(r.body.error, /belongs to the project acme\/core/);
    });

    it('ownership is released once the owner holds no package of the name', async () => {
      await published(t, core, '@acme/short-lived', '1.0.0');
      assert.equal((await publish(t, sibling, publishBody('@acme/short-lived', '2.0.0').body, dev)).status, 403);
      const list = await t.call('GET', `/api/v4/projects/${core}/packages?package_name=${encodeURIComponent('@acme/short-lived')}`, { token: ROOT_TOKEN });
      for (const p of list.body as Array<{ id: number }>) {
        assert.equal((await t.call('DELETE', `/api/v4/projects/${core}/packages/${p.id}`, { token: ROOT_TOKEN })).status, 204);
      }
      assert.equal((await publish(t, sibling, publishBody('@acme/short-lived', '2.0.0').body, dev)).status, 200);
      // The sibling owns it now.
      const back = await publish(t, core, publishBody('@acme/short-lived', '3.0.0').body, groupDev);
      assert.equal(back.status, 403, back.text);
      assert.match(back.body.error, /belongs to the project acme\/sibling/);
    });

    it('two first publishes of a new name in two projects at once: exactly one wins', async () => {
      for (let round = 0; round < 5; round++) {
        const name = `@acme/race-${round}`;
        const results = await Promise.all([
          publish(t, core, publishBody(name, '1.0.0').body, groupDev),
          publish(t, sibling, publishBody(name, '1.0.1').body, groupDev),
        ]);
        const statuses = results.map((r) => r.status).sort();
        assert.deepEqual(statuses, [200, 403], results.map((r) => r.text).join(' | '));
        const winner = results[0]!.status === 200 ? core : sibling;
        const loser = winner === core ? sibling : core;
        const db = t.deps.database.db;
        const rows = await db.selectFrom('packages').select(['project_id']).where('name', '=', name).execute();
        assert.deepEqual(rows.map((r) => r.project_id), [winner]);
        const owner = await db.selectFrom('package_name_owners').select('project_id').where('name', '=', name).execute();
        assert.deepEqual(owner.map((r) => r.project_id), [winner]);
        assert.equal((await publish(t, loser, publishBody(name, '1.0.2').body, groupDev)).status, 403);
      }
    });

    it('migration 007 gives each existing name to the project holding its oldest live package', async () => {
      const db = t.deps.database.db;
      const before = await db.selectFrom('package_name_owners').selectAll().orderBy('root_namespace_id').orderBy('name').execute();
      // @acme/core lives in core (1.0.0, oldest) and sibling (2.0.0, published while names were shared).
      assert.ok(before.some((r) => r.name === '@acme/core' && r.project_id === core));
      await db.schema.dropTable('package_name_owners').execute();
      await migration007(t.dialect).up(db);
      const rebuilt = await db.selectFrom('package_name_owners').selectAll().orderBy('root_namespace_id').orderBy('name').execute();
      const view = (rows: typeof before) => rows.map((r) => `${r.root_namespace_id}:${r.name}=${r.project_id}`);
      // Released and re-taken names (short-lived) and race winners come out as they were claimed.
      assert.deepEqual(view(rebuilt), view(before));
    });

    it('dist-tag writes in the owning project are not affected', async () => {
      const tag = await t.call('PUT', `/api/v4/projects/${core}/packages/npm/-/package/${esc('@acme/core')}/dist-tags/stable`, { headers: bearer(groupDev), body: '"1.0.0"' });
      assert.equal(tag.status, 204, tag.text);
    });
  });
}
