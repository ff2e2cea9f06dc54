/**
 * OCI manifests of Helm charts (docs/design/helm-oci.md#one-store) on SQLite and PostgreSQL: a manifest PUT is a
 * chart push through the classic upload's validation, the chart is then in the project's `stable` index, and the
 * manifest is served by tag and by digest; tags list with `n`/`last`; non-Helm manifests, missing blobs, names and
 * tags that disagree with Chart.yaml, broken charts and Reporter pushes are refused in the spec's shape.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { basic, buildChart, send, type RawResult } from '../helpers/helm.js';
import { addMember, createGroup, createPat, createProject, createUser } from '../helpers/management.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
const CHART_LAYER = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const descriptor = (mediaType: string, b: Buffer) => ({ mediaType, digest: digestOf(b), size: b.length });

function ociError(res: RawResult, status: number, code: string, message?: RegExp): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body?.errors?.[0]?.code, code, res.text);
  if (message) assert.match(res.body.errors[0].message, message);
}

for (const dialect of DIALECTS) {
  describe(`OCI manifests of Helm charts [${dialect}]`, () => {
    let t: TestApp;
    let projectId: number;
    const auth: Record<string, string> = {};

    before(async () => {
      t = await startApp(dialect);
      const group = await createGroup(t, 'acme', { visibility: 'private' });
      projectId = (await createProject(t, 'web', group.id, { visibility: 'private' })).id;
      auth.root = basic('root', ROOT_TOKEN);
      for (const [name, level] of [['developer', 30], ['reporter', 20]] as const) {
        const user = await createUser(t, name);
        auth[name] = basic(name, await createPat(t, user.id));
        await addMember(t, 'projects', projectId, user.id, level);
      }
    });
    after(() => t.close());

    const req = (method: string, url: string, who: string | undefined, headers: Record<string, string> = {}, payload?: Buffer) =>
      send(t, method, url, { headers: { ...(who ? { authorization: auth[who]! } : {}), ...headers }, ...(payload ? { payload } : {}) });

    const pushBlob = async (repo: string, bytes: Buffer): Promise<void> => {
      const r = await req('POST', `/v2/${repo}/blobs/uploads/?digest=${digestOf(bytes)}`, 'developer', { 'content-type': 'application/octet-stream' }, bytes);
      assert.equal(r.status, 201, r.text);
    };

    /** What `helm push` sends: config and chart blobs, then the manifest under the version's tag. */
    const helmPush = async (repo: string, chart: Buffer, meta: { name: string; version: string }, tag: string, who = 'developer', layers?: object[]) => {
      const config = Buffer.from(JSON.stringify({ apiVersion: 'v2', ...meta }));
      await pushBlob(repo, config);
      await pushBlob(repo, chart);
      const manifest = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(HELM_CONFIG, config), layers: layers ?? [descriptor(CHART_LAYER, chart)] }),
      );
      const res = await req('PUT', `/v2/${repo}/manifests/${tag}`, who, { 'content-type': OCI_MANIFEST }, manifest);
      return { res, manifest };
    };

    it('stores a pushed chart as the Helm package a classic upload makes, listed in stable, and serves its manifest', async () => {
      const chart = buildChart('demo', '1.2.0');
      const { res, manifest } = await helmPush('acme/web/demo', chart, { name: 'demo', version: '1.2.0' }, '1.2.0');
      assert.equal(res.status, 201, res.text);
      assert.equal(res.headers['docker-content-digest'], digestOf(manifest));
      assert.equal(res.headers.location, `/v2/acme/web/demo/manifests/${digestOf(manifest)}`);

      for (const ref of ['1.2.0', digestOf(manifest)]) {
        const got = await req('GET', `/v2/acme/web/demo/manifests/${ref}`, 'reporter');
        assert.equal(got.status, 200, got.text);
        assert.deepEqual(got.raw, manifest);
        assert.equal(got.headers['content-type'], OCI_MANIFEST);
        assert.equal(got.headers['docker-content-digest'], digestOf(manifest));
      }
      const head = await req('HEAD', '/v2/acme/web/demo/manifests/1.2.0', 'reporter');
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], String(manifest.length));

      // One store: the classic index lists it, the classic download serves the very bytes pushed over OCI.
      const index = await req('GET', `/api/v4/projects/${projectId}/packages/helm/stable/index.yaml`, 'reporter');
      assert.equal(index.status, 200);
      assert.match(index.text, /"demo":\n/);
      assert.match(index.text, /version: "1\.2\.0"/);
      assert.match(index.text, new RegExp(`digest: "${digestOf(chart).slice('sha256:'.length)}"`));
      const tgz = await req('GET', `/api/v4/projects/${projectId}/packages/helm/stable/charts/demo-1.2.0.tgz`, 'reporter');
      assert.deepEqual(tgz.raw, chart);
      const pkgs = await t.call('GET', `/api/v4/projects/${projectId}/packages?package_type=helm`, { token: ROOT_TOKEN });
      assert.ok(pkgs.body.some((p: { name: string; version: string }) => p.name === 'demo' && p.version === '1.2.0'), pkgs.text);
    });

    it('writes + in a version as _ in its tag', async () => {
      const { res } = await helmPush('acme/web/demo', buildChart('demo', '1.0.0+build.5'), { name: 'demo', version: '1.0.0+build.5' }, '1.0.0_build.5');
      assert.equal(res.status, 201, res.text);
      assert.equal((await req('GET', '/v2/acme/web/demo/manifests/1.0.0_build.5', 'reporter')).status, 200);
    });

    it('lists tags in order, n at a time after last, with a Link to the next page', async () => {
      const all = await req('GET', '/v2/acme/web/demo/tags/list', 'reporter');
      assert.equal(all.status, 200, all.text);
      assert.deepEqual(all.body, { name: 'acme/web/demo', tags: ['1.0.0_build.5', '1.2.0'] });
      const first = await req('GET', '/v2/acme/web/demo/tags/list?n=1', 'reporter');
      assert.deepEqual(first.body.tags, ['1.0.0_build.5']);
      assert.equal(first.headers.link, '</v2/acme/web/demo/tags/list?n=1&last=1.0.0_build.5>; rel="next"');
      const second = await req('GET', '/v2/acme/web/demo/tags/list?n=1&last=1.0.0_build.5', 'reporter');
      assert.deepEqual(second.body.tags, ['1.2.0']);
      assert.equal(second.headers.link, undefined);
    });

    it('refuses manifests that are no Helm chart, saying only Helm charts are stored', async () => {
      const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
      await pushBlob('acme/web/demo', config);
      const image = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor('application/vnd.oci.image.config.v1+json', config), layers: [] }),
      );
      ociError(await req('PUT', '/v2/acme/web/demo/manifests/latest', 'developer', { 'content-type': OCI_MANIFEST }, image), 400, 'MANIFEST_INVALID', /only Helm charts/);
      const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }));
      ociError(
        await req('PUT', '/v2/acme/web/demo/manifests/latest', 'developer', { 'content-type': 'application/vnd.oci.image.index.v1+json' }, index),
        400,
        'MANIFEST_INVALID',
        /only Helm charts/,
      );
      ociError(await req('PUT', '/v2/acme/web/demo/manifests/latest', 'developer', { 'content-type': OCI_MANIFEST }, Buffer.from('{nope')), 400, 'MANIFEST_INVALID');
      ociError(await req('GET', '/v2/acme/web/demo/manifests/latest', 'developer'), 404, 'MANIFEST_UNKNOWN');
    });

    it('refuses a manifest naming blobs the repository lacks, a digest it does not match, and a chart that disagrees with its name or tag', async () => {
      const chart = buildChart('demo', '2.0.0');
      const config = Buffer.from('{"name":"demo","version":"2.0.0","apiVersion":"v2"}');
      const missing = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(HELM_CONFIG, config), layers: [descriptor(CHART_LAYER, chart)] }));
      ociError(await req('PUT', '/v2/acme/web/demo/manifests/2.0.0', 'developer', { 'content-type': OCI_MANIFEST }, missing), 404, 'MANIFEST_BLOB_UNKNOWN');
      ociError(await req('PUT', `/v2/acme/web/demo/manifests/${digestOf(Buffer.from('x'))}`, 'developer', { 'content-type': OCI_MANIFEST }, missing), 400, 'DIGEST_INVALID');

      const other = buildChart('other', '2.0.0');
      ociError((await helmPush('acme/web/demo', other, { name: 'demo', version: '2.0.0' }, '2.0.0')).res, 400, 'MANIFEST_INVALID', /named other in Chart\.yaml/);
      ociError((await helmPush('acme/web/demo', chart, { name: 'demo', version: '2.0.0' }, '2.0.1')).res, 400, 'MANIFEST_INVALID', /not the chart's version 2\.0\.0/);
      // The archive rules of a classic upload: this is no gzip at all.
      ociError((await helmPush('acme/web/demo', Buffer.from('not a chart'), { name: 'demo', version: '2.0.0' }, '2.0.0')).res, 400, 'MANIFEST_INVALID');
      const tags = await req('GET', '/v2/acme/web/demo/tags/list', 'reporter');
      assert.ok(!tags.body.tags.includes('2.0.0') && !tags.body.tags.includes('2.0.1'), tags.text);
    });

    it("applies the project's package protection rules to a push, as to a classic upload", async () => {
      const rule = await t.call('POST', `/api/v4/projects/${projectId}/packages/protection/rules`, {
        token: ROOT_TOKEN,
        body: { package_name_pattern: 'guarded', package_type: 'helm', minimum_access_level_for_push: 'maintainer' },
      });
      assert.equal(rule.status, 201, rule.text);
      const { res } = await helmPush('acme/web/guarded', buildChart('guarded', '1.0.0'), { name: 'guarded', version: '1.0.0' }, '1.0.0');
      ociError(res, 403, 'DENIED', /Package protected/);
      ociError(await req('GET', '/v2/acme/web/guarded/manifests/1.0.0', 'developer'), 404, 'MANIFEST_UNKNOWN');
    });

    it('refuses replacing a chart version the overwrite policy keeps, with DENIED', async () => {
      const set = await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { helm_chart_overwrite_policy: 'deny' } });
      assert.equal(set.status, 200, set.text);
      try {
        const { res } = await helmPush('acme/web/demo', buildChart('demo', '1.2.0'), { name: 'demo', version: '1.2.0' }, '1.2.0');
        assert.equal(res.status, 409, res.text);
        assert.equal(res.body.errors[0].code, 'DENIED');
        assert.match(res.body.errors[0].message, /already exists in channel stable/);
      } finally {
        await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { helm_chart_overwrite_policy: 'allow' } });
      }
    });

    it('refuses a Reporter push and an anonymous pull of the private project', async () => {
      const chart = buildChart('demo', '3.0.0');
      const config = Buffer.from('{"name":"demo","version":"3.0.0","apiVersion":"v2"}');
      await pushBlob('acme/web/demo', config);
      await pushBlob('acme/web/demo', chart);
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(HELM_CONFIG, config), layers: [descriptor(CHART_LAYER, chart)] }));
      ociError(await req('PUT', '/v2/acme/web/demo/manifests/3.0.0', 'reporter', { 'content-type': OCI_MANIFEST }, manifest), 403, 'DENIED');
      const anon = await req('GET', '/v2/acme/web/demo/manifests/1.2.0', undefined);
      ociError(anon, 401, 'UNAUTHORIZED');
      assert.equal(anon.headers['www-authenticate'], 'Bearer realm="http://wharf.test/jwt/auth",service="container_registry",scope="repository:acme/web/demo:pull"');
    });
  });
}
