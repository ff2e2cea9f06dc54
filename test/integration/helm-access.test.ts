/**
 * Every cell of docs/design/gitlab-compatibility.md#matrix-helm (Helm status matrices) on SQLite and PostgreSQL, with HTTP Basic credentials
 * only, plus the rules around them (docs/design/gitlab-compatibility.md#helm-credentials): other credential forms are anonymous, both halves of Basic must be
 * non-empty, every 401 carries the Basic challenge, read_api tokens only read, deletes need Maintainer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { addMember, createGroup, createPat, createProject, createUser } from '../helpers/management.js';
import { basic, buildChart, send, upload, type RawResult } from '../helpers/helm.js';

const REALM = 'Basic realm="GitLab Packages Registry"';

for (const dialect of DIALECTS) {
  describe(`Helm access rules, docs/design/gitlab-compatibility.md#matrix-helm [${dialect}]`, () => {
    let t: TestApp;
    const ids: Record<string, number> = {};
    const auth: Record<string, string | undefined> = { anonymous: undefined };
    let seq = 0;

    before(async () => {
      t = await startApp(dialect);
      const pub = await createGroup(t, 'pub', { visibility: 'public' });
      const priv = await createGroup(t, 'priv', { visibility: 'private' });
      ids.public = (await createProject(t, 'lib', pub.id, { visibility: 'public' })).id;
      ids.private = (await createProject(t, 'secret', priv.id, { visibility: 'private' })).id;
      ids.everyone = (await createProject(t, 'everyone', priv.id, { visibility: 'private', package_registry_access_level: 'public' })).id;
      for (const [name, level] of [['guest', 10], ['reporter', 20], ['developer', 30], ['maintainer', 40], ['outsider', 0]] as const) {
        const user = await createUser(t, name);
        const token = await createPat(t, user.id);
        auth[name] = basic(name, token);
        if (level > 0) {
          await addMember(t, 'projects', ids.public, user.id, level);
          await addMember(t, 'projects', ids.private, user.id, level);
        }
      }
      const dev = await t.call('GET', '/api/v4/users?username=developer', { token: ROOT_TOKEN });
      auth.readApi = basic('developer', await createPat(t, dev.body[0].id, ['read_api']));
      const deploy = async (scopes: string[]) =>
        (await t.call('POST', `/api/v4/projects/${ids.private}/deploy_tokens`, { token: ROOT_TOKEN, body: { name: scopes.join('-'), scopes } })).body.token as string;
      // Deploy tokens: any username, the token as password.
      auth.deployRead = basic('gitlab+deploy-token-1', await deploy(['read_package_registry']));
      auth.deployWrite = basic('anything', await deploy(['write_package_registry']));
      auth.invalid = basic('developer', 'whpat-not-a-real-token-0000000000000000');
      auth.root = basic('root', ROOT_TOKEN);
      for (const project of ['public', 'private', 'everyone']) {
        const r = await upload(t, `/api/v4/projects/${ids[project]}/packages/helm/api/stable/charts`, auth.root, [{ field: 'chart', content: buildChart('demo', '1.0.0') }]);
        assert.equal(r.status, 201, r.text);
      }
    });
    after(() => t.close());

    const H = (project: string) => `/api/v4/projects/${project in ids ? ids[project] : project}/packages/helm`;
    const get = (project: string, what: 'index' | 'chart', who: string) =>
      send(t, 'GET', what === 'index' ? `${H(project)}/stable/index.yaml` : `${H(project)}/stable/charts/demo-1.0.0.tgz`, {
        headers: auth[who] ? { authorization: auth[who]! } : {},
      });
    const push = (project: string, who: string) =>
      upload(t, `${H(project)}/api/stable/charts`, auth[who], [{ field: 'chart', content: buildChart(`c${++seq}`, '1.0.0') }]);

    function expectStatus(r: RawResult, status: number, cell: string): void {
      assert.equal(r.status, status, `${cell}: ${r.status} ${r.text}`);
      if (status === 401) {
        assert.equal(r.headers['www-authenticate'], REALM, `${cell}: Basic challenge`);
        assert.deepEqual(r.body, { message: '401 Unauthorized' });
      }
      if (status === 403) assert.match(String(r.body?.message ?? r.body?.error), /403 Forbidden|insufficient_scope/);
      if (status === 404) assert.deepEqual(r.body, { message: '404 Project Not Found' });
    }

    // Index and chart download: one table for both (docs/design/gitlab-compatibility.md#matrix-helm, first table).
    const READS: Array<[project: string, who: string, status: number]> = [
      ['public', 'guest', 200],
      ['public', 'outsider', 200],
      ['public', 'anonymous', 200],
      ['private', 'reporter', 200],
      ['private', 'guest', 200],
      ['private', 'outsider', 404],
      ['private', 'anonymous', 401],
      ['everyone', 'anonymous', 200],
      ['public', 'invalid', 401],
      ['private', 'invalid', 401],
      ['999999', 'anonymous', 401],
      ['999999', 'developer', 404],
      ['private', 'deployRead', 200],
      ['private', 'deployWrite', 200],
      ['private', 'readApi', 200],
    ];
    for (const what of ['index', 'chart'] as const) {
      for (const [project, who, status] of READS) {
        it(`${what}: ${project} project, ${who} → ${status}`, async () => {
          const r = await get(project, what, who);
          expectStatus(r, status, `${what} ${project} ${who}`);
          if (status === 200 && what === 'index') assert.match(r.text, /^---\napiVersion: v1\nentries:\n {2}"demo":\n/);
          if (status === 200 && what === 'chart') assert.equal(r.headers['content-type'], 'application/octet-stream');
        });
      }
    }

    // Upload (second table).
    const WRITES: Array<[project: string, who: string, status: number]> = [
      ['public', 'developer', 201],
      ['public', 'reporter', 403],
      ['public', 'outsider', 403],
      ['public', 'anonymous', 401],
      ['private', 'developer', 201],
      ['private', 'guest', 403],
      ['private', 'reporter', 403],
      ['private', 'outsider', 404],
      ['private', 'anonymous', 401],
      ['public', 'invalid', 401],
      ['private', 'invalid', 401],
      ['private', 'deployWrite', 201],
      ['private', 'deployRead', 403],
      ['private', 'maintainer', 201],
      ['999999', 'developer', 404],
      ['999999', 'anonymous', 401],
    ];
    for (const [project, who, status] of WRITES) {
      it(`upload: ${project} project, ${who} → ${status}`, async () => {
        const r = await push(project, who);
        expectStatus(r, status, `upload ${project} ${who}`);
        if (status === 201) assert.deepEqual(r.body, { message: '201 Created' });
      });
    }

    it('upload with a read_api token → 403 insufficient_scope (it may only read)', async () => {
      const r = await push('private', 'readApi');
      assert.equal(r.status, 403);
      assert.equal(r.body.error, 'insufficient_scope');
    });

    it('upload: a file larger than helm_max_file_size → 400 "File is too large", and the default is 5 MB', async () => {
      const settings = await t.call('GET', '/api/v4/application/settings', { token: ROOT_TOKEN });
      assert.equal(settings.body.helm_max_file_size, 5 * 1024 * 1024);
      const big = buildChart('big', '1.0.0', { padding: (await import('node:crypto')).randomBytes(5 * 1024 * 1024) });
      const r = await upload(t, `${H('private')}/api/stable/charts`, auth.developer, [{ field: 'chart', content: big }]);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.message, '400 Bad request - File is too large');
    });

    it('upload: no `chart` file → 400', async () => {
      const r = await upload(t, `${H('private')}/api/stable/charts`, auth.developer, [{ field: 'file', content: buildChart('x', '1.0.0') }]);
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, { error: 'chart is missing' });
      const empty = await send(t, 'POST', `${H('private')}/api/stable/charts`, { headers: { authorization: auth.developer! } });
      assert.equal(empty.status, 400);
    });

    it('an invalid channel → 400 {"error":"channel is invalid"}, before credentials are looked at', async () => {
      for (const channel of ['-bad', 'a..b', 'trailing_', 'sp%20ace', 'sl%2Fash']) {
        for (const r of [
          await send(t, 'GET', `${H('private')}/${channel}/index.yaml`),
          await send(t, 'GET', `${H('private')}/${channel}/charts/demo-1.0.0.tgz`, { headers: { authorization: auth.invalid! } }),
          await upload(t, `${H('private')}/api/${channel}/charts`, undefined, [{ field: 'chart', content: buildChart('x', '1.0.0') }]),
        ]) {
          assert.equal(r.status, 400, `${channel}: ${r.text}`);
          assert.deepEqual(r.body, { error: 'channel is invalid' });
        }
      }
    });

    it('accepts only HTTP Basic: Bearer, PRIVATE-TOKEN and Deploy-Token headers count as anonymous', async () => {
      const token = auth.developer!.slice('Basic '.length);
      const secret = Buffer.from(token, 'base64').toString().split(':')[1]!;
      for (const headers of [{ authorization: `Bearer ${secret}` }, { 'private-token': secret }, { 'deploy-token': secret }] as Record<string, string>[]) {
        expectStatus(await send(t, 'GET', `${H('private')}/stable/index.yaml`, { headers }), 401, JSON.stringify(Object.keys(headers)));
      }
      // Both halves must be non-empty; the username is never checked.
      expectStatus(await send(t, 'GET', `${H('private')}/stable/index.yaml`, { headers: { authorization: basic('', secret) } }), 401, 'empty username');
      assert.equal((await send(t, 'GET', `${H('private')}/stable/index.yaml`, { headers: { authorization: basic('not-the-owner', secret) } })).status, 200);
    });

    it('a revoked token on a public project → 401 with the Basic challenge, not anonymous access', async () => {
      const user = await createUser(t, `revoked${dialect}`);
      const pat = await t.call('POST', `/api/v4/users/${user.id}/personal_access_tokens`, { token: ROOT_TOKEN, body: { name: 'x', scopes: ['api'] } });
      assert.equal((await t.call('DELETE', `/api/v4/personal_access_tokens/${pat.body.id}`, { token: ROOT_TOKEN })).status, 204);
      expectStatus(await send(t, 'GET', `${H('public')}/stable/index.yaml`, { headers: { authorization: basic('x', pat.body.token) } }), 401, 'revoked');
    });

    it('the project may be named by its URL-encoded full path; contextPath still carries the numeric id', async () => {
      const r = await send(t, 'GET', `/api/v4/projects/priv%2Fsecret/packages/helm/stable/index.yaml`, { headers: { authorization: auth.reporter! } });
      assert.equal(r.status, 200, r.text);
      assert.ok(r.text.includes(`contextPath: "/api/v4/projects/${ids.private}/packages/helm"\n`));
    });

    it('delete: Maintainer and write deploy tokens may; Developer 403, outsider 404, anonymous 401', async () => {
      for (const v of ['2.0.0', '3.0.0']) {
        assert.equal((await upload(t, `${H('private')}/api/stable/charts`, auth.developer, [{ field: 'chart', content: buildChart('gone', v) }])).status, 201);
      }
      const del = (who: string, version: string) =>
        send(t, 'DELETE', `${H('private')}/api/stable/charts/gone/${version}`, { headers: auth[who] ? { authorization: auth[who]! } : {} });
      expectStatus(await del('developer', '2.0.0'), 403, 'developer');
      expectStatus(await del('outsider', '2.0.0'), 404, 'outsider');
      expectStatus(await del('anonymous', '2.0.0'), 401, 'anonymous');
      expectStatus(await del('readApi', '2.0.0'), 403, 'read_api');
      const ok = await del('maintainer', '2.0.0');
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(ok.body, { deleted: true });
      assert.equal((await del('deployWrite', '3.0.0')).status, 200);
      const again = await del('maintainer', '2.0.0');
      assert.equal(again.status, 404);
      assert.match(again.body.error, /gone-2.0.0.tgz in channel stable not found/);
    });
  });
}
