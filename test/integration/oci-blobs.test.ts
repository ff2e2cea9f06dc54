/**
 * The OCI distribution API's blob side (docs/design/helm-oci.md) on SQLite and PostgreSQL: `GET /v2/`, blob HEAD/GET
 * with ranges, monolithic and chunked uploads (status, cancel, a chunk out of order, a wrong digest), and who may
 * do them (anonymous push, Reporter push, anonymous pull of a private project, invisible projects), every refusal in
 * the spec's body shape.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { basic, send, type RawResult } from '../helpers/helm.js';
import { addMember, createGroup, createPat, createProject, createUser } from '../helpers/management.js';

const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
/** The Bearer challenge that sends clients to the token endpoint (test/integration/oci-token-auth.test.ts has the flow). */
const CHALLENGE = 'Bearer realm="http://wharf.test/jwt/auth",service="container_registry"';
const challengeFor = (scope: string): string => `${CHALLENGE},scope="${scope}"`;

function ociError(res: RawResult, status: number, code: string): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
  assert.equal(res.body?.errors?.[0]?.code, code, res.text);
  assert.equal(typeof res.body.errors[0].message, 'string');
  assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
}

for (const dialect of DIALECTS) {
  describe(`OCI blobs and uploads [${dialect}]`, () => {
    let t: TestApp;
    const auth: Record<string, string> = {};
    const blob = Buffer.from('a Helm chart layer stands in here: '.repeat(40));

    before(async () => {
      t = await startApp(dialect);
      const pub = await createGroup(t, 'acme', { visibility: 'public' });
      await createProject(t, 'web', pub.id, { visibility: 'public' });
      const priv = await createGroup(t, 'secret', { visibility: 'private' });
      const privProject = await createProject(t, 'vault', priv.id, { visibility: 'private' });
      auth.root = basic('root', ROOT_TOKEN);
      for (const [name, level] of [['developer', 30], ['reporter', 20], ['outsider', 0]] as const) {
        const user = await createUser(t, name);
        auth[name] = basic(name, await createPat(t, user.id));
        if (level > 0) await addMember(t, 'projects', privProject.id, user.id, level);
      }
    });
    after(() => t.close());

    const req = (method: string, url: string, who?: string, options: { headers?: Record<string, string>; payload?: Buffer } = {}) =>
      send(t, method, url, { headers: { ...(who ? { authorization: auth[who]! } : {}), ...options.headers }, ...(options.payload ? { payload: options.payload } : {}) });

    it('GET /v2/ answers {} to a valid caller and a Bearer challenge to an anonymous one', async () => {
      const ok = await req('GET', '/v2/', 'developer');
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(ok.body, {});
      assert.equal(ok.headers['docker-distribution-api-version'], 'registry/2.0');
      const anon = await req('GET', '/v2/');
      ociError(anon, 401, 'UNAUTHORIZED');
      assert.equal(anon.headers['www-authenticate'], CHALLENGE);
      const bad = await req('GET', '/v2/', undefined, { headers: { authorization: basic('developer', 'whpat-not-a-real-token-0000000000000000') } });
      ociError(bad, 401, 'UNAUTHORIZED');
      assert.equal(bad.headers['www-authenticate'], CHALLENGE);
    });

    it('stores a monolithic upload under its digest and serves it whole, by HEAD and by range', async () => {
      const digest = digestOf(blob);
      const put = await req('POST', `/v2/secret/vault/demo/blobs/uploads/?digest=${digest}`, 'developer', {
        headers: { 'content-type': 'application/octet-stream' },
        payload: blob,
      });
      assert.equal(put.status, 201, put.text);
      assert.equal(put.headers.location, `/v2/secret/vault/demo/blobs/${digest}`);
      assert.equal(put.headers['docker-content-digest'], digest);

      const head = await req('HEAD', `/v2/secret/vault/demo/blobs/${digest}`, 'reporter');
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], String(blob.length));
      assert.equal(head.headers['docker-content-digest'], digest);
      assert.equal(head.raw.length, 0);

      const get = await req('GET', `/v2/secret/vault/demo/blobs/${digest}`, 'reporter');
      assert.equal(get.status, 200);
      assert.deepEqual(get.raw, blob);

      const part = await req('GET', `/v2/secret/vault/demo/blobs/${digest}`, 'reporter', { headers: { range: 'bytes=10-99' } });
      assert.equal(part.status, 206);
      assert.equal(part.headers['content-range'], `bytes 10-99/${blob.length}`);
      assert.deepEqual(part.raw, blob.subarray(10, 100));
      const tail = await req('GET', `/v2/secret/vault/demo/blobs/${digest}`, 'reporter', { headers: { range: 'bytes=-5' } });
      assert.deepEqual(tail.raw, blob.subarray(blob.length - 5));
      ociError(await req('GET', `/v2/secret/vault/demo/blobs/${digest}`, 'reporter', { headers: { range: `bytes=${blob.length}-` } }), 416, 'BLOB_UPLOAD_INVALID');
    });

    it('keeps a blob to the repositories it was pushed to', async () => {
      const digest = digestOf(blob);
      ociError(await req('GET', `/v2/secret/vault/other/blobs/${digest}`, 'developer'), 404, 'BLOB_UNKNOWN');
      // A HEAD answer has no body: the status says it.
      assert.equal((await req('HEAD', `/v2/acme/web/demo/blobs/${digest}`)).status, 404);
    });

    it('assembles a chunked upload (POST, PATCH with Content-Range, status, PUT ?digest=)', async () => {
      const content = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));
      const digest = digestOf(content);
      const start = await req('POST', '/v2/secret/vault/chunky/blobs/uploads/', 'developer');
      assert.equal(start.status, 202, start.text);
      const location = String(start.headers.location);
      assert.match(location, /^\/v2\/secret\/vault\/chunky\/blobs\/uploads\/[0-9a-f-]{36}$/);

      const first = await req('PATCH', location, 'developer', {
        headers: { 'content-type': 'application/octet-stream', 'content-range': '0-999' },
        payload: content.subarray(0, 1000),
      });
      assert.equal(first.status, 202, first.text);
      assert.equal(first.headers.range, '0-999');

      // A chunk that does not start where the upload ends is refused with 416, and nothing is appended.
      const gap = await req('PATCH', location, 'developer', {
        headers: { 'content-type': 'application/octet-stream', 'content-range': '1500-1999' },
        payload: content.subarray(1500, 2000),
      });
      ociError(gap, 416, 'BLOB_UPLOAD_INVALID');

      const second = await req('PATCH', location, 'developer', {
        headers: { 'content-type': 'application/octet-stream', 'content-range': '1000-1999' },
        payload: content.subarray(1000, 2000),
      });
      assert.equal(second.headers.range, '0-1999');
      const status = await req('GET', location, 'developer');
      assert.equal(status.status, 204);
      assert.equal(status.headers.range, '0-1999');

      const done = await req('PUT', `${location}?digest=${digest}`, 'developer', {
        headers: { 'content-type': 'application/octet-stream' },
        payload: content.subarray(2000),
      });
      assert.equal(done.status, 201, done.text);
      assert.equal(done.headers['docker-content-digest'], digest);
      const got = await req('GET', `/v2/secret/vault/chunky/blobs/${digest}`, 'developer');
      assert.deepEqual(got.raw, content);
      // The session is gone once completed.
      ociError(await req('GET', location, 'developer'), 404, 'BLOB_UPLOAD_UNKNOWN');
    });

    it('completes an upload whose last PUT has no body, and cancels one with DELETE', async () => {
      const content = Buffer.from('all in one patch');
      const start = await req('POST', '/v2/secret/vault/streamed/blobs/uploads/', 'developer');
      const location = String(start.headers.location);
      await req('PATCH', location, 'developer', { headers: { 'content-type': 'application/octet-stream' }, payload: content });
      const done = await req('PUT', `${location}?digest=${digestOf(content)}`, 'developer');
      assert.equal(done.status, 201, done.text);

      const other = String((await req('POST', '/v2/secret/vault/streamed/blobs/uploads/', 'developer')).headers.location);
      assert.equal((await req('DELETE', other, 'developer')).status, 204);
      ociError(await req('GET', other, 'developer'), 404, 'BLOB_UPLOAD_UNKNOWN');
      // Another repository's session is unknown here.
      const mine = String((await req('POST', '/v2/secret/vault/streamed/blobs/uploads/', 'developer')).headers.location);
      ociError(await req('GET', mine.replace('/streamed/', '/elsewhere/'), 'developer'), 404, 'BLOB_UPLOAD_UNKNOWN');
    });

    it('refuses bytes that do not match the digest, and malformed or unsupported digests', async () => {
      const wrong = digestOf(Buffer.from('something else'));
      ociError(
        await req('POST', `/v2/secret/vault/demo/blobs/uploads/?digest=${wrong}`, 'developer', { headers: { 'content-type': 'application/octet-stream' }, payload: blob }),
        400,
        'DIGEST_INVALID',
      );
      ociError(await req('GET', `/v2/secret/vault/demo/blobs/${wrong}`, 'developer'), 404, 'BLOB_UNKNOWN');
      ociError(await req('GET', '/v2/secret/vault/demo/blobs/sha256:abc', 'developer'), 400, 'DIGEST_INVALID');
      ociError(await req('GET', `/v2/secret/vault/demo/blobs/sha512:${'a'.repeat(128)}`, 'developer'), 400, 'DIGEST_INVALID');
      const location = String((await req('POST', '/v2/secret/vault/demo/blobs/uploads/', 'developer')).headers.location);
      await req('PATCH', location, 'developer', { headers: { 'content-type': 'application/octet-stream' }, payload: blob });
      ociError(await req('PUT', `${location}?digest=${wrong}`, 'developer'), 400, 'DIGEST_INVALID');
    });

    it('refuses anonymous and Reporter pushes, and anonymous pulls of a private project, before reading the body', async () => {
      const url = `/v2/secret/vault/demo/blobs/uploads/?digest=${digestOf(blob)}`;
      const anonymous = await req('POST', url, undefined, { headers: { 'content-type': 'application/octet-stream' }, payload: blob });
      ociError(anonymous, 401, 'UNAUTHORIZED');
      assert.equal(anonymous.headers['www-authenticate'], challengeFor('repository:secret/vault/demo:pull,push'));
      ociError(await req('POST', url, 'reporter', { headers: { 'content-type': 'application/octet-stream' }, payload: blob }), 403, 'DENIED');
      // Anonymous pushes to a public project need credentials too.
      ociError(await req('POST', '/v2/acme/web/demo/blobs/uploads/', undefined), 401, 'UNAUTHORIZED');

      const pull = await req('GET', `/v2/secret/vault/demo/blobs/${digestOf(blob)}`);
      ociError(pull, 401, 'UNAUTHORIZED');
      assert.equal(pull.headers['www-authenticate'], challengeFor('repository:secret/vault/demo:pull'));
      // A signed-in caller who may not see the project, and a project that does not exist, look alike.
      ociError(await req('GET', `/v2/secret/vault/demo/blobs/${digestOf(blob)}`, 'outsider'), 404, 'NAME_UNKNOWN');
      ociError(await req('GET', `/v2/secret/nothing/demo/blobs/${digestOf(blob)}`, 'outsider'), 404, 'NAME_UNKNOWN');
    });

    it('lets anyone pull from a public project and refuses malformed names', async () => {
      const content = Buffer.from('public bytes');
      const digest = digestOf(content);
      const put = await req('POST', `/v2/acme/web/pub/blobs/uploads/?digest=${digest}`, 'root', { headers: { 'content-type': 'application/octet-stream' }, payload: content });
      assert.equal(put.status, 201, put.text);
      const anon = await req('GET', `/v2/acme/web/pub/blobs/${digest}`);
      assert.equal(anon.status, 200);
      assert.deepEqual(anon.raw, content);
      ociError(await req('GET', `/v2/Acme/Web/pub/blobs/${digest}`), 400, 'NAME_INVALID');
      ociError(await req('GET', `/v2/pub/blobs/${digest}`), 400, 'NAME_INVALID');
    });
  });
}
