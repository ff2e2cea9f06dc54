/**
 * An OCI chunked upload lives in the database and the blob store (docs/design/helm-oci.md#tables): begun on one
 * instance, continued on a second and completed on the first, it yields the blob under its digest on both.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { App } from '../../src/app.js';
import { ROOT_TOKEN, startApp, startPeer, type PeerApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { basic } from '../helpers/helm.js';
import { createGroup, createProject } from '../helpers/management.js';



const AUTH = { authorization: basic('root', ROOT_TOKEN) };

for (const dialect of DIALECTS) {
  describe(`OCI uploads across instances [${dialect}]`, () => {
    let a: TestApp;
    let b: PeerApp;
    before(async () => {
      a = await startApp(dialect);
      b = await startPeer(a);
      const group = await createGroup(a, 'acme', { visibility: 'private' });
      await createProject(a, 'web', group.id, { visibility: 'private' });
    });
    after(async () => {
      await b.close();
      await a.close();
    });

    it('continues on B an upload begun on A, and completes it on A', async () => {
      const content = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));
      const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
      const start = await a.app.inject({ method: 'POST', url: '/v2/acme/web/demo/blobs/uploads/', headers: AUTH });
      assert.equal(start.statusCode, 202, start.body);
      const location = String(start.headers.location);
      const patch = (app: App, from: number, to: number) =>
        app.inject({
          method: 'PATCH',
          url: location,
          headers: { ...AUTH, 'content-type': 'application/octet-stream', 'content-range': `${from}-${to - 1}` },
          payload: content.subarray(from, to),
        });
      assert.equal((await patch(a.app, 0, 1000)).statusCode, 202);
      const onB = await patch(b.app, 1000, 3000);
      assert.equal(onB.statusCode, 202, onB.body);
      assert.equal(onB.headers.range, '0-2999');
      const status = await a.app.inject({ method: 'GET', url: location, headers: AUTH });
      assert.equal(status.headers.range, '0-2999');
      const done = await a.app.inject({
        method: 'PUT',
        url: `${location}?digest=${digest}`,
        headers: { ...AUTH, 'content-type': 'application/octet-stream' },
        payload: content.subarray(3000),
      });
      assert.equal(done.statusCode, 201, done.body);
      for (const app of [a.app, b.app]) {
        const got = await app.inject({ method: 'GET', url: `/v2/acme/web/demo/blobs/${digest}`, headers: AUTH });
        assert.equal(got.statusCode, 200);
        assert.deepEqual(got.rawPayload, content);
      }
    });
  });
}
