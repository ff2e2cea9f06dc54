/** Deleting packages and package files through GitLab's API, and garbage collection of what they leave. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createNpmWorld, published, type NpmWorld } from '../helpers/npm.js';

for (const dialect of DIALECTS) {
  describe(`package deletion and gc [${dialect}]`, () => {
    let t: TestApp;
    let w: NpmWorld;
    before(async () => {
      t = await startApp(dialect);
      w = await createNpmWorld(t);
    });
    after(async () => t.close());

    const packument = async (projectId: number, name: string, token?: string) =>
      (await t.call('GET', `/api/v4/projects/${projectId}/packages/npm/${name.replace('/', '%2f')}`, { token, headers: { accept: 'application/json' } })).body;
    const packageId = async (projectId: number, name: string, version: string, token?: string) =>
      (await t.call('GET', `/api/v4/projects/${projectId}/packages?package_name=${encodeURIComponent(name)}&package_version=${version}`, { token })).body[0]?.id as number | undefined;
    const blobCount = async () => {
      let n = 0;
      for await (const _ of t.deps.blobs.list()) n++;
      return n;
    };

    it('lets Maintainers and write deploy tokens delete, nobody else', async () => {
      await published(t, w.project.private, '@privgrp/del', '1.0.0');
      const id = (await packageId(w.project.private, '@privgrp/del', '1.0.0', w.token.maintainer))!;
      const url = `/api/v4/projects/${w.project.private}/packages/${id}`;
      assert.equal((await t.call('DELETE', url)).status, 401);
      assert.equal((await t.call('DELETE', url, { token: w.token.outsider })).status, 404);
      assert.equal((await t.call('DELETE', url, { token: w.token.reporter })).status, 403);
      assert.equal((await t.call('DELETE', url, { token: w.token.developer })).status, 403);
      assert.equal((await t.call('DELETE', url, { token: w.token.readApi })).status, 403, 'read_api tokens may not delete');
      assert.equal((await t.call('DELETE', url, { token: w.token.deployRead })).status, 403);
      const r = await t.call('DELETE', url, { token: w.token.deployWrite });
      assert.equal(r.status, 204);
      assert.equal((await t.call('DELETE', url, { token: w.token.maintainer })).status, 404, 'already gone');
    });

    it('removes the version from the packument and its dist-tags at once; `latest` falls back to the highest', async () => {
      await published(t, w.project.public, '@pubgrp/life', '1.0.0');
      await published(t, w.project.public, '@pubgrp/life', '1.1.0');
      assert.equal((await packument(w.project.public, '@pubgrp/life'))['dist-tags'].latest, '1.1.0');
      const id = (await packageId(w.project.public, '@pubgrp/life', '1.1.0'))!;
      assert.equal((await t.call('DELETE', `/api/v4/projects/${w.project.public}/packages/${id}`, { token: w.token.maintainer })).status, 204);
      const doc = await packument(w.project.public, '@pubgrp/life');
      assert.deepEqual(Object.keys(doc.versions), ['1.0.0']);
      assert.equal(doc['dist-tags'].latest, '1.0.0');
      const tarball = await t.call('GET', `/api/v4/projects/${w.project.public}/packages/npm/@pubgrp/life/-/@pubgrp/life-1.1.0.tgz`);
      assert.equal(tarball.status, 404);
      assert.equal((await t.call('GET', `/api/v4/projects/${w.project.public}/packages/${id}`)).status, 404);
      // The version can be published again after a delete.
      await published(t, w.project.public, '@pubgrp/life', '1.1.0');
      assert.deepEqual(Object.keys((await packument(w.project.public, '@pubgrp/life')).versions).sort(), ['1.0.0', '1.1.0']);
    });

    it('deletes a single file; a package left without files goes with it', async () => {
      await published(t, w.project.public, '@pubgrp/onefile', '3.0.0');
      const id = (await packageId(w.project.public, '@pubgrp/onefile', '3.0.0'))!;
      const files = (await t.call('GET', `/api/v4/projects/${w.project.public}/packages/${id}/package_files`)).body;
      assert.equal(files.length, 1);
      const base = `/api/v4/projects/${w.project.public}/packages/${id}/package_files`;
      assert.equal((await t.call('DELETE', `${base}/${files[0].id}`, { token: w.token.developer })).status, 403);
      assert.equal((await t.call('DELETE', `${base}/999999`, { token: w.token.maintainer })).status, 404);
      assert.equal((await t.call('DELETE', `${base}/${files[0].id}`, { token: w.token.maintainer })).status, 204);
      assert.equal((await t.call('GET', `/api/v4/projects/${w.project.public}/packages/${id}`)).status, 404);
      assert.equal((await t.call('GET', `/api/v4/projects/${w.project.public}/packages/npm/@pubgrp%2fonefile`)).status, 404);
    });

    it('gc purges deleted rows and frees only blobs nothing references', async () => {
      // The same bytes in two projects share one blob: deleting one copy must not free it.
      const twin = await published(t, w.project.public, '@pubgrp/twin', '1.0.0');
      const copy = await published(t, w.project.internal, '@pubgrp/twin', '1.0.0');
      assert.deepEqual(copy.tgz, twin.tgz);
      const twinId = (await packageId(w.project.public, '@pubgrp/twin', '1.0.0'))!;
      assert.equal((await t.call('DELETE', `/api/v4/projects/${w.project.public}/packages/${twinId}`, { token: w.token.maintainer })).status, 204);
      const before = await blobCount();
      const dry = await t.deps.services.gc.run({ graceMs: 0, dryRun: true });
      assert.equal(dry.packagesPurged, 0);
      assert.ok(dry.blobsDeleted >= 1, 'earlier deletions left unreferenced blobs');
      assert.equal(await blobCount(), before, 'a dry run removes nothing');

      const spared = await t.deps.services.gc.run({ graceMs: 3_600_000 });
      assert.equal(spared.blobsDeleted, 0, 'blobs younger than the grace period are kept');
      assert.ok(spared.packagesPurged >= 3);

      const r = await t.deps.services.gc.run({ graceMs: 0 });
      assert.equal(r.blobsDeleted, dry.blobsDeleted);
      assert.ok(r.bytesFreed > 0);
      // Everything still listed still downloads, the surviving twin included.
      const twinCopy = await t.call('GET', `/api/v4/projects/${w.project.internal}/packages/npm/@pubgrp/twin/-/@pubgrp/twin-1.0.0.tgz`, { token: w.token.reporter });
      assert.equal(twinCopy.status, 200);
      const live = (await t.call('GET', `/api/v4/projects/${w.project.public}/packages`)).body as { id: number }[];
      for (const p of live) {
        const files = (await t.call('GET', `/api/v4/projects/${w.project.public}/packages/${p.id}/package_files`)).body;
        for (const f of files) {
          const dl = await t.call('GET', `/api/v4/projects/${w.project.public}/packages/${p.id}/package_files/${f.id}/download`);
          assert.equal(dl.status, 200, `${p.id}/${f.id}`);
        }
      }
      const again = await t.deps.services.gc.run({ graceMs: 0 });
      assert.deepEqual([again.packagesPurged, again.filesPurged, again.blobsDeleted], [0, 0, 0]);
    });
  });
}
