/** Distribution spec "Pull": manifests and blobs by tag and digest, HEAD, ranged blob GET, unknown-content errors. */
import assert from 'node:assert/strict';
import { digestOf, expectOciError, expectStatus, MEDIA, pushArtifact, req, uniqueVersion, v2, type OciCase } from './client.js';

export const pullCases: readonly OciCase[] = [
  {
    name: 'GET /v2/ answers 200 to these credentials',
    async run(t) {
      const r = await req(t, 'GET', '/v2/');
      expectStatus(r, 200, 'GET /v2/');
    },
  },
  {
    name: 'GET /v2/ without credentials → 401 UNAUTHORIZED with WWW-Authenticate, so clients log in',
    async run(t) {
      const r = await req({ ...t, auth: undefined }, 'GET', '/v2/');
      if (!t.auth) return expectStatus(r, 200, 'GET /v2/ on an anonymous target');
      expectOciError(r, 401, 'UNAUTHORIZED', 'anonymous GET /v2/');
      assert.match(r.headers.get('www-authenticate') ?? '', /^(Basic|Bearer) realm="[^"]+"/);
    },
  },
  {
    name: 'manifest GET by tag and by digest: same bytes, Content-Type and Docker-Content-Digest',
    async run(t) {
      const a = await pushArtifact(t, uniqueVersion());
      for (const ref of [a.tag, a.digest]) {
        const r = await req(t, 'GET', v2(t, `manifests/${ref}`), { headers: { accept: MEDIA.manifest } });
        expectStatus(r, 200, `GET manifests/${ref}`);
        assert.deepEqual(r.body, a.manifest, 'the manifest comes back byte for byte');
        assert.equal(r.headers.get('content-type'), MEDIA.manifest);
        assert.equal(r.headers.get('docker-content-digest'), a.digest);
      }
    },
  },
  {
    name: 'manifest HEAD by tag and by digest: no body, Content-Length and Docker-Content-Digest',
    async run(t) {
      const a = await pushArtifact(t, uniqueVersion());
      for (const ref of [a.tag, a.digest]) {
        const r = await req(t, 'HEAD', v2(t, `manifests/${ref}`), { headers: { accept: MEDIA.manifest } });
        expectStatus(r, 200, `HEAD manifests/${ref}`);
        assert.equal(r.body.length, 0);
        assert.equal(r.headers.get('content-length'), String(a.manifest.length));
        assert.equal(r.headers.get('docker-content-digest'), a.digest);
      }
    },
  },
  {
    name: 'blob GET and HEAD: the config and chart layer by digest',
    async run(t) {
      const a = await pushArtifact(t, uniqueVersion());
      for (const blob of [a.config, a.layer]) {
        const d = digestOf(blob);
        const get = await req(t, 'GET', v2(t, `blobs/${d}`));
        expectStatus(get, 200, `GET blobs/${d}`);
        assert.deepEqual(get.body, blob);
        assert.equal(get.headers.get('docker-content-digest'), d);
        const head = await req(t, 'HEAD', v2(t, `blobs/${d}`));
        expectStatus(head, 200, `HEAD blobs/${d}`);
        assert.equal(head.headers.get('content-length'), String(blob.length));
        assert.equal(head.body.length, 0);
      }
    },
  },
  {
    name: 'blob GET with Range: 206 with the asked bytes and Content-Range',
    async run(t) {
      const a = await pushArtifact(t, uniqueVersion());
      const d = digestOf(a.layer);
      const r = await req(t, 'GET', v2(t, `blobs/${d}`), { headers: { range: 'bytes=10-109' } });
      expectStatus(r, 206, 'ranged blob GET');
      assert.deepEqual(r.body, a.layer.subarray(10, 110));
      assert.equal(r.headers.get('content-range'), `bytes 10-109/${a.layer.length}`);
      const tail = await req(t, 'GET', v2(t, `blobs/${d}`), { headers: { range: 'bytes=-16' } });
      expectStatus(tail, 206, 'suffix-ranged blob GET');
      assert.deepEqual(tail.body, a.layer.subarray(a.layer.length - 16));
    },
  },
  {
    name: 'unknown manifest (tag and digest) → 404 MANIFEST_UNKNOWN; unknown blob → 404 BLOB_UNKNOWN',
    async run(t) {
      await pushArtifact(t, uniqueVersion());
      const missing = digestOf(`nothing-${Math.random()}`);
      expectOciError(await req(t, 'GET', v2(t, 'manifests/0.0.0-no-such-tag')), 404, 'MANIFEST_UNKNOWN', 'GET unknown tag');
      expectOciError(await req(t, 'GET', v2(t, `manifests/${missing}`)), 404, 'MANIFEST_UNKNOWN', 'GET unknown manifest digest');
      expectStatus(await req(t, 'HEAD', v2(t, `manifests/${missing}`)), 404, 'HEAD unknown manifest');
      expectOciError(await req(t, 'GET', v2(t, `blobs/${missing}`)), 404, 'BLOB_UNKNOWN', 'GET unknown blob');
      expectStatus(await req(t, 'HEAD', v2(t, `blobs/${missing}`)), 404, 'HEAD unknown blob');
    },
  },
  {
    name: 'a repository nobody pushed to → 404 NAME_UNKNOWN (or MANIFEST_UNKNOWN)',
    async run(t) {
      const repo = `${t.repo}-never-pushed-${Date.now()}`;
      // The spec lets a registry answer either code here; both are 404.
      expectOciError(await req(t, 'GET', v2(t, 'manifests/0.1.0', repo)), 404, ['NAME_UNKNOWN', 'MANIFEST_UNKNOWN'], 'GET manifest of unknown repository');
    },
  },
];
