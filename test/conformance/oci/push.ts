/** Distribution spec "Push": monolithic and chunked uploads, status, cancel, cross-repository mount, manifest PUT. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  chartName,
  digestOf,
  expectOciError,
  expectStatus,
  helmArtifact,
  MEDIA,
  pushBlob,
  putManifest,
  req,
  uniqueVersion,
  v2,
  type OciCase,
} from './client.js';

const octet = (n: number, extra: Record<string, string> = {}): Record<string, string> => ({
  'content-type': 'application/octet-stream',
  'content-length': String(n),
  ...extra,
});

export const pushCases: readonly OciCase[] = [
  {
    name: 'monolithic upload, POST then PUT ?digest=: 201, Location and Docker-Content-Digest; the blob is there',
    async run(t) {
      const a = helmArtifact(chartName(t.repo), uniqueVersion());
      const put = await pushBlob(t, a.layer);
      assert.ok(put.headers.get('location'), 'PUT answers the blob Location');
      assert.equal(put.headers.get('docker-content-digest'), digestOf(a.layer));
      const head = await req(t, 'HEAD', v2(t, `blobs/${digestOf(a.layer)}`));
      expectStatus(head, 200, 'HEAD of the uploaded blob');
      assert.equal(head.headers.get('content-length'), String(a.layer.length));
    },
  },
  {
    // Optional in the spec: a registry without it answers 202 and the client finishes with PUT (the case above).
    name: 'monolithic upload in one POST ?digest=: 201 and the blob is there',
    needs: 'monolithicPost',
    async run(t) {
      const blob = helmArtifact(chartName(t.repo), uniqueVersion()).layer;
      const d = digestOf(blob);
      const r = await req(t, 'POST', v2(t, `blobs/uploads/?digest=${d}`), { body: blob, headers: octet(blob.length) });
      expectStatus(r, 201, 'single-request monolithic POST');
      assert.equal(r.headers.get('docker-content-digest'), d);
      expectStatus(await req(t, 'HEAD', v2(t, `blobs/${d}`)), 200, 'HEAD of the uploaded blob');
    },
  },
  {
    name: 'chunked upload: POST, PATCH with Content-Range (202, Range, Location), status GET (204), PATCH, PUT ?digest=',
    async run(t) {
      const blob = helmArtifact(chartName(t.repo), uniqueVersion()).layer;
      const d = digestOf(blob);
      const cut = Math.floor(blob.length / 2);
      const start = await req(t, 'POST', v2(t, 'blobs/uploads/'), { headers: { 'content-length': '0' } });
      expectStatus(start, 202, 'POST blobs/uploads/');
      let location = start.headers.get('location')!;
      assert.ok(location);

      const p1 = await req(t, 'PATCH', location, { body: blob.subarray(0, cut), headers: octet(cut, { 'content-range': `0-${cut - 1}` }) });
      expectStatus(p1, 202, 'first PATCH');
      assert.equal(p1.headers.get('range'), `0-${cut - 1}`);
      location = p1.headers.get('location')!;
      assert.ok(location, 'PATCH answers the next Location');

      const status = await req(t, 'GET', location);
      expectStatus(status, 204, 'upload status GET');
      assert.equal(status.headers.get('range'), `0-${cut - 1}`);
      location = status.headers.get('location') ?? location;

      const p2 = await req(t, 'PATCH', location, { body: blob.subarray(cut), headers: octet(blob.length - cut, { 'content-range': `${cut}-${blob.length - 1}` }) });
      expectStatus(p2, 202, 'second PATCH');
      assert.equal(p2.headers.get('range'), `0-${blob.length - 1}`);
      location = p2.headers.get('location')!;

      const url = new URL(location, t.base);
      url.searchParams.set('digest', d);
      const done = await req(t, 'PUT', url.toString(), { headers: { 'content-length': '0' } });
      expectStatus(done, 201, 'closing PUT ?digest=');
      assert.equal(done.headers.get('docker-content-digest'), d);
      const get = await req(t, 'GET', v2(t, `blobs/${d}`));
      expectStatus(get, 200, 'GET of the chunked blob');
      assert.deepEqual(get.body, blob);
    },
  },
  {
    name: 'chunked upload: a chunk out of order → 416, the upload keeps what it had',
    needs: 'outOfOrderChunk416',
    async run(t) {
      const blob = randomBytes(2048);
      const start = await req(t, 'POST', v2(t, 'blobs/uploads/'), { headers: { 'content-length': '0' } });
      expectStatus(start, 202, 'POST blobs/uploads/');
      const p1 = await req(t, 'PATCH', start.headers.get('location')!, { body: blob.subarray(0, 1024), headers: octet(1024, { 'content-range': '0-1023' }) });
      expectStatus(p1, 202, 'first PATCH');
      const location = p1.headers.get('location')!;
      const skip = await req(t, 'PATCH', location, { body: blob.subarray(1536), headers: octet(512, { 'content-range': '1536-2047' }) });
      expectStatus(skip, 416, 'PATCH that leaves a gap');
      const status = await req(t, 'GET', location);
      expectStatus(status, 204, 'status after the refused chunk');
      assert.equal(status.headers.get('range'), '0-1023');
      await req(t, 'DELETE', location);
    },
  },
  {
    name: 'closing PUT with a digest that does not match the bytes → 400 DIGEST_INVALID',
    async run(t) {
      const blob = randomBytes(512);
      const start = await req(t, 'POST', v2(t, 'blobs/uploads/'));
      expectStatus(start, 202, 'POST blobs/uploads/');
      const url = new URL(start.headers.get('location')!, t.base);
      url.searchParams.set('digest', digestOf('other bytes'));
      const r = await req(t, 'PUT', url.toString(), { body: blob, headers: octet(blob.length) });
      expectOciError(r, 400, 'DIGEST_INVALID', 'PUT with a wrong digest');
      expectStatus(await req(t, 'HEAD', v2(t, `blobs/${digestOf('other bytes')}`)), 404, 'nothing stored under the claimed digest');
    },
  },
  {
    name: 'cancel: DELETE of an upload → 204; its status is then 404 BLOB_UPLOAD_UNKNOWN',
    async run(t) {
      const start = await req(t, 'POST', v2(t, 'blobs/uploads/'));
      expectStatus(start, 202, 'POST blobs/uploads/');
      const location = start.headers.get('location')!;
      const p = await req(t, 'PATCH', location, { body: Buffer.from('partial'), headers: octet(7, { 'content-range': '0-6' }) });
      expectStatus(p, 202, 'PATCH');
      const loc2 = p.headers.get('location')!;
      expectStatus(await req(t, 'DELETE', loc2), 204, 'DELETE upload');
      expectOciError(await req(t, 'GET', loc2), 404, 'BLOB_UPLOAD_UNKNOWN', 'status of a cancelled upload');
    },
  },
  {
    name: 'cross-repository mount: POST ?mount=&from= → 201 and the blob is in the target repository',
    async run(t) {
      const blob = helmArtifact(chartName(t.repo), uniqueVersion()).layer;
      const d = digestOf(blob);
      await pushBlob(t, blob, t.otherRepo);
      const r = await req(t, 'POST', v2(t, `blobs/uploads/?mount=${d}&from=${t.otherRepo}`), { headers: { 'content-length': '0' } });
      expectStatus(r, 201, 'mount POST');
      assert.ok(r.headers.get('location'));
      assert.equal(r.headers.get('docker-content-digest'), d);
      const get = await req(t, 'GET', v2(t, `blobs/${d}`));
      expectStatus(get, 200, 'GET of the mounted blob');
      assert.deepEqual(get.body, blob);
    },
  },
  {
    name: 'mount of a blob the source does not have → 202, an ordinary upload session',
    async run(t) {
      const d = digestOf(`absent-${Math.random()}`);
      const r = await req(t, 'POST', v2(t, `blobs/uploads/?mount=${d}&from=${t.otherRepo}`), { headers: { 'content-length': '0' } });
      expectStatus(r, 202, 'mount POST of an absent blob');
      const location = r.headers.get('location');
      assert.ok(location, 'an upload Location to fall back on');
      expectStatus(await req(t, 'DELETE', location), 204, 'cancel the fallback session');
    },
  },
  {
    name: 'manifest PUT by tag and by digest: 201, Location, Docker-Content-Digest = sha256 of the bytes',
    async run(t) {
      const a = helmArtifact(chartName(t.repo), uniqueVersion());
      await pushBlob(t, a.config);
      await pushBlob(t, a.layer);
      const byTag = await putManifest(t, a.tag, a.manifest);
      expectStatus(byTag, 201, 'PUT manifest by tag');
      assert.ok(byTag.headers.get('location'));
      assert.equal(byTag.headers.get('docker-content-digest'), a.digest);
      const b = helmArtifact(chartName(t.repo), uniqueVersion());
      await pushBlob(t, b.config);
      await pushBlob(t, b.layer);
      const byDigest = await putManifest(t, b.digest, b.manifest);
      expectStatus(byDigest, 201, 'PUT manifest by digest');
      assert.equal(byDigest.headers.get('docker-content-digest'), b.digest);
      expectStatus(await req(t, 'HEAD', v2(t, `manifests/${b.digest}`), { headers: { accept: MEDIA.manifest } }), 200, 'HEAD of the untagged manifest');
    },
  },
  {
    name: 'manifest PUT whose layer was never uploaded → MANIFEST_BLOB_UNKNOWN',
    async run(t) {
      const a = helmArtifact(chartName(t.repo), uniqueVersion());
      await pushBlob(t, a.config);
      // The spec names the code, not the status: the reference registry says 400, others 404.
      expectOciError(await putManifest(t, a.tag, a.manifest), [400, 404], 'MANIFEST_BLOB_UNKNOWN', 'PUT manifest with a missing layer');
    },
  },
  {
    name: 'manifest PUT that is not JSON → 400 MANIFEST_INVALID',
    async run(t) {
      expectOciError(await putManifest(t, uniqueVersion(), Buffer.from('{not json')), 400, 'MANIFEST_INVALID', 'PUT of a broken manifest');
    },
  },
  {
    name: 'invalid repository name → 400 NAME_INVALID (or 404 NAME_UNKNOWN)',
    needs: 'nameInvalidError',
    async run(t) {
      const r = await req(t, 'POST', '/v2/UPPER/Case_Not..Allowed/blobs/uploads/');
      // Upper case breaks the name grammar; registries answer NAME_INVALID, some treat an unroutable name as unknown.
      expectOciError(r, [400, 404], ['NAME_INVALID', 'NAME_UNKNOWN'], 'POST under an invalid name');
    },
  },
];
