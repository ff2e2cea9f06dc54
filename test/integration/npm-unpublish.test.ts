/**
 * `npm unpublish` at project level (docs/design/client-protocols.md#npm-unpublish; GitLab answers 404, docs/design/gitlab-compatibility.md#what-gitlab-leaves-out) on SQLite and
 * PostgreSQL: the exact request sequence libnpmpublish sends, `_rev` checks, who may do it (GitLab's
 * `destroy_package`: Maintainers and write deploy tokens), packuments, dist-tags and revisions updated together,
 * rows retired and blobs kept for `gc`, and the group/instance endpoints pointing users to the project endpoint.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { bearer, createNpmWorld, esc, npmBase, packageState, published, refusedWithNothingStored, type NpmWorld } from '../helpers/npm.js';

for (const dialect of DIALECTS) {
  describe(`npm unpublish [${dialect}]`, () => {
    let t: TestApp;
    let w: NpmWorld;
    let pid: number;
    let groupId: number;
    const base = () => npmBase(pid);
    const writeGet = async (name: string, token = w.token.maintainer) => {
      const r = await t.call('GET', `${base()}/${esc(name)}?write=true`, { headers: bearer(token) });
      assert.equal(r.status, 200, r.text);
      return r.body;
    };
    /** What libnpmpublish sends to remove one version (packument minus it, tags on it dropped, latest recomputed). */
    const withoutVersion = (doc: any, version: string) => {
      const copy = structuredClone(doc);
      delete copy.versions[version];
      for (const [tag, v] of Object.entries(copy['dist-tags'])) if (v === version) delete copy['dist-tags'][tag];
      return copy;
    };

    before(async () => {
      t = await startApp(dialect);
      w = await createNpmWorld(t);
      pid = w.project.private;
      groupId = (await t.call('GET', '/api/v4/groups/privgrp', { token: ROOT_TOKEN })).body.id;
    });
    after(async () => t.close());

    it('one version: PUT -rev without it, then DELETE of its tarball (404, already gone) — as npm does', async () => {
      const NAME = '@privgrp/one';
      await published(t, pid, NAME, '1.0.0');
      await published(t, pid, NAME, '1.1.0', { tag: 'next' });
      await published(t, pid, NAME, '1.2.0');
      const doc = await writeGet(NAME);
      assert.match(doc._rev, /^\d+-[0-9a-f]{16}$/);

      const put = await t.call('PUT', `${base()}/${esc(NAME)}/-rev/${doc._rev}`, { headers: bearer(w.token.maintainer), body: withoutVersion(doc, '1.1.0') });
      assert.equal(put.status, 200, put.text);
      assert.deepEqual(put.body.removed, ['1.1.0']);
      assert.notEqual(put.body.rev, doc._rev);

      const after = await writeGet(NAME);
      assert.deepEqual(Object.keys(after.versions), ['1.0.0', '1.2.0']);
      assert.deepEqual(after['dist-tags'], { latest: '1.2.0' }, 'the tag on the removed version went with it');
      assert.equal(after.time['1.1.0'], undefined);
      assert.equal(after._rev, put.body.rev);

      const tarball = new URL(doc.versions['1.1.0'].dist.tarball).pathname;
      const del = await t.call('DELETE', `${tarball}/-rev/${after._rev}`, { headers: bearer(w.token.maintainer) });
      assert.equal(del.status, 404, 'npm treats this 404 as success');
      const dl = await t.app.inject({ method: 'GET', url: tarball, headers: bearer(w.token.maintainer) });
      assert.equal(dl.statusCode, 404, 'the tarball is no longer served');
      // The version can be published again (GitLab allows it once a package is deleted).
      await published(t, pid, NAME, '1.1.0');
    });

    it('the tarball DELETE alone removes its version (pnpm 11 sends only that)', async () => {
      const NAME = '@privgrp/tar';
      await published(t, pid, NAME, '1.0.0');
      await published(t, pid, NAME, '2.0.0');
      const doc = await writeGet(NAME);
      const tarball = new URL(doc.versions['1.0.0'].dist.tarball).pathname;
      const del = await t.call('DELETE', `${tarball}/-rev/${doc._rev}`, { headers: bearer(w.token.maintainer) });
      assert.equal(del.status, 200, del.text);
      assert.deepEqual(del.body.removed, ['1.0.0']);
      assert.deepEqual(Object.keys((await writeGet(NAME)).versions), ['2.0.0']);
      // The encoded name form works as well.
      const doc2 = await writeGet(NAME);
      const encoded = `${base()}/${esc(NAME)}/-/${encodeURIComponent(`${NAME}-2.0.0.tgz`)}/-rev/${doc2._rev}`;
      assert.equal((await t.call('DELETE', encoded, { headers: bearer(w.token.maintainer) })).status, 200);
    });

    it('the whole package: DELETE -rev → every version, tag and packument gone (404), blobs kept for gc', async () => {
      const NAME = '@privgrp/whole';
      await published(t, pid, NAME, '1.0.0');
      await published(t, pid, NAME, '2.0.0', { tag: 'beta' });
      const blobsBefore = (await packageState(t)).blobs;
      const doc = await writeGet(NAME);
      const del = await t.call('DELETE', `${base()}/${esc(NAME)}/-rev/${doc._rev}`, { headers: bearer(w.token.maintainer) });
      assert.equal(del.status, 200, del.text);
      assert.deepEqual(del.body.removed.sort(), ['1.0.0', '2.0.0']);
      const gone = await t.call('GET', `${base()}/${esc(NAME)}`, { headers: bearer(w.token.maintainer) });
      assert.equal(gone.status, 404);
      assert.deepEqual(gone.body, { message: '404 Packages Not Found', error: 'Packages not found' });
      assert.equal((await t.call('GET', `${base()}/-/package/${esc(NAME)}/dist-tags`, { headers: bearer(w.token.maintainer) })).status, 404);
      // Group and instance documents follow at once (their cache is keyed by the project's revision).
      assert.equal((await t.call('GET', `/api/v4/groups/${groupId}/-/packages/npm/${esc(NAME)}`, { headers: bearer(w.token.maintainer) })).status, 404);
      assert.equal((await t.call('GET', `/api/v4/packages/npm/${esc(NAME)}`, { headers: bearer(w.token.maintainer) })).status, 404);
      assert.deepEqual((await packageState(t)).blobs, blobsBefore, 'blobs stay until gc');
      // Retired as the packages API retires them; `gc` removes the rows and unreferenced blobs later.
      const rows = await t.deps.database.db.selectFrom('packages').select('status').where('name', '=', NAME).execute();
      assert.deepEqual(
        rows.map((r) => r.status),
        ['pending_destruction', 'pending_destruction'],
      );
      // Again: nothing left → 404 (npm treats it as success).
      assert.equal((await t.call('DELETE', `${base()}/${esc(NAME)}/-rev/${doc._rev}`, { headers: bearer(w.token.maintainer) })).status, 409);
      // A fresh publish of the same name works and starts a new revision line with a new ETag.
      await published(t, pid, NAME, '1.0.0');
      assert.equal((await t.call('GET', `${base()}/${esc(NAME)}`, { headers: bearer(w.token.maintainer) })).status, 200);
    });

    it('a blob shared by another package file stays served after one of them is unpublished', async () => {
      const NAME = '@privgrp/shared';
      const { tgz } = await published(t, pid, NAME, '1.0.0');
      // The very same bytes in a project of another root namespace (where the name breaks no convention).
      await published(t, w.project.public, NAME, '1.0.0', { tgz });
      const rows = await t.deps.database.db.selectFrom('package_files').select('blob_key').where('file_name', '=', `${NAME}-1.0.0.tgz`).where('status', '=', 'default').execute();
      assert.equal(rows.length, 2);
      assert.equal(rows[0]!.blob_key, rows[1]!.blob_key, 'content addressing: one blob for both files');
      const doc = await writeGet(NAME);
      assert.equal((await t.call('DELETE', `${base()}/${esc(NAME)}/-rev/${doc._rev}`, { headers: bearer(w.token.maintainer) })).status, 200);
      const copy = await t.app.inject({ method: 'GET', url: `${npmBase(w.project.public)}/${NAME}/-/${NAME}-1.0.0.tgz` });
      assert.equal(copy.statusCode, 200);
      assert.ok(copy.rawPayload.equals(tgz));
    });

    describe('permissions (GitLab destroy_package) and refusals, each leaving everything as it was', () => {
      const NAME = '@privgrp/guarded';
      let rev: string;
      before(async () => {
        await published(t, pid, NAME, '1.0.0');
        await published(t, pid, NAME, '1.1.0');
        rev = (await writeGet(NAME))._rev;
      });
      const attempts = () => [
        () => t.call('DELETE', `${base()}/${esc(NAME)}/-rev/${rev}`, { headers: bearer(undefined) }),
        () => t.call('PUT', `${base()}/${esc(NAME)}/-rev/${rev}`, { headers: bearer(undefined), body: { versions: {} } }),
      ];

      it('anonymous → 401', async () => {
        for (const attempt of attempts()) assert.equal((await refusedWithNothingStored(t, attempt)).status, 401);
      });
      it('guest, reporter and developer → 403; a read deploy token → 403; a read_api token → 403 insufficient_scope', async () => {
        for (const tok of [w.token.guest, w.token.reporter, w.token.developer, w.token.deployRead, w.token.readApi]) {
          const r = await refusedWithNothingStored(t, () => t.call('DELETE', `${base()}/${esc(NAME)}/-rev/${rev}`, { headers: bearer(tok) }));
          assert.equal(r.status, 403, r.text);
          const p = await refusedWithNothingStored(t, () =>
            t.call('PUT', `${base()}/${esc(NAME)}/-rev/${rev}`, { headers: bearer(tok), body: { versions: { '1.0.0': {} } } }),
          );
          assert.equal(p.status, 403);
        }
      });
      it('an outsider → 404 Project not found', async () => {
        const r = await refusedWithNothingStored(t, () => t.call('DELETE', `${base()}/${esc(NAME)}/-rev/${rev}`, { headers: bearer(w.token.outsider) }));
        assert.equal(r.status, 404);
        assert.deepEqual(r.body, { message: '404 Project Not Found', error: 'Project not found' });
      });
      it('a stale or made-up _rev → 409 with the current one in the message', async () => {
        for (const bad of ['1-0000000000000000', '99-abc', 'garbage']) {
          const r = await refusedWithNothingStored(t, () => t.call('DELETE', `${base()}/${esc(NAME)}/-rev/${bad}`, { headers: bearer(w.token.maintainer) }));
          assert.equal(r.status, 409, r.text);
          assert.match(r.body.error, new RegExp(rev));
        }
      });
      it('a -rev PUT without a versions object (npm owner add) is refused, not read as "remove everything"', async () => {
        const r = await refusedWithNothingStored(t, () =>
          t.call('PUT', `${base()}/${esc(NAME)}/-rev/${rev}`, { headers: bearer(w.token.maintainer), body: { _id: NAME, _rev: rev, maintainers: [{ name: 'x' }] } }),
        );
        assert.equal(r.status, 400);
      });
      it('a missing package → 404; the group and instance endpoints answer 405 pointing to the project endpoint', async () => {
        assert.equal((await t.call('DELETE', `${base()}/${esc('@privgrp/never')}/-rev/${rev}`, { headers: bearer(w.token.maintainer) })).status, 404);
        for (const b of [`/api/v4/groups/${groupId}/-/packages/npm`, '/api/v4/packages/npm']) {
          const del = await refusedWithNothingStored(t, () => t.call('DELETE', `${b}/${esc(NAME)}/-rev/${rev}`, { headers: bearer(w.token.maintainer) }));
          assert.equal(del.status, 405);
          assert.match(del.body.error, /project endpoint/);
          const put = await refusedWithNothingStored(t, () => t.call('PUT', `${b}/${esc(NAME)}/-rev/${rev}`, { headers: bearer(w.token.maintainer), body: { versions: {} } }));
          assert.equal(put.status, 405);
        }
      });
      it('a Maintainer and a write deploy token may', async () => {
        const one = await t.call('PUT', `${base()}/${esc(NAME)}/-rev/${rev}`, { headers: bearer(w.token.deployWrite), body: withoutVersion(await writeGet(NAME), '1.0.0') });
        assert.equal(one.status, 200, one.text);
        const all = await t.call('DELETE', `${base()}/${esc(NAME)}/-rev/${one.body.rev}`, { headers: bearer(w.token.maintainer) });
        assert.equal(all.status, 200, all.text);
        assert.deepEqual(all.body.removed, ['1.1.0']);
      });
    });

    it('two unpublishes racing with the same _rev: exactly one wins', async () => {
      const NAME = '@privgrp/race';
      await published(t, pid, NAME, '1.0.0');
      await published(t, pid, NAME, '2.0.0');
      await published(t, pid, NAME, '3.0.0');
      const doc = await writeGet(NAME);
      const [a, b] = await Promise.all([
        t.call('PUT', `${base()}/${esc(NAME)}/-rev/${doc._rev}`, { headers: bearer(w.token.maintainer), body: withoutVersion(doc, '1.0.0') }),
        t.call('PUT', `${base()}/${esc(NAME)}/-rev/${doc._rev}`, { headers: bearer(w.token.maintainer), body: withoutVersion(doc, '2.0.0') }),
      ]);
      assert.deepEqual([a.status, b.status].sort(), [200, 409]);
      assert.equal(Object.keys((await writeGet(NAME)).versions).length, 2);
    });
  });
}
