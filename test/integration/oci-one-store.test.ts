/**
 * One chart store, reachable both ways (docs/design/helm-oci.md#one-store), on SQLite and PostgreSQL: a classic
 * upload has a deterministic OCI manifest (the same digest twice and from a second instance, a provenance layer when
 * a `.prov` was uploaded, the classic file's bytes as its chart layer); an OCI push is listed in the
 * `helm_oci_channel` channel; deleting either way deletes both views at once; an overwritten version does not serve
 * its old layer; `wharf gc` expires abandoned uploads and drops blob links no manifest needs.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, startPeer, type PeerApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { basic, buildChart, fixture, send, upload, type RawResult } from '../helpers/helm.js';
import { addMember, createGroup, createPat, createProject, createUser } from '../helpers/management.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
const CHART_LAYER = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
const PROV_LAYER = 'application/vnd.cncf.helm.chart.provenance.v1.prov';
const hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const digestOf = (b: Buffer): string => `sha256:${hex(b)}`;
const descriptor = (mediaType: string, b: Buffer) => ({ mediaType, digest: digestOf(b), size: b.length });
const API = '/api/v4';

function ociError(res: RawResult, status: number, code: string, message?: RegExp): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body?.errors?.[0]?.code, code, res.text);
  if (message) assert.match(res.body.errors[0].message, message);
}

for (const dialect of DIALECTS) {
  describe(`OCI and classic Helm on one store [${dialect}]`, () => {
    let t: TestApp;
    let peer: PeerApp;
    let projectId: number;
    const auth: Record<string, string> = {};

    before(async () => {
      t = await startApp(dialect);
      peer = await startPeer(t);
      const group = await createGroup(t, 'acme', { visibility: 'private' });
      projectId = (await createProject(t, 'web', group.id, { visibility: 'private' })).id;
      auth.root = basic('root', ROOT_TOKEN);
      for (const [name, level] of [['maintainer', 40], ['developer', 30], ['reporter', 20]] as const) {
        const user = await createUser(t, name);
        auth[name] = basic(name, await createPat(t, user.id));
        await addMember(t, 'projects', projectId, user.id, level);
      }
    });
    after(async () => {
      await peer.close();
      await t.close();
    });

    const req = (method: string, url: string, who: string | undefined, headers: Record<string, string> = {}, payload?: Buffer, on: TestApp | PeerApp = t) =>
      send(on as TestApp, method, url, { headers: { ...(who ? { authorization: auth[who]! } : {}), ...headers }, ...(payload ? { payload } : {}) });

    const classicUpload = async (chart: Buffer, fileName: string, prov?: Buffer, channel = 'stable') => {
      const parts = [{ field: 'chart', content: chart, filename: fileName }, ...(prov ? [{ field: 'prov', content: prov, filename: `${fileName}.prov` }] : [])];
      const r = await upload(t, `${API}/projects/${projectId}/packages/helm/api/${channel}/charts`, auth.developer, parts);
      assert.equal(r.status, 201, r.text);
    };

    const pushBlob = async (repo: string, bytes: Buffer): Promise<void> => {
      const r = await req('POST', `/v2/${repo}/blobs/uploads/?digest=${digestOf(bytes)}`, 'developer', { 'content-type': 'application/octet-stream' }, bytes);
      assert.equal(r.status, 201, r.text);
    };

    /** What `helm push` sends; returns the manifest's bytes. */
    const ociPush = async (repo: string, chart: Buffer, meta: { name: string; version: string }): Promise<Buffer> => {
      const config = Buffer.from(JSON.stringify({ name: meta.name, version: meta.version, apiVersion: 'v2' }));
      await pushBlob(repo, config);
      await pushBlob(repo, chart);
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(HELM_CONFIG, config), layers: [descriptor(CHART_LAYER, chart)] }));
      const res = await req('PUT', `/v2/${repo}/manifests/${meta.version.replaceAll('+', '_')}`, 'developer', { 'content-type': OCI_MANIFEST }, manifest);
      assert.equal(res.status, 201, res.text);
      return manifest;
    };

    const getManifest = (repo: string, ref: string, on: TestApp | PeerApp = t) => req('GET', `/v2/${repo}/manifests/${ref}`, 'reporter', { accept: OCI_MANIFEST }, undefined, on);

    const helmPackages = async () => {
      const r = await t.call('GET', `${API}/projects/${projectId}/packages?package_type=helm&per_page=100`, { token: ROOT_TOKEN });
      assert.equal(r.status, 200, r.text);
      return r.body as Array<{ id: number; name: string; version: string }>;
    };
    const indexOf = async (channel: string) => (await req('GET', `${API}/projects/${projectId}/packages/helm/${channel}/index.yaml`, 'reporter')).text;

    it('gives a classic upload with a .prov a deterministic manifest, the same on a second instance, whose layers are the classic files', async () => {
      const chart = fixture('signed/signtest-0.1.0.tgz');
      const prov = fixture('signed/signtest-0.1.0.tgz.prov');
      await classicUpload(chart, 'signtest-0.1.0.tgz', prov);

      const first = await getManifest('acme/web/signtest', '0.1.0');
      assert.equal(first.status, 200, first.text);
      assert.equal(first.headers['content-type'], OCI_MANIFEST);
      assert.equal(first.headers['docker-content-digest'], digestOf(first.raw));
      const again = await getManifest('acme/web/signtest', '0.1.0');
      const onPeer = await getManifest('acme/web/signtest', '0.1.0', peer);
      assert.deepEqual(again.raw, first.raw);
      assert.deepEqual(onPeer.raw, first.raw);
      const head = await req('HEAD', `/v2/acme/web/signtest/manifests/${digestOf(first.raw)}`, 'reporter', {}, undefined, peer);
      assert.equal(head.status, 200);
      assert.equal(head.headers['docker-content-digest'], digestOf(first.raw));

      const manifest = first.body;
      assert.equal(manifest.schemaVersion, 2);
      assert.equal(manifest.config.mediaType, HELM_CONFIG);
      assert.deepEqual(manifest.layers, [descriptor(CHART_LAYER, chart), descriptor(PROV_LAYER, prov)]);
      assert.ok(!JSON.stringify(manifest).includes('created'), 'no time annotation');

      // Helm's config encoding: chart.Metadata's field order, empty fields left out.
      const config = await req('GET', `/v2/acme/web/signtest/blobs/${manifest.config.digest}`, 'reporter');
      assert.equal(config.status, 200, config.text);
      assert.equal(digestOf(config.raw), manifest.config.digest);
      assert.match(config.text, /^\{"name":"signtest",/);
      const keys = Object.keys(config.body);
      assert.ok(keys.indexOf('version') < keys.indexOf('apiVersion'), config.text);
      assert.equal(config.body.version, '0.1.0');

      // The pulled bytes are the classic file's.
      const layer = await req('GET', `/v2/acme/web/signtest/blobs/${digestOf(chart)}`, 'reporter', {}, undefined, peer);
      assert.equal(layer.status, 200, layer.text);
      assert.deepEqual(layer.raw, chart);
      const provLayer = await req('GET', `/v2/acme/web/signtest/blobs/${digestOf(prov)}`, 'reporter');
      assert.deepEqual(provLayer.raw, prov);

      const tags = await req('GET', '/v2/acme/web/signtest/tags/list', 'reporter');
      assert.deepEqual(tags.body, { name: 'acme/web/signtest', tags: ['0.1.0'] });
    });

    it('deleting the provenance file alone (packages API) takes the manifest whose layer it was; the next read has none', async () => {
      const chart = fixture('signed/hashtest-1.2.3.tgz');
      const prov = fixture('signed/hashtest-1.2.3.tgz.prov');
      await classicUpload(chart, 'hashtest-1.2.3.tgz', prov);
      const signed = await getManifest('acme/web/hashtest', '1.2.3');
      assert.equal(signed.body.layers.length, 2, signed.text);
      const pkg = (await helmPackages()).find((p) => p.name === 'hashtest')!;
      const files = await t.call('GET', `${API}/projects/${projectId}/packages/${pkg.id}/package_files`, { token: ROOT_TOKEN });
      const provFile = (files.body as Array<{ id: number; file_name: string }>).find((f) => f.file_name.endsWith('.prov'))!;
      const del = await t.call('DELETE', `${API}/projects/${projectId}/packages/${pkg.id}/package_files/${provFile.id}`, { token: ROOT_TOKEN });
      assert.equal(del.status, 204, del.text);
      ociError(await getManifest('acme/web/hashtest', digestOf(signed.raw), peer), 404, 'MANIFEST_UNKNOWN');
      const unsigned = await getManifest('acme/web/hashtest', '1.2.3', peer);
      assert.deepEqual(unsigned.body.layers, [descriptor(CHART_LAYER, chart)]);
    });

    it('computes the same manifest whichever instance reads first; without a .prov it has one layer; tags list classic versions', async () => {
      const chart = buildChart('classic', '2.0.0+b.1');
      await classicUpload(chart, 'classic-2.0.0+b.1.tgz');
      await classicUpload(buildChart('classic', '1.0.0'), 'classic-1.0.0.tgz');
      const tags = await req('GET', '/v2/acme/web/classic/tags/list?n=1', 'reporter');
      assert.deepEqual(tags.body.tags, ['1.0.0']);
      assert.match(String(tags.headers.link), /last=1\.0\.0/);
      const next = await req('GET', '/v2/acme/web/classic/tags/list?n=1&last=1.0.0', 'reporter');
      assert.deepEqual(next.body.tags, ['2.0.0_b.1']);

      const onPeer = await getManifest('acme/web/classic', '2.0.0_b.1', peer);
      assert.equal(onPeer.status, 200, onPeer.text);
      const onA = await getManifest('acme/web/classic', '2.0.0_b.1');
      assert.deepEqual(onA.raw, onPeer.raw);
      assert.deepEqual(onA.body.layers, [descriptor(CHART_LAYER, chart)]);
      // Two instances reading a version first at the same time record one manifest.
      await classicUpload(buildChart('classic', '1.5.0'), 'classic-1.5.0.tgz');
      const raced = await Promise.all([getManifest('acme/web/classic', '1.5.0'), getManifest('acme/web/classic', '1.5.0', peer), getManifest('acme/web/classic', '1.5.0')]);
      for (const r of raced) assert.equal(r.status, 200, r.text);
      assert.deepEqual(raced[1]!.raw, raced[0]!.raw);
      assert.deepEqual(raced[2]!.raw, raced[0]!.raw);
      // A version only in another channel is not in the OCI view.
      await classicUpload(buildChart('classic', '3.0.0'), 'classic-3.0.0.tgz', undefined, 'beta');
      ociError(await getManifest('acme/web/classic', '3.0.0'), 404, 'MANIFEST_UNKNOWN');
    });

    it('lists an OCI push in the helm_oci_channel channel, which is a validated setting', async () => {
      const bad = await t.call('PUT', `${API}/application/settings`, { token: ROOT_TOKEN, body: { helm_oci_channel: 'no..good' } });
      assert.equal(bad.status, 400, bad.text);
      const set = await t.call('PUT', `${API}/application/settings`, { token: ROOT_TOKEN, body: { helm_oci_channel: 'oci' } });
      assert.equal(set.status, 200, set.text);
      assert.equal(set.body.helm_oci_channel, 'oci');
      try {
        await ociPush('acme/web/pushed', buildChart('pushed', '1.0.0'), { name: 'pushed', version: '1.0.0' });
        assert.match(await indexOf('oci'), /"pushed":\n/);
        assert.doesNotMatch(await indexOf('stable'), /"pushed":/);
        // A classic upload to the OCI channel is in the OCI view; one to stable no longer is.
        await classicUpload(buildChart('pushed', '2.0.0'), 'pushed-2.0.0.tgz', undefined, 'oci');
        await classicUpload(buildChart('pushed', '3.0.0'), 'pushed-3.0.0.tgz');
        assert.deepEqual((await req('GET', '/v2/acme/web/pushed/tags/list', 'reporter')).body.tags, ['1.0.0', '2.0.0']);
      } finally {
        await t.call('PUT', `${API}/application/settings`, { token: ROOT_TOKEN, body: { helm_oci_channel: 'stable' } });
      }
    });

    it('a classic delete makes the manifest unknown at once, on every instance', async () => {
      await classicUpload(buildChart('gone', '1.0.0'), 'gone-1.0.0.tgz');
      const got = await getManifest('acme/web/gone', '1.0.0');
      assert.equal(got.status, 200, got.text);
      assert.equal((await getManifest('acme/web/gone', '1.0.0', peer)).status, 200);
      const pkg = (await helmPackages()).find((p) => p.name === 'gone')!;
      const del = await t.call('DELETE', `${API}/projects/${projectId}/packages/${pkg.id}`, { token: ROOT_TOKEN });
      assert.equal(del.status, 204, del.text);
      for (const on of [t, peer]) {
        ociError(await getManifest('acme/web/gone', '1.0.0', on), 404, 'MANIFEST_UNKNOWN');
        ociError(await getManifest('acme/web/gone', digestOf(got.raw), on), 404, 'MANIFEST_UNKNOWN');
      }
      assert.deepEqual((await req('GET', '/v2/acme/web/gone/tags/list', 'reporter')).body.tags, []);
    });

    it('an OCI DELETE (by digest, or by tag of a classic version) deletes the Helm package version: index and packages API', async () => {
      const manifest = await ociPush('acme/web/demo', buildChart('demo', '4.0.0'), { name: 'demo', version: '4.0.0' });
      assert.match(await indexOf('stable'), /version: "4\.0\.0"/);
      const del = await req('DELETE', `/v2/acme/web/demo/manifests/${digestOf(manifest)}`, 'maintainer');
      assert.equal(del.status, 202, del.text);
      assert.doesNotMatch(await indexOf('stable'), /version: "4\.0\.0"/);
      assert.ok(!(await helmPackages()).some((p) => p.name === 'demo' && p.version === '4.0.0'));
      ociError(await getManifest('acme/web/demo', '4.0.0'), 404, 'MANIFEST_UNKNOWN');
      ociError(await req('DELETE', `/v2/acme/web/demo/manifests/${digestOf(manifest)}`, 'maintainer'), 404, 'MANIFEST_UNKNOWN');

      // Never read over OCI: the tag still names the classic version.
      await classicUpload(buildChart('demo', '5.0.0'), 'demo-5.0.0.tgz');
      assert.equal((await req('DELETE', '/v2/acme/web/demo/manifests/5.0.0', 'maintainer')).status, 202);
      assert.ok(!(await helmPackages()).some((p) => p.name === 'demo' && p.version === '5.0.0'));
      ociError(await req('DELETE', '/v2/acme/web/demo/manifests/9.9.9', 'maintainer'), 404, 'MANIFEST_UNKNOWN');

      // The same audit event as the packages API's delete, by the OCI caller.
      const events = await t.call('GET', `${API}/audit_events?per_page=100`, { token: ROOT_TOKEN });
      assert.equal(events.status, 200, events.text);
      const deleted = (events.body as Array<{ details: Record<string, unknown> }>).find((e) => JSON.stringify(e).includes('demo@5.0.0'));
      assert.ok(deleted, events.text);
      assert.match(JSON.stringify(deleted), /maintainer/);
    });

    it('refuses a Developer DELETE (DENIED) and one a deletion protection rule keeps (DENIED), leaving the chart served', async () => {
      await classicUpload(buildChart('guarded', '1.0.0'), 'guarded-1.0.0.tgz');
      ociError(await req('DELETE', '/v2/acme/web/guarded/manifests/1.0.0', 'developer'), 403, 'DENIED');
      ociError(await req('DELETE', `/v2/acme/web/guarded/blobs/${digestOf(buildChart('guarded', '1.0.0'))}`, 'developer'), 403, 'DENIED');
      const rule = await t.call('POST', `${API}/projects/${projectId}/packages/protection/rules`, {
        token: ROOT_TOKEN,
        body: { package_name_pattern: 'guarded', package_type: 'helm', minimum_access_level_for_delete: 'owner' },
      });
      assert.equal(rule.status, 201, rule.text);
      ociError(await req('DELETE', '/v2/acme/web/guarded/manifests/1.0.0', 'maintainer'), 403, 'DENIED');
      assert.equal((await getManifest('acme/web/guarded', '1.0.0')).status, 200);
      assert.match(await indexOf('stable'), /"guarded":\n/);
    });

    it('does not serve the old layer of a version uploaded again (classic and OCI)', async () => {
      const a = buildChart('ow', '1.0.0', { padding: Buffer.from('first') });
      const b = buildChart('ow', '1.0.0', { padding: Buffer.from('second') });
      await classicUpload(a, 'ow-1.0.0.tgz');
      const before = await getManifest('acme/web/ow', '1.0.0');
      assert.deepEqual(before.body.layers[0], descriptor(CHART_LAYER, a));
      await classicUpload(b, 'ow-1.0.0.tgz');
      const after = await getManifest('acme/web/ow', '1.0.0', peer);
      assert.equal(after.status, 200, after.text);
      assert.deepEqual(after.body.layers[0], descriptor(CHART_LAYER, b));
      ociError(await getManifest('acme/web/ow', digestOf(before.raw)), 404, 'MANIFEST_UNKNOWN');

      const m1 = await ociPush('acme/web/ow2', buildChart('ow2', '1.0.0', { padding: Buffer.from('first') }), { name: 'ow2', version: '1.0.0' });
      const c2 = buildChart('ow2', '1.0.0', { padding: Buffer.from('second') });
      const m2 = await ociPush('acme/web/ow2', c2, { name: 'ow2', version: '1.0.0' });
      ociError(await getManifest('acme/web/ow2', digestOf(m1)), 404, 'MANIFEST_UNKNOWN');
      assert.deepEqual((await getManifest('acme/web/ow2', '1.0.0')).raw, m2);
      const tgz = await req('GET', `${API}/projects/${projectId}/packages/helm/stable/charts/ow2-1.0.0.tgz`, 'reporter');
      assert.deepEqual(tgz.raw, c2);
    });

    it('blob DELETE: refused while a manifest needs the blob, then unlinks it; unknown blobs are BLOB_UNKNOWN', async () => {
      const chart = buildChart('blobby', '1.0.0');
      const manifest = await ociPush('acme/web/blobby', chart, { name: 'blobby', version: '1.0.0' });
      ociError(await req('DELETE', `/v2/acme/web/blobby/blobs/${digestOf(chart)}`, 'maintainer'), 405, 'UNSUPPORTED', /delete that manifest/);
      assert.equal((await req('DELETE', `/v2/acme/web/blobby/manifests/1.0.0`, 'maintainer')).status, 202);
      assert.equal((await req('DELETE', `/v2/acme/web/blobby/blobs/${digestOf(chart)}`, 'maintainer')).status, 202);
      assert.equal((await req('HEAD', `/v2/acme/web/blobby/blobs/${digestOf(chart)}`, 'reporter')).status, 404);
      ociError(await req('DELETE', `/v2/acme/web/blobby/blobs/${digestOf(chart)}`, 'maintainer'), 404, 'BLOB_UNKNOWN');
      ociError(await req('DELETE', `/v2/acme/web/blobby/blobs/${digestOf(manifest)}x`, 'maintainer'), 400, 'DIGEST_INVALID');
    });

    it('gc expires abandoned uploads and drops blob links no manifest references, after the grace period', async () => {
      const chunk = Buffer.from(`abandoned chunk ${dialect} ${Math.random()}`);
      const start = await req('POST', '/v2/acme/web/gc/blobs/uploads/', 'developer');
      assert.equal(start.status, 202, start.text);
      const location = String(start.headers.location);
      assert.equal((await req('PATCH', location, 'developer', { 'content-type': 'application/octet-stream' }, chunk)).status, 202);
      const loose = Buffer.from(`loose blob ${dialect} ${Math.random()}`);
      await pushBlob('acme/web/gc', loose);
      const live = await getManifest('acme/web/signtest', '0.1.0');

      const db = t.deps.database.db;
      // Nothing is old enough yet: the default grace keeps the link, a day keeps the upload.
      const early = await t.deps.services.gc.run({});
      assert.equal(early.ociUploadsExpired, 0);
      assert.equal(early.ociBlobLinksDropped, 0);
      assert.equal((await req('HEAD', `/v2/acme/web/gc/blobs/${digestOf(loose)}`, 'reporter')).status, 200);

      await db.updateTable('oci_upload_sessions').set({ updated_at: '2000-01-01T00:00:00.000Z' }).execute();
      const dry = await t.deps.services.gc.run({ graceMs: 0, dryRun: true });
      assert.equal(dry.ociUploadsExpired, 1);
      assert.ok(dry.ociBlobLinksDropped >= 1);
      assert.equal((await req('GET', location, 'developer')).status, 204);

      const run = await t.deps.services.gc.run({ graceMs: 0 });
      assert.equal(run.ociUploadsExpired, 1);
      assert.ok(run.ociBlobLinksDropped >= 1);
      ociError(await req('GET', location, 'developer'), 404, 'BLOB_UPLOAD_UNKNOWN');
      assert.equal((await req('HEAD', `/v2/acme/web/gc/blobs/${digestOf(loose)}`, 'reporter')).status, 404);
      assert.equal(await t.deps.blobs.head(hex(loose)), undefined, 'the unlinked blob is collected');
      assert.equal(await t.deps.blobs.head(hex(chunk)), undefined, 'the abandoned chunk is collected');

      // What live manifests reference stays, bytes and links.
      const kept = live;
      assert.equal(kept.status, 200);
      const again = await getManifest('acme/web/signtest', '0.1.0');
      assert.deepEqual(again.raw, kept.raw);
      for (const d of [kept.body.config.digest, ...kept.body.layers.map((l: { digest: string }) => l.digest)]) {
        assert.equal((await req('HEAD', `/v2/acme/web/signtest/blobs/${d}`, 'reporter')).status, 200, d);
      }
    });
  });
}
