/**
 * The OCI pull path's remembered lookups and hot lane (docs/performance.md#oci-pulls), on SQLite and PostgreSQL:
 * a repeated anonymous pull of a public chart is answered exactly as the route answered it (from the hot lane on
 * SQLite), a ranged read never takes the lane, and what one instance pushes is pulled through another at once, even
 * right after that instance answered "unknown" for the same manifest and blob.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, startPeer, type PeerApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { basic, buildChart } from '../helpers/helm.js';
import { createGroup, createProject } from '../helpers/management.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const AUTH = { authorization: basic('root', ROOT_TOKEN) };


function artifact(name: string, version: string) {
  const chart = buildChart(name, version);
  const config = Buffer.from(JSON.stringify({ apiVersion: 'v2', name, version }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: digestOf(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', digest: digestOf(chart), size: chart.length }],
    }),
  );
  return { chart, config, manifest, version };
}

for (const dialect of DIALECTS) {
  describe(`OCI pulls: remembered lookups and the hot lane [${dialect}]`, () => {
    let t: TestApp;
    let b: PeerApp;
    let base: string;
    const hotIds = () =>
      t.logs
        .flatMap((c) => c.split('\n').filter(Boolean))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === 'request' && l.hot === true)
        .map((l) => l.reqId);

    const pushBlob = async (repo: string, bytes: Buffer) => {
      const r = await t.app.inject({
        method: 'POST',
        url: `/v2/${repo}/blobs/uploads/?digest=${digestOf(bytes)}`,
        headers: { ...AUTH, 'content-type': 'application/octet-stream' },
        payload: bytes,
      });
      assert.equal(r.statusCode, 201, r.body);
    };
    const push = async (repo: string, a: ReturnType<typeof artifact>) => {
      await pushBlob(repo, a.config);
      await pushBlob(repo, a.chart);
      const r = await t.app.inject({ method: 'PUT', url: `/v2/${repo}/manifests/${a.version}`, headers: { ...AUTH, 'content-type': OCI_MANIFEST }, payload: a.manifest });
      assert.equal(r.statusCode, 201, r.body);
    };
    const get = async (path: string, headers: Record<string, string> = {}) => {
      const r = await fetch(`${base}${path}`, { headers });
      return { status: r.status, headers: Object.fromEntries(r.headers), body: Buffer.from(await r.arrayBuffer()) };
    };
    const perResponse = (h: Record<string, string>) => {
      const { date: _d, 'x-request-id': _id, 'keep-alive': _k, connection: _c, ...rest } = h;
      return rest;
    };

    before(async () => {
      t = await startApp(dialect);
      base = await t.app.listen({ port: 0, host: '127.0.0.1' });
      b = await startPeer(t);
      const group = await createGroup(t, `pulls-${dialect}`, { visibility: 'public' });
      await createProject(t, 'charts', group.id, { visibility: 'public' });
    });
    after(async () => {
      await b.close();
      await t.close();
    });

    it('answers repeated anonymous pulls exactly as the route did, from the hot lane on SQLite only', async () => {
      const repo = `pulls-${dialect}/charts/demo`;
      const a = artifact('demo', '1.0.0');
      await push(repo, a);
      for (const [path, expected] of [
        [`/v2/${repo}/manifests/1.0.0`, a.manifest],
        [`/v2/${repo}/blobs/${digestOf(a.chart)}`, a.chart],
      ] as const) {
        // The first read streams the bytes from the blob store (and keeps them in memory); later ones can replay.
        await get(path);
        const first = await get(path);
        const second = await get(path);
        for (const r of [first, second]) {
          assert.equal(r.status, 200);
          assert.deepEqual(r.body, expected);
          assert.equal(r.headers['docker-content-digest'], digestOf(expected));
          assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
        }
        assert.deepEqual(perResponse(second.headers), perResponse(first.headers));
        assert.equal(hotIds().includes(second.headers['x-request-id']), dialect === 'sqlite', `${path}: the second answer came from the lane`);
      }
      // A part of a blob is never replayed, and never answered with the whole blob.
      const path = `/v2/${repo}/blobs/${digestOf(a.chart)}`;
      for (let i = 0; i < 2; i++) {
        const part = await get(path, { range: 'bytes=0-9' });
        assert.equal(part.status, 206);
        assert.deepEqual(part.body, a.chart.subarray(0, 10));
        assert.equal(hotIds().includes(part.headers['x-request-id']), false);
      }
    });

    it('pulls through instance B what instance A pushed, right after B answered that it did not exist', async () => {
      const repo = `pulls-${dialect}/charts/later`;
      const a = artifact('later', '2.0.0');
      const pull = async (path: string) => b.app.inject({ method: 'GET', url: path });
      const manifestPath = `/v2/${repo}/manifests/2.0.0`;
      const blobPath = `/v2/${repo}/blobs/${digestOf(a.chart)}`;
      assert.equal((await pull(manifestPath)).statusCode, 404);
      assert.equal((await pull(blobPath)).statusCode, 404);
      // The same unknown answers through A, over its socket (and so past its hot lane).
      assert.equal((await get(manifestPath)).status, 404);
      assert.equal((await get(blobPath)).status, 404);

      await push(repo, a);
      const manifest = await pull(manifestPath);
      assert.equal(manifest.statusCode, 200, manifest.body);
      assert.deepEqual(manifest.rawPayload, a.manifest);
      const blob = await pull(blobPath);
      assert.equal(blob.statusCode, 200, blob.body);
      assert.deepEqual(blob.rawPayload, a.chart);
      const viaA = await get(manifestPath);
      assert.equal(viaA.status, 200);
      assert.deepEqual(viaA.body, a.manifest);
    });
  });
}
