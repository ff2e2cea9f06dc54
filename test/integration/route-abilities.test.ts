import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { startApp, type TestApp } from '../helpers/app.js';
import type { DeclaredRoute } from '../../src/http/plugins/route-access.js';
import { accessOf, NPM_COMMAND_ACCESS } from '../../src/http/routes/npm/access.js';

for (const dialect of DIALECTS) {
  describe(`every endpoint declares its ability [${dialect}]`, () => {
    let t: TestApp;
    const routes: DeclaredRoute[] = [];
    before(async () => {
      t = await startApp(dialect, { declaredRoutes: routes });
    });
    after(async () => t.close());

    it('no route under /api/v4 goes without a declared ability', () => {
      const api = routes.filter((r) => r.url.startsWith('/api/v4/'));
      // The management API, the packages API, npm at three levels and Helm: the list is not empty by accident.
      assert.ok(api.length >= 60, `only ${api.length} routes seen`);
      const undeclared = api.filter((r) => r.access === undefined).map((r) => `${r.method} ${r.url}`);
      assert.deepEqual(undeclared, []);
    });

    it('package routes declare package abilities; the management API refuses deploy tokens', () => {
      const at = (method: string, url: string) => routes.find((r) => r.method === method && r.url === url)?.access;
      assert.equal(at('GET', '/api/v4/projects/:id/packages/helm/:channel/index.yaml')?.ability, 'read_package');
      assert.equal(at('GET', '/api/v4/projects/:id/packages/helm/:channel/index.yaml')?.credentials, 'basic-only');
      assert.equal(at('POST', '/api/v4/projects/:id/packages/helm/api/:channel/charts')?.ability, 'create_package');
      assert.equal(at('DELETE', '/api/v4/projects/:id/packages/:package_id')?.ability, 'destroy_package');
      assert.equal(at('PUT', '/api/v4/projects/:id/packages/npm/*')?.ability, 'npm_command');
      assert.equal(at('PUT', '/api/v4/application/settings')?.ability, 'admin');
      for (const r of routes.filter((r) => r.url.startsWith('/api/v4/') && r.access?.credentials === 'personal')) {
        assert.ok(['anyone', 'signed_in', 'admin'].includes(r.access!.ability), `${r.method} ${r.url}`);
      }
    });

    it('the npm command table gives every command an ability at every endpoint', () => {
      for (const kind of Object.keys(NPM_COMMAND_ACCESS) as (keyof typeof NPM_COMMAND_ACCESS)[]) {
        for (const scope of ['project', 'group', 'instance'] as const) assert.ok(accessOf(kind, scope).ability, `${kind} at ${scope}`);
      }
      assert.deepEqual(accessOf('tarball', 'project'), { ability: 'read_package', on: 'package', route: 'plain' });
      assert.deepEqual(accessOf('addDistTag', 'group'), { ability: 'create_package', on: 'package', route: 'plain' });
      assert.deepEqual(accessOf('removeDistTag', 'instance'), { ability: 'destroy_package', on: 'package', route: 'plain' });
      assert.deepEqual(accessOf('deprecate', 'project'), { ability: 'destroy_package', on: 'package', route: 'plain' });
      assert.equal(accessOf('unpublishPackage', 'group').ability, 'nobody');
      assert.equal(accessOf('login', 'instance').ability, 'anyone');
    });

    it('the web UI stylesheet answers a weak validator of its ETag with 304', async () => {
      const first = await t.app.inject({ method: 'GET', url: '/-/assets/style.css' });
      const etag = String(first.headers.etag);
      assert.equal((await t.app.inject({ method: 'GET', url: '/-/assets/style.css', headers: { 'if-none-match': `W/${etag}` } })).statusCode, 304);
      assert.equal((await t.app.inject({ method: 'GET', url: '/-/assets/style.css', headers: { 'if-none-match': `"other", ${etag}` } })).statusCode, 304);
    });
  });
}
