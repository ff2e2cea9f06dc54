/**
 * An upload tells the index service what it changed, and the next read updates the previous document instead of
 * rebuilding the channel. Whatever happens to a channel — new charts, new versions, overwrites, provenance uploads,
 * deletions through the API, concurrent uploads — the document served must be byte for byte (and ETag for ETag) the
 * one a fresh instance builds from the database.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { createGroup, createProject } from '../helpers/management.js';
import { basic, buildChart, loadIndexStrict, send, upload } from '../helpers/helm.js';
import { helmServices } from '../../src/compose.js';
import { HelmRepository } from '../../src/storage/db/repositories/helm.repository.js';

for (const dialect of DIALECTS) {
  describe(`Helm index kept up to date change by change [${dialect}]`, () => {
    let t: TestApp;
    let projectId: number;
    const auth = basic('root', ROOT_TOKEN);
    const base = () => `/api/v4/projects/${projectId}/packages/helm`;

    before(async () => {
      t = await startApp(dialect);
      const group = await createGroup(t, `idx-${dialect}`, { visibility: 'public' });
      projectId = (await createProject(t, 'charts', group.id, { visibility: 'public' })).id;
    });
    after(async () => t.close());

    const push = async (channel: string, name: string, version: string, extraYaml = '') => {
      const r = await upload(t, `${base()}/api/${channel}/charts`, auth, [{ field: 'chart', content: buildChart(name, version, { extraYaml }) }]);
      assert.equal(r.status, 201, r.text);
    };
    /** What an instance that never saw these writes builds from the database. */
    const fresh = () =>
      helmServices({
        db: t.deps.database.db,
        settings: t.deps.services.settings,
        blobs: t.deps.blobs,
        clock: t.deps.clock,
        config: t.deps.config,
        changes: t.deps.database.changes,
        protection: t.deps.services.protection,
        audit: t.deps.services.audit,
        sharedDatabase: false,
      });
    const assertSameAsFresh = async (channel: string) => {
      const served = await send(t, 'GET', `${base()}/${channel}/index.yaml`);
      assert.equal(served.status, 200);
      const built = await fresh().index.read(projectId, channel);
      assert.equal(served.text, Buffer.concat(built.parts).toString(), 'same bytes as a full build');
      assert.equal(served.headers.etag, built.etag, 'same ETag as a full build');
      return loadIndexStrict(served.text);
    };

    it('applies each upload to the previous document without reading the whole channel again', async () => {
      await push('stable', 'alpha', '1.0.0');
      await push('stable', 'beta', '0.1.0');
      await assertSameAsFresh('stable');
      let fullBuilds = 0;
      const original = HelmRepository.prototype.indexFileIds;
      HelmRepository.prototype.indexFileIds = function (...args: Parameters<typeof original>) {
        fullBuilds++;
        return original.apply(this, args);
      };
      try {
        await push('stable', 'alpha', '1.1.0');
        await push('stable', 'gamma', '2.0.0-rc.1');
        const served = await send(t, 'GET', `${base()}/stable/index.yaml`);
        assert.equal(fullBuilds, 0, 'two uploads, then a read: no full build');
        assert.deepEqual(
          Object.fromEntries(Object.entries(loadIndexStrict(served.text).entries).map(([k, v]) => [k, v.map((e) => e.version)])),
          { alpha: ['1.1.0', '1.0.0'], beta: ['0.1.0'], gamma: ['2.0.0-rc.1'] },
        );
      } finally {
        HelmRepository.prototype.indexFileIds = original;
      }
      await assertSameAsFresh('stable');
    });

    it('stays identical to a full build through overwrites, provenance, deletions and concurrent uploads', async () => {
      // An overwrite of the same version (GitLab's default policy: newest wins).
      await push('stable', 'alpha', '1.1.0', 'home: https://example.com/second\n');
      let index = await assertSameAsFresh('stable');
      assert.equal(index.entries.alpha?.find((e) => e.version === '1.1.0')?.home, 'https://example.com/second');
      // A provenance upload moves the revision without changing the entries.
      const prov = [
        '-----BEGIN PGP SIGNED MESSAGE-----',
        'Hash: SHA512',
        '',
        'apiVersion: v2',
        'name: beta',
        'version: 0.1.0',
        '',
        '...',
        'files:',
        '  beta-0.1.0.tgz: sha256:0000000000000000000000000000000000000000000000000000000000000000',
        '-----BEGIN PGP SIGNATURE-----',
        '',
        'wsBcBAEBCgAQBQJlAAAAAAkQAAAAAAAAAAAAAA==',
        '-----END PGP SIGNATURE-----',
        '',
      ].join('\n');
      const provUpload = await upload(t, `${base()}/api/stable/prov`, auth, [{ field: 'prov', content: Buffer.from(prov) }]);
      // Accepted or refused (the digest signs nothing stored), the index must match a full build either way.
      assert.ok([201, 400].includes(provUpload.status), provUpload.text);
      await assertSameAsFresh('stable');
      // A deletion through the ChartMuseum API (not noted: the next read builds from scratch).
      assert.equal((await send(t, 'DELETE', `${base()}/api/stable/charts/beta/0.1.0`, { headers: { authorization: auth } })).status, 200);
      index = await assertSameAsFresh('stable');
      assert.equal(index.entries.beta, undefined);
      // Uploads racing each other, then one read.
      await Promise.all(['3.0.0', '3.1.0', '3.2.0', '2.9.9'].map((v) => push('stable', 'delta', v)));
      index = await assertSameAsFresh('stable');
      assert.deepEqual(index.entries.delta?.map((e) => e.version), ['3.2.0', '3.1.0', '3.0.0', '2.9.9']);
      // A chart in another channel changes nothing here, and its own channel is right too.
      await push('edge', 'alpha', '9.0.0');
      await assertSameAsFresh('stable');
      await assertSameAsFresh('edge');
    });
  });
}
