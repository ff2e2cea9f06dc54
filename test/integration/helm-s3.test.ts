/**
 * The Helm repository on the S3 blob store (a real S3-protocol server on loopback): uploads stream into the bucket,
 * refused uploads leave no object behind, and with direct downloads on, charts and provenance files are answered
 * with GitLab's `302` to a pre-signed URL that helm follows (without the Basic credentials, which it drops on a
 * redirect to another host, and which the signature makes unnecessary).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { createProject } from '../helpers/management.js';
import { basic, buildChart, fixture, helmRepoUpdate, resolveReferenceUrl, send, sha256, upload } from '../helpers/helm.js';
import { startS3, type TestS3 } from '../helpers/s3.js';

for (const dialect of DIALECTS) {
  for (const direct of [true, false]) {
    describe(`Helm on the S3 blob store, direct downloads ${direct ? 'on' : 'off'} [${dialect}]`, () => {
      let s3: TestS3;
      let t: TestApp;
      let projectId: number;
      const auth = basic('root', ROOT_TOKEN);

      before(async () => {
        s3 = await startS3();
        t = await startApp(dialect, { env: { ...s3.env, WHARF_S3_DIRECT_DOWNLOAD: String(direct) } });
        projectId = (await createProject(t, 'charts', undefined, { visibility: 'private' })).id;
      });
      after(async () => {
        await t.close();
        await s3.close();
      });

      const objects = async () => {
        const out: string[] = [];
        for await (const key of t.deps.blobs.list()) out.push(key);
        return out.sort();
      };

      it('stores a chart and its provenance file in the bucket and serves both to helm', async () => {
        const chart = fixture('signed/signtest-0.1.0.tgz');
        const prov = fixture('signed/signtest-0.1.0.tgz.prov');
        const r = await upload(t, `/api/v4/projects/${projectId}/packages/helm/api/stable/charts`, auth, [
          { field: 'chart', content: chart },
          { field: 'prov', content: prov },
        ]);
        assert.equal(r.status, 201, r.text);
        assert.deepEqual(await objects(), [sha256(chart), sha256(prov)].sort());
        const repoUrl = `http://wharf.test/api/v4/projects/${projectId}/packages/helm/stable`;
        const { index } = await helmRepoUpdate(t, { url: repoUrl, username: 'root', password: ROOT_TOKEN });
        const chartUrl = new URL(resolveReferenceUrl(repoUrl, index.entries.signtest![0]!.urls[0]));
        for (const [path, bytes, type] of [
          [chartUrl.pathname, chart, 'application/octet-stream'],
          [`${chartUrl.pathname}.prov`, prov, 'application/pgp-signature'],
        ] as const) {
          const res = await send(t, 'GET', path, { headers: { authorization: auth } });
          if (direct) {
            assert.equal(res.status, 302, res.text);
            const location = String(res.headers.location);
            assert.match(location, /X-Amz-Signature=/);
            const fetched = await fetch(location);
            assert.equal(fetched.status, 200);
            assert.deepEqual(Buffer.from(await fetched.arrayBuffer()), bytes);
          } else {
            assert.equal(res.status, 200);
            assert.equal(res.headers['content-type'], type);
            assert.deepEqual(res.raw, bytes);
          }
        }
        assert.equal(index.entries.signtest![0]!.digest, sha256(chart));
        // Credentials are still checked before any redirect.
        assert.equal((await send(t, 'GET', chartUrl.pathname)).status, 401);
      });

      it('leaves no object behind for a refused upload', async () => {
        const before = await objects();
        const bad = await upload(t, `/api/v4/projects/${projectId}/packages/helm/api/stable/charts`, auth, [
          { field: 'chart', content: buildChart('x', '1.0.0', { yaml: 'apiVersion: v2\nname: x\nversion: "1.0"\n' }) },
        ]);
        assert.equal(bad.status, 400);
        assert.deepEqual(await objects(), before);
      });
    });
  }
}
