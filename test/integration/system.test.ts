import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';

for (const dialect of DIALECTS) {
  describe(`system routes [${dialect}]`, () => {
    let t: TestApp;
    before(async () => {
      t = await startApp(dialect);
    });
    after(async () => t.close());

    it('answers liveness without touching the database', async () => {
      const r = await t.call('GET', '/-/health');
      assert.equal(r.status, 200);
      assert.equal(r.text, 'GitLab OK');
    });

    it('reports readiness when the database answers', async () => {
      const r = await t.call('GET', '/-/readiness');
      assert.equal(r.status, 200);
      assert.equal(r.body.status, 'ok');
    });

    it('tells its version', async () => {
      const r = await t.call('GET', '/api/v4/version');
      assert.equal(r.status, 200);
      assert.match(r.body.version, /^\d+\.\d+\.\d+/);
    });

    it('answers unknown routes with GitLab’s 404 body and security headers', async () => {
      const r = await t.call('GET', '/api/v4/nope');
      assert.equal(r.status, 404);
      assert.deepEqual(r.body, { error: '404 Not Found' });
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.equal(r.headers['x-frame-options'], 'SAMEORIGIN');
    });

    it('bootstraps root with the configured token', async () => {
      const r = await t.call('GET', '/api/v4/user', { token: ROOT_TOKEN });
      assert.equal(r.status, 200);
      assert.equal(r.body.username, 'root');
      assert.equal(r.body.is_admin, true);
    });
  });
}
