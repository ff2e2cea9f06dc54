/**
 * Request bodies through the app (issue 12, finding 11): JSON nested absurdly deep is a clear 400, never a 500;
 * the publish body parser hands the service the same document `JSON.parse` would; and the registry-level npm
 * commands stop once they have answered (no "reply was already sent" errors in the log).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { createGroup, createProject, createUser } from '../helpers/management.js';
import { esc, npmBase, publish, publishBody } from '../helpers/npm.js';

const DEEP = 200_000;
const nested = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

/** Log lines at error level or above (pino: 50 = error, 60 = fatal). */
const severe = (t: TestApp) => t.logs.filter((l) => Number(/"level":(\d+)/.exec(l)?.[1]) >= 50);

for (const dialect of DIALECTS) {
  describe(`request bodies [${dialect}]`, () => {
    let t: TestApp;
    let projectId: number;
    let groupId: number;

    before(async () => {
      t = await startApp(dialect);
      const group = await createGroup(t, 'acme', { visibility: 'public' });
      groupId = group.id;
      projectId = (await createProject(t, 'lib', group.id, { visibility: 'public' })).id;
    });
    after(() => t.close());

    it('a publish body nested 200,000 levels deep is a 400 that says so, and nothing is stored', async () => {
      const { body } = publishBody('@acme/deep', '1.0.0');
      const text = JSON.stringify(body).replace('"main":"index.js"', `"main":"index.js","config":${nested(DEEP)}`);
      const before = t.logs.length;
      for (const headers of [{}, { 'npm-command': 'deprecate' }] as Record<string, string>[]) {
        const r = await t.call('PUT', `${npmBase(projectId)}/${esc('@acme/deep')}`, { token: ROOT_TOKEN, headers, body: text });
        assert.equal(r.status, 400, r.text);
        assert.match(r.body.error, /nested deeper than 128 levels/);
      }
      assert.equal((await t.call('GET', `${npmBase(projectId)}/${esc('@acme/deep')}`)).status, 404);
      assert.deepEqual(severe({ ...t, logs: t.logs.slice(before) }), []);
    });

    it('deep JSON elsewhere (management API, dist-tag, audit) is a 400 too', async () => {
      const api = await t.call('POST', '/api/v4/projects', { token: ROOT_TOKEN, body: `{"name":${nested(DEEP)}}` });
      assert.equal(api.status, 400, api.text);
      assert.match(api.body.message, /nested deeper than 128 levels/);
      const settings = await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: `{"x":${nested(1000)}}` });
      assert.equal(settings.status, 400, settings.text);
      const tag = await t.call('PUT', `${npmBase(projectId)}/-/package/${esc('@acme/x')}/dist-tags/next`, { token: ROOT_TOKEN, body: nested(1000) });
      assert.equal(tag.status, 400, tag.text);
      const audit = await t.call('POST', `${npmBase(projectId)}/-/npm/v1/security/advisories/bulk`, { token: ROOT_TOKEN, body: nested(DEEP) });
      assert.equal(audit.status, 400, audit.text);
    });

    it('nesting up to the limit is accepted', async () => {
      const { body } = publishBody('@acme/nested', '1.0.0', { extra: { config: JSON.parse(nested(100)) } });
      const r = await publish(t, projectId, body);
      assert.equal(r.status, 200, r.text);
    });

    it('the attachment lifted out of a publish body is the one JSON.parse reads, escapes and all', async () => {
      const { body, tgz } = publishBody('@acme/escaped', '1.0.0');
      // `\/` is a legal JSON escape some serializers emit inside Base64; the attachment key may be escaped too.
      const text = JSON.stringify(body).replace(/"data":"([^"]+)"/, (_m, data: string) => `"data":"${data.replaceAll('/', '\\/')}"`);
      const r = await t.call('PUT', `${npmBase(projectId)}/${esc('@acme/escaped')}`, { token: ROOT_TOKEN, body: text });
      assert.equal(r.status, 200, r.text);
      const file = await t.app.inject({ method: 'GET', url: `${npmBase(projectId)}/@acme/escaped/-/@acme/escaped-1.0.0.tgz` });
      assert.equal(file.statusCode, 200);
      assert.deepEqual(file.rawPayload, tgz);
      // A second `_attachments` key wins in JSON.parse; the lifted string of the first must not leak into it.
      const { body: dup } = publishBody('@acme/dup', '1.0.0');
      const dupText = JSON.stringify(dup).replace('"_attachments":', '"_attachments":{"x.tgz":{"data":"QUFBQQ=="}},"_attachments":');
      const d = await t.call('PUT', `${npmBase(projectId)}/${esc('@acme/dup')}`, { token: ROOT_TOKEN, body: dupText });
      assert.equal(d.status, 200, d.text);
    });

    it('registry-level commands answer once: no error-level log lines for anonymous or signed-in callers', async () => {
      await createUser(t, 'alice');
      const before = t.logs.length;
      const bases = [npmBase(projectId), `/api/v4/groups/${groupId}/-/packages/npm`, '/api/v4/packages/npm'];
      for (const base of bases) {
        for (const token of [undefined, ROOT_TOKEN]) {
          assert.equal((await t.call('GET', `${base}/-/ping`, { token })).status, 200);
          assert.equal((await t.call('GET', `${base}/-/v1/search?text=acme`, { token })).status, 200);
          assert.equal((await t.call('GET', `${base}/-/whoami`, { token })).status, token ? 200 : 401);
        }
        const login = await t.call('PUT', `${base}/-/user/org.couchdb.user:alice`, { body: { name: 'alice', password: 'correct-horse-1' } });
        assert.equal(login.status, 201, login.text);
        const logout = await t.call('DELETE', `${base}/-/user/token/${encodeURIComponent(login.body.token)}`, { token: login.body.token });
        assert.equal(logout.status, 200, logout.text);
      }
      const lines = severe({ ...t, logs: t.logs.slice(before) });
      assert.deepEqual(lines, []);
    });
  });
}
