/**
 * Content discovery and cross-repository mount (docs/design/helm-oci.md#referrers, #cross-repository-mount) on
 * SQLite and PostgreSQL: artifacts attached to a chart (an SBOM as `oras attach` pushes it, a signature whose config
 * media type is its artifact type) are accepted with `OCI-Subject` and listed by the referrers API, filtered and
 * paged; every other non-chart manifest, a referrer of an unknown subject, a Reporter's and a protected push are
 * refused; a mount works from a repository the caller can read and looks exactly like an absent blob otherwise;
 * tags list in byte order.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { basic, buildChart, send, type RawResult } from '../helpers/helm.js';
import { addMember, createGroup, createPat, createProject, createUser } from '../helpers/management.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
const CHART_LAYER = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
const SBOM = 'application/spdx+json';
const COSIGN_SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const descriptor = (mediaType: string, b: Buffer) => ({ mediaType, digest: digestOf(b), size: b.length });
const json = (doc: unknown): Buffer => Buffer.from(JSON.stringify(doc));

function ociError(res: RawResult, status: number, code: string, message?: RegExp): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body?.errors?.[0]?.code, code, res.text);
  if (message) assert.match(res.body.errors[0].message, message);
}

interface Chart {
  manifest: Buffer;
  digest: string;
}

for (const dialect of DIALECTS) {
  describe(`OCI referrers, mounts and tag order [${dialect}]`, () => {
    let t: TestApp;
    let projectId: number;
    const auth: Record<string, string> = {};
    let demo: Chart;
    const empty = Buffer.from('{}');

    const req = (method: string, url: string, who: string | undefined, headers: Record<string, string> = {}, payload?: Buffer) =>
      send(t, method, url, { headers: { ...(who ? { authorization: auth[who]! } : {}), ...headers }, ...(payload ? { payload } : {}) });

    const pushBlob = async (repo: string, bytes: Buffer, who = 'developer'): Promise<void> => {
      const r = await req('POST', `/v2/${repo}/blobs/uploads/?digest=${digestOf(bytes)}`, who, { 'content-type': 'application/octet-stream' }, bytes);
      assert.equal(r.status, 201, r.text);
    };

    const pushChart = async (repo: string, name: string, version: string, who = 'developer'): Promise<Chart> => {
      const chart = buildChart(name, version);
      const config = json({ apiVersion: 'v2', name, version });
      await pushBlob(repo, config, who);
      await pushBlob(repo, chart, who);
      const manifest = json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(HELM_CONFIG, config), layers: [descriptor(CHART_LAYER, chart)] });
      const res = await req('PUT', `/v2/${repo}/manifests/${version}`, who, { 'content-type': OCI_MANIFEST }, manifest);
      assert.equal(res.status, 201, res.text);
      return { manifest, digest: digestOf(manifest) };
    };

    /** An SBOM as `oras attach --artifact-type application/spdx+json` pushes it: empty config, artifactType. */
    const sbomFor = (subject: Chart, content: Buffer, annotations: Record<string, string> = {}): Buffer =>
      json({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: SBOM,
        config: descriptor(OCI_EMPTY, empty),
        layers: [descriptor(SBOM, content)],
        subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length },
        annotations,
      });

    const attach = (repo: string, referrer: Buffer, who = 'developer') =>
      req('PUT', `/v2/${repo}/manifests/${digestOf(referrer)}`, who, { 'content-type': OCI_MANIFEST }, referrer);

    const referrers = (repo: string, digest: string, who = 'reporter', query = '') => req('GET', `/v2/${repo}/referrers/${digest}${query}`, who);

    before(async () => {
      t = await startApp(dialect);
      const group = await createGroup(t, 'acme', { visibility: 'private' });
      projectId = (await createProject(t, 'web', group.id, { visibility: 'private' })).id;
      const shared = await createProject(t, 'shared', group.id, { visibility: 'private' });
      const other = await createGroup(t, 'other', { visibility: 'private' });
      await createProject(t, 'vault', other.id, { visibility: 'private' });
      auth.root = basic('root', ROOT_TOKEN);
      for (const [name, level] of [['developer', 30], ['reporter', 20]] as const) {
        const user = await createUser(t, name);
        auth[name] = basic(name, await createPat(t, user.id));
        await addMember(t, 'projects', projectId, user.id, level);
        // Both may read acme/shared; neither may see other/vault.
        await addMember(t, 'projects', shared.id, user.id, 20);
      }
      demo = await pushChart('acme/web/demo', 'demo', '1.0.0');
      await pushBlob('acme/web/demo', empty);
    });
    after(() => t.close());

    it('accepts an SBOM attached to a chart, answers OCI-Subject, serves it by digest and lists it as the chart\'s referrer', async () => {
      const content = json({ spdxVersion: 'SPDX-2.3', name: 'demo sbom' });
      await pushBlob('acme/web/demo', content);
      const sbom = sbomFor(demo, content, { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' });
      const put = await attach('acme/web/demo', sbom);
      assert.equal(put.status, 201, put.text);
      assert.equal(put.headers['oci-subject'], demo.digest);
      assert.equal(put.headers['docker-content-digest'], digestOf(sbom));

      const got = await req('GET', `/v2/acme/web/demo/manifests/${digestOf(sbom)}`, 'reporter');
      assert.equal(got.status, 200, got.text);
      assert.deepEqual(got.raw, sbom);

      const list = await referrers('acme/web/demo', demo.digest);
      assert.equal(list.status, 200, list.text);
      assert.equal(list.headers['content-type'], OCI_INDEX);
      assert.equal(list.headers['oci-filters-applied'], undefined);
      assert.equal(list.headers.link, undefined);
      assert.deepEqual(list.body, {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          { mediaType: OCI_MANIFEST, digest: digestOf(sbom), size: sbom.length, artifactType: SBOM, annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' } },
        ],
      });
      // Pushing the same referrer again changes nothing.
      assert.equal((await attach('acme/web/demo', sbom)).status, 201);
      assert.equal((await referrers('acme/web/demo', demo.digest)).body.manifests.length, 1);
      // Referrers are no tags: the chart's versions stay the only tags.
      assert.deepEqual((await req('GET', '/v2/acme/web/demo/tags/list', 'reporter')).body.tags, ['1.0.0']);
    });

    it('reports a signature without artifactType under its config media type, and filters by artifactType', async () => {
      const config = json({ critical: { type: 'cosign container image signature' } });
      const payload = json({ signature: 'MEUCIQ…' });
      await pushBlob('acme/web/demo', config);
      await pushBlob('acme/web/demo', payload);
      const sig = json({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: descriptor(COSIGN_SIG, config),
        layers: [descriptor('application/vnd.dev.cosign.simplesigning.v1+json', payload)],
        subject: { mediaType: OCI_MANIFEST, digest: demo.digest, size: demo.manifest.length },
      });
      const put = await attach('acme/web/demo', sig);
      assert.equal(put.status, 201, put.text);
      assert.equal(put.headers['oci-subject'], demo.digest);

      const all = await referrers('acme/web/demo', demo.digest);
      assert.deepEqual(all.body.manifests.map((m: { artifactType: string }) => m.artifactType).sort(), [COSIGN_SIG, SBOM].sort());
      const sigOnly = await referrers('acme/web/demo', demo.digest, 'reporter', `?artifactType=${encodeURIComponent(COSIGN_SIG)}`);
      assert.equal(sigOnly.status, 200, sigOnly.text);
      assert.equal(sigOnly.headers['oci-filters-applied'], 'artifactType');
      assert.deepEqual(sigOnly.body.manifests, [{ mediaType: OCI_MANIFEST, digest: digestOf(sig), size: sig.length, artifactType: COSIGN_SIG }]);
      const none = await referrers('acme/web/demo', demo.digest, 'reporter', '?artifactType=application%2Fx-none');
      assert.equal(none.headers['oci-filters-applied'], 'artifactType');
      assert.deepEqual(none.body.manifests, []);
    });

    it('pages a large listing with a Link to the rest, keeping the filter', async () => {
      const chart = await pushChart('acme/web/paged', 'paged', '1.0.0');
      await pushBlob('acme/web/paged', empty);
      const pushed: string[] = [];
      // Five referrers of ~250 kB each: no page holds more than 1 MiB of them.
      for (let i = 0; i < 5; i++) {
        const content = json({ spdxVersion: 'SPDX-2.3', name: `part ${i}` });
        await pushBlob('acme/web/paged', content);
        const sbom = sbomFor(chart, content, { note: `${i}`.padEnd(250_000, '.') });
        const put = await attach('acme/web/paged', sbom);
        assert.equal(put.status, 201, put.text);
        pushed.push(digestOf(sbom));
      }
      const seen: string[] = [];
      let url: string | undefined = `/v2/acme/web/paged/referrers/${chart.digest}?artifactType=${encodeURIComponent(SBOM)}`;
      let pages = 0;
      while (url) {
        const page = await req('GET', url, 'reporter');
        assert.equal(page.status, 200, page.text);
        assert.equal(page.headers['oci-filters-applied'], 'artifactType');
        assert.ok(page.body.manifests.length >= 1 && page.body.manifests.length < 5, `page of ${page.body.manifests.length}`);
        seen.push(...page.body.manifests.map((m: { digest: string }) => m.digest));
        const link = page.headers.link as string | undefined;
        url = link ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined;
        if (link) assert.match(link, /artifactType=application%2Fspdx%2Bjson/);
        assert.ok(++pages <= 5, 'pagination ends');
      }
      assert.ok(pages >= 2);
      assert.deepEqual(seen, [...pushed].sort(), 'every referrer once, in digest order');
    });

    it('refuses a referrer whose subject is no chart of this repository, one without subject, an index, a tag, a missing blob', async () => {
      const content = json({ spdxVersion: 'SPDX-2.3', name: 'orphan' });
      await pushBlob('acme/web/demo', content);
      const ghost = { manifest: Buffer.from('no such manifest'), digest: digestOf(Buffer.from('no such manifest')) };
      ociError(await attach('acme/web/demo', sbomFor(ghost, content)), 400, 'MANIFEST_INVALID', /no chart in this repository/);
      // A chart of another repository of the same project is no subject here either.
      const other = await pushChart('acme/web/other', 'other', '1.0.0');
      ociError(await attach('acme/web/demo', sbomFor(other, content)), 400, 'MANIFEST_INVALID', /no chart in this repository/);
      // Nor is a referrer a subject.
      const first = (await referrers('acme/web/demo', demo.digest)).body.manifests[0];
      ociError(
        await attach('acme/web/demo', sbomFor({ digest: first.digest, manifest: Buffer.alloc(first.size) }, content)),
        400,
        'MANIFEST_INVALID',
        /no chart in this repository/,
      );

      const noSubject = json({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: SBOM, config: descriptor(OCI_EMPTY, empty), layers: [descriptor(SBOM, content)] });
      ociError(await attach('acme/web/demo', noSubject), 400, 'MANIFEST_INVALID', /only Helm charts \(and artifacts attached to them\) are stored/);
      const index = json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], subject: { mediaType: OCI_MANIFEST, digest: demo.digest, size: demo.manifest.length } });
      ociError(
        await req('PUT', `/v2/acme/web/demo/manifests/${digestOf(index)}`, 'developer', { 'content-type': OCI_INDEX }, index),
        400,
        'MANIFEST_INVALID',
        /only Helm charts \(and artifacts attached to them\)/,
      );
      ociError(
        await req('PUT', '/v2/acme/web/demo/manifests/sbom', 'developer', { 'content-type': OCI_MANIFEST }, sbomFor(demo, content)),
        400,
        'MANIFEST_INVALID',
        /pushed by digest/,
      );
      const unlinked = json({ spdxVersion: 'SPDX-2.3', name: 'never uploaded' });
      ociError(await attach('acme/web/demo', sbomFor(demo, unlinked)), 404, 'MANIFEST_BLOB_UNKNOWN');
      const tooMany = json({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: SBOM,
        config: descriptor(OCI_EMPTY, empty),
        layers: Array.from({ length: 65 }, () => descriptor(SBOM, content)),
        subject: { mediaType: OCI_MANIFEST, digest: demo.digest, size: demo.manifest.length },
      });
      ociError(await attach('acme/web/demo', tooMany), 400, 'MANIFEST_INVALID', /at most 64 layers/);
      const chartWithSubject = json({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: descriptor(HELM_CONFIG, empty),
        layers: [],
        subject: { mediaType: OCI_MANIFEST, digest: demo.digest, size: demo.manifest.length },
      });
      ociError(await attach('acme/web/demo', chartWithSubject), 400, 'MANIFEST_INVALID', /takes no subject/);
      assert.equal((await referrers('acme/web/demo', demo.digest)).body.manifests.length, 2, 'nothing refused was listed');
    });

    it("refuses a Reporter's referrer and one a protection rule on the chart's name keeps from a Developer", async () => {
      const content = json({ spdxVersion: 'SPDX-2.3', name: 'reporter sbom' });
      await pushBlob('acme/web/demo', content);
      ociError(await attach('acme/web/demo', sbomFor(demo, content), 'reporter'), 403, 'DENIED');

      const guarded = await pushChart('acme/web/guarded', 'guarded', '1.0.0');
      await pushBlob('acme/web/guarded', empty);
      await pushBlob('acme/web/guarded', content);
      const rule = await t.call('POST', `/api/v4/projects/${projectId}/packages/protection/rules`, {
        token: ROOT_TOKEN,
        body: { package_name_pattern: 'guarded', package_type: 'helm', minimum_access_level_for_push: 'maintainer' },
      });
      assert.equal(rule.status, 201, rule.text);
      ociError(await attach('acme/web/guarded', sbomFor(guarded, content)), 403, 'DENIED', /Package protected/);
      assert.deepEqual((await referrers('acme/web/guarded', guarded.digest)).body.manifests, []);
      // The rule's minimum is met by an administrator.
      const ok = await attach('acme/web/guarded', sbomFor(guarded, content), 'root');
      assert.equal(ok.status, 201, ok.text);
      assert.equal((await referrers('acme/web/guarded', guarded.digest)).body.manifests.length, 1);
    });

    it('answers the empty index for an unknown subject, DIGEST_INVALID for no digest, and 401 to anonymous on a private project', async () => {
      const unknown = await referrers('acme/web/demo', digestOf(Buffer.from('nothing refers to this')));
      assert.equal(unknown.status, 200, unknown.text);
      assert.deepEqual(unknown.body, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
      ociError(await referrers('acme/web/demo', 'not-a-digest'), 400, 'DIGEST_INVALID');
      ociError(await referrers('acme/web/demo', demo.digest, 'reporter', '?last=nope'), 400, 'DIGEST_INVALID');
      ociError(await req('GET', `/v2/acme/web/demo/referrers/${demo.digest}`, undefined), 401, 'UNAUTHORIZED');
    });

    // docs/design/helm-oci.md#deletion: a package delete takes its OCI rows, the referrers with the chart's manifest.
    it('takes the referrers away with their chart when the package is deleted through the packages API', async () => {
      const gone = await pushChart('acme/web/gone', 'gone', '1.0.0');
      await pushBlob('acme/web/gone', empty);
      const content = json({ spdxVersion: 'SPDX-2.3', name: 'gone sbom' });
      await pushBlob('acme/web/gone', content);
      const sbom = sbomFor(gone, content);
      assert.equal((await attach('acme/web/gone', sbom)).status, 201);
      assert.equal((await referrers('acme/web/gone', gone.digest)).body.manifests.length, 1);

      const pkgs = await t.call('GET', `/api/v4/projects/${projectId}/packages?package_type=helm&package_name=gone`, { token: ROOT_TOKEN });
      const pkg = pkgs.body.find((p: { name: string; version: string }) => p.name === 'gone' && p.version === '1.0.0');
      assert.ok(pkg, pkgs.text);
      const del = await t.call('DELETE', `/api/v4/projects/${projectId}/packages/${pkg.id}`, { token: ROOT_TOKEN });
      assert.equal(del.status, 204, del.text);

      assert.deepEqual((await referrers('acme/web/gone', gone.digest)).body.manifests, []);
      ociError(await req('GET', `/v2/acme/web/gone/manifests/${digestOf(sbom)}`, 'reporter'), 404, 'MANIFEST_UNKNOWN');
    });

    describe('cross-repository mount', () => {
      const secret = Buffer.from('a blob only members of other/vault may read');
      const readable = Buffer.from('a blob in acme/shared, which Developer may read');

      before(async () => {
        await pushBlob('other/vault/chart', secret, 'root');
        await pushBlob('acme/shared/chart', readable, 'root');
      });

      const mount = (digest: string, from?: string) =>
        req('POST', `/v2/acme/web/demo/blobs/uploads/?mount=${digest}${from !== undefined ? `&from=${from}` : ''}`, 'developer', { 'content-length': '0' });

      /** A fallback session's answer, with the parts that differ per session taken out. */
      const shape = (r: RawResult) => {
        const { location, 'docker-upload-uuid': uuid, date, 'x-request-id': requestId, ...headers } = r.headers;
        assert.ok(requestId);
        assert.match(String(location), /^\/v2\/acme\/web\/demo\/blobs\/uploads\/[0-9a-f-]{36}$/);
        assert.equal(String(location).endsWith(String(uuid)), true);
        return { status: r.status, headers, body: r.text };
      };

      it('mounts a blob from a repository the caller may read: 201, and the blob is readable in the target', async () => {
        assert.equal((await req('HEAD', `/v2/acme/web/demo/blobs/${digestOf(readable)}`, 'developer')).status, 404);
        const r = await mount(digestOf(readable), 'acme/shared/chart');
        assert.equal(r.status, 201, r.text);
        assert.equal(r.headers.location, `/v2/acme/web/demo/blobs/${digestOf(readable)}`);
        assert.equal(r.headers['docker-content-digest'], digestOf(readable));
        const got = await req('GET', `/v2/acme/web/demo/blobs/${digestOf(readable)}`, 'reporter');
        assert.equal(got.status, 200, got.text);
        assert.deepEqual(got.raw, readable);
      });

      it("never mounts a blob of a project the caller cannot read, and answers exactly as for an absent blob", async () => {
        const refused = await mount(digestOf(secret), 'other/vault/chart');
        const absent = await mount(digestOf(Buffer.from('no such blob anywhere')), 'other/vault/chart');
        const absentHere = await mount(digestOf(Buffer.from('no such blob anywhere')), 'acme/shared/chart');
        assert.equal(refused.status, 202, refused.text);
        assert.deepEqual(shape(refused), shape(absent));
        assert.deepEqual(shape(refused), shape(absentHere));
        // A project that does not exist, a name that is none, and no `from` at all: the same.
        assert.deepEqual(shape(await mount(digestOf(secret), 'nowhere/at/all')), shape(refused));
        assert.deepEqual(shape(await mount(digestOf(secret), 'Not..A/Name')), shape(refused));
        assert.deepEqual(shape(await mount(digestOf(secret))), shape(refused));
        // Not even a blob the caller could read is looked for without `from`.
        assert.equal((await mount(digestOf(Buffer.from('a blob in acme/shared, which Developer may read')))).status, 202);
        assert.equal((await req('HEAD', `/v2/acme/web/demo/blobs/${digestOf(secret)}`, 'developer')).status, 404);
        ociError(await req('GET', `/v2/acme/web/demo/blobs/${digestOf(secret)}`, 'developer'), 404, 'BLOB_UNKNOWN');
        // The fallback session is an ordinary one.
        assert.equal((await req('DELETE', String(refused.headers.location), 'developer')).status, 204);
      });

      it('refuses a mount to a Reporter like any push', async () => {
        const r = await req('POST', `/v2/acme/web/demo/blobs/uploads/?mount=${digestOf(readable)}&from=acme/shared/chart`, 'reporter');
        ociError(r, 403, 'DENIED');
      });
    });

    it('lists tags in byte order, after `last` too, whatever the database collation', async () => {
      const { db } = t.deps.database;
      const now = new Date().toISOString();
      const sha = createHash('sha256').update('tag order').digest('hex');
      await db
        .insertInto('oci_manifests')
        .values({ project_id: projectId, repository: 'acme/web/order', sha256: sha, media_type: OCI_MANIFEST, size: 1, package_id: null, chart_version: '1.0.0', subject_sha256: null, artifact_type: null, created_at: now })
        .execute();
      const tags = ['a', '1.0.0_build.5', '_x', '1.0.0', 'A', '1.0.0-rc.1'];
      for (const tag of tags) {
        await db.insertInto('oci_tags').values({ project_id: projectId, repository: 'acme/web/order', tag, manifest_sha256: sha, updated_at: now }).execute();
      }
      const bytewise = ['1.0.0', '1.0.0-rc.1', '1.0.0_build.5', 'A', '_x', 'a'];
      assert.deepEqual([...tags].sort(), bytewise);
      const all = await req('GET', '/v2/acme/web/order/tags/list', 'reporter');
      assert.deepEqual(all.body.tags, bytewise);
      const page = await req('GET', '/v2/acme/web/order/tags/list?n=2&last=A', 'reporter');
      assert.deepEqual(page.body.tags, ['_x', 'a']);
      assert.deepEqual((await req('GET', '/v2/acme/web/order/tags/list?n=2&last=1.0.0-rc.1', 'reporter')).body.tags, ['1.0.0_build.5', 'A']);
      if (dialect === 'postgres') {
        // The test's tags tell the orders apart: a linguistic collation sorts them otherwise.
        const icu = await sql<{ tag: string }>`select tag from oci_tags where repository = 'acme/web/order' order by tag collate "en-x-icu"`.execute(db);
        assert.notDeepEqual(
          icu.rows.map((r) => r.tag),
          bytewise,
        );
      }
    });
  });
}
