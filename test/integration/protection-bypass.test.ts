/**
 * Every write or delete path of a package goes through the one protection check (issue 12, finding 2): npm publish,
 * deprecate, dist-tag add/move/remove at project, group and instance level, unpublish (version, tarball, package),
 * the packages API and web UI deletes, Helm chart and provenance uploads, and the Helm channel DELETE. Each is tried
 * against a rule by a Developer, a Maintainer and a write deploy token (refused, nothing changed), and by an Owner
 * and an administrator (allowed). After a refused Helm DELETE, the real helm still finds the chart.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT_TOKEN, startApp, type CallResult, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { basic, buildChart, send, sha256, upload, type RawResult } from '../helpers/helm.js';
import { helmBinary } from '../helpers/helm-binary.js';
import { addMember, createPat, createUser } from '../helpers/management.js';
import { bearer, createNpmWorld, esc, npmBase, packageState, publish, publishBody, published, type NpmWorld } from '../helpers/npm.js';

const run = promisify(execFile);

const PROTECTED = { message: 'Package protected.', error: 'Package protected.' };
const DELETE_PROTECTED = { message: 'Package is deletion protected.', error: 'Package is deletion protected.' };
const HELM_PROTECTED = { message: '403 Forbidden - Package protected.', error: 'Package protected.' };
const HELM_DELETE_PROTECTED = { message: '403 Forbidden - Package is deletion protected.', error: 'Package is deletion protected.' };

/** A clear-signed provenance document naming the chart and the digest it signs (the signature is not checked). */
const provenance = (name: string, version: string, chartSha256: string): Buffer =>
  Buffer.from(
    [
      '-----BEGIN PGP SIGNED MESSAGE-----',
      'Hash: SHA512',
      '',
      'apiVersion: v2',
      `name: ${name}`,
      `version: ${version}`,
      '',
      '...',
      'files:',
      `  ${name}-${version}.tgz: sha256:${chartSha256}`,
      '-----BEGIN PGP SIGNATURE-----',
      '',
      'wsBcBAEBCgAQBQJlAAAAAAkQAAAAAAAAAAAAAA==',
      '-----END PGP SIGNATURE-----',
      '',
    ].join('\n'),
  );

for (const dialect of DIALECTS) {
  describe(`every package write passes the protection check [${dialect}]`, () => {
    let t: TestApp;
    let w: NpmWorld;
    let project: number;
    let groupId: number;
    let ownerToken: string;
    /** A write deploy token of the whole privgrp group (a project token cannot see the group endpoint). */
    let groupDeployWrite: string;
    const LOCKED = '@privgrp/locked-a';
    const OPEN = '@privgrp/open-a';
    const lockedChart = buildChart('locked-chart', '1.0.0');
    const H = () => `/api/v4/projects/${project}/packages/helm`;

    /** What a refused write must leave alone: package rows, documents' revisions, blobs, Helm channel revisions. */
    const state = async () => ({
      ...(await packageState(t)),
      channels: (await t.deps.database.db.selectFrom('helm_channels').select(['channel', 'revision']).orderBy('channel').execute()).map((r) => `${r.channel}@${r.revision}`),
      tags: (await t.deps.database.db.selectFrom('package_tags').select(['package_name', 'tag', 'package_id']).orderBy('id').execute()).map((r) => `${r.package_name}:${r.tag}=${r.package_id}`),
      deprecated: (await t.deps.database.db.selectFrom('packages').select('id').where('status', '=', 'deprecated').execute()).length,
    });
    /** Runs a write that must be refused with `status` and `body`, and proves it changed nothing. */
    const refused = async (what: string, status: number, body: unknown, request: () => Promise<CallResult | RawResult>) => {
      const before = await state();
      const r = await request();
      assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
      if (body !== undefined) assert.deepEqual(r.body, body, what);
      assert.deepEqual(await state(), before, `${what}: the refused write changed something`);
    };
    const npm = (method: string, url: string, token: string, body?: unknown, headers: Record<string, string> = {}) =>
      t.call(method, url, { headers: { ...bearer(token), ...headers }, ...(body !== undefined ? { body } : {}) });
    const rev = async (name: string) => (await npm('GET', `${npmBase(project)}/${esc(name)}?write=true`, ROOT_TOKEN)).body._rev as string;
    const distTags = async (name: string) => (await npm('GET', `${npmBase(project)}/-/package/${esc(name)}/dist-tags`, ROOT_TOKEN)).body;
    const packageId = async (name: string, version: string) => {
      const list = await t.call('GET', `/api/v4/projects/${project}/packages?package_name=${encodeURIComponent(name)}&per_page=100`, { token: ROOT_TOKEN });
      return (list.body as Array<{ id: number; name: string; version: string }>).find((p) => p.name === name && p.version === version)!.id;
    };

    before(async () => {
      t = await startApp(dialect);
      w = await createNpmWorld(t);
      project = w.project.private;
      groupId = (await t.call('GET', '/api/v4/groups/privgrp', { token: ROOT_TOKEN })).body.id;
      const owner = await createUser(t, 'grpowner', { password: 'password123' });
      await addMember(t, 'groups', groupId, owner.id, 50);
      ownerToken = await createPat(t, owner.id);
      const dt = await t.call('POST', `/api/v4/groups/${groupId}/deploy_tokens`, { token: ROOT_TOKEN, body: { name: 'grp-write', scopes: ['write_package_registry'] } });
      assert.equal(dt.status, 201, dt.text);
      groupDeployWrite = dt.body.token;
      const rules = `/api/v4/projects/${project}/packages/protection/rules`;
      for (const type of ['npm', 'helm']) {
        const pattern = type === 'npm' ? '@privgrp/locked-*' : 'locked-*';
        const r = await t.call('POST', rules, {
          token: ROOT_TOKEN,
          body: { package_name_pattern: pattern, package_type: type, minimum_access_level_for_push: 'owner', minimum_access_level_for_delete: 'owner' },
        });
        assert.equal(r.status, 201, r.text);
      }
      await published(t, project, LOCKED, '1.0.0');
      await published(t, project, LOCKED, '1.1.0');
      await published(t, project, OPEN, '1.0.0');
      for (const chart of [lockedChart, buildChart('open-chart', '1.0.0')]) {
        const r = await upload(t, `${H()}/api/stable/charts`, basic('root', ROOT_TOKEN), [{ field: 'chart', content: chart }]);
        assert.equal(r.status, 201, r.text);
      }
    });
    after(async () => t?.close());

    it('npm publish: Developer, Maintainer and deploy token refused; an Owner and an administrator publish', async () => {
      for (const token of [w.token.developer, w.token.maintainer, w.token.deployWrite]) {
        await refused('publish', 403, PROTECTED, () => publish(t, project, publishBody(LOCKED, '2.0.0').body, token));
      }
      assert.equal((await publish(t, project, publishBody(LOCKED, '2.0.0').body, ownerToken)).status, 200);
      assert.equal((await publish(t, project, publishBody(LOCKED, '2.1.0').body, ROOT_TOKEN)).status, 200);
      assert.equal((await publish(t, project, publishBody(OPEN, '2.0.0').body, w.token.developer)).status, 200, 'unprotected names are open');
    });

    it('npm deprecate and undeprecate count as a push: Maintainer and deploy token refused; an Owner deprecates', async () => {
      const body = (message: string) => ({ _id: LOCKED, name: LOCKED, versions: { '1.0.0': { deprecated: message } } });
      for (const token of [w.token.maintainer, w.token.deployWrite]) {
        await refused('deprecate', 403, PROTECTED, () => npm('PUT', `${npmBase(project)}/${esc(LOCKED)}`, token, body('use 2.x'), { 'npm-command': 'deprecate' }));
      }
      // A Developer lacks GitLab's destroy_package ability for deprecate in the first place.
      await refused('deprecate', 403, undefined, () => npm('PUT', `${npmBase(project)}/${esc(LOCKED)}`, w.token.developer, body('use 2.x'), { 'npm-command': 'deprecate' }));
      const ok = await npm('PUT', `${npmBase(project)}/${esc(LOCKED)}`, ownerToken, body('use 2.x'), { 'npm-command': 'deprecate' });
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(ok.body.deprecated, ['1.0.0']);
      await refused('undeprecate', 403, PROTECTED, () => npm('PUT', `${npmBase(project)}/${esc(LOCKED)}`, w.token.maintainer, body(''), { 'npm-command': 'undeprecate' }));
      assert.equal((await npm('PUT', `${npmBase(project)}/${esc(LOCKED)}`, ROOT_TOKEN, body(''), { 'npm-command': 'undeprecate' })).status, 200);
      assert.equal((await npm('PUT', `${npmBase(project)}/${esc(OPEN)}`, w.token.maintainer, { _id: OPEN, name: OPEN, versions: { '1.0.0': { deprecated: 'x' } } }, { 'npm-command': 'deprecate' })).status, 200);
    });

    for (const level of ['project', 'group', 'instance'] as const) {
      it(`npm dist-tag add, move and remove at ${level} level count as a push`, async () => {
        const base = level === 'project' ? npmBase(project) : level === 'group' ? `/api/v4/groups/${groupId}/-/packages/npm` : '/api/v4/packages/npm';
        const tagUrl = (name: string, tag: string) => `${base}/-/package/${esc(name)}/dist-tags/${tag}`;
        const tag = `${level}-beta`;
        const deploy = level === 'group' ? groupDeployWrite : w.token.deployWrite;
        for (const token of [w.token.developer, w.token.maintainer, deploy, groupDeployWrite]) {
          await refused(`add ${tag}`, 403, PROTECTED, () => npm('PUT', tagUrl(LOCKED, tag), token, '"1.0.0"'));
          // Moving `latest` back to an old version is what would ship old code to every `npm install`.
          await refused('move latest', 403, PROTECTED, () => npm('PUT', tagUrl(LOCKED, 'latest'), token, '"1.0.0"'));
        }
        assert.equal((await npm('PUT', tagUrl(LOCKED, tag), ownerToken, '"1.0.0"')).status, 204);
        assert.equal((await distTags(LOCKED))[tag], '1.0.0');
        // Removing needs destroy_package (Maintainer) first, then the rule.
        await refused(`remove ${tag}`, 403, undefined, () => npm('DELETE', tagUrl(LOCKED, tag), w.token.developer));
        for (const token of [w.token.maintainer, deploy]) {
          await refused(`remove ${tag}`, 403, PROTECTED, () => npm('DELETE', tagUrl(LOCKED, tag), token));
        }
        assert.equal((await npm('DELETE', tagUrl(LOCKED, tag), ROOT_TOKEN)).status, 204);
        assert.equal((await distTags(LOCKED))[tag], undefined);
        // The same commands on an unprotected name work for a Developer and a Maintainer.
        assert.equal((await npm('PUT', tagUrl(OPEN, tag), w.token.developer, '"1.0.0"')).status, 204);
        assert.equal((await npm('DELETE', tagUrl(OPEN, tag), w.token.maintainer)).status, 204);
      });
    }

    it('npm unpublish (one version, one tarball, the whole package): Maintainer and deploy token refused; an Owner unpublishes', async () => {
      const current = await rev(LOCKED);
      const doc = (await npm('GET', `${npmBase(project)}/${esc(LOCKED)}?write=true`, ROOT_TOKEN)).body;
      const without = { ...doc, versions: Object.fromEntries(Object.entries(doc.versions).filter(([v]) => v !== '2.1.0')) };
      for (const token of [w.token.maintainer, w.token.deployWrite]) {
        await refused('unpublish version', 403, DELETE_PROTECTED, () => npm('PUT', `${npmBase(project)}/${esc(LOCKED)}/-rev/${current}`, token, without));
        await refused('unpublish tarball', 403, DELETE_PROTECTED, () => npm('DELETE', `${npmBase(project)}/${LOCKED}/-/${LOCKED}-2.1.0.tgz/-rev/${current}`, token));
        await refused('unpublish package', 403, DELETE_PROTECTED, () => npm('DELETE', `${npmBase(project)}/${esc(LOCKED)}/-rev/${current}`, token));
      }
      const done = await npm('PUT', `${npmBase(project)}/${esc(LOCKED)}/-rev/${current}`, ownerToken, without);
      assert.equal(done.status, 200, done.text);
      assert.deepEqual(done.body.removed, ['2.1.0']);
    });

    it('packages API and web UI deletes: a Maintainer is refused, an Owner deletes', async () => {
      const id = await packageId(LOCKED, '2.0.0');
      const files = (await t.call('GET', `/api/v4/projects/${project}/packages/${id}/package_files`, { token: ROOT_TOKEN })).body as Array<{ id: number }>;
      const apiDeleteProtected = { message: '403 Forbidden - Package is deletion protected.' };
      for (const token of [w.token.maintainer, w.token.deployWrite]) {
        const headers: Record<string, string> = token === w.token.deployWrite ? { 'deploy-token': token } : { 'private-token': token };
        await refused('API delete', 403, apiDeleteProtected, () => t.call('DELETE', `/api/v4/projects/${project}/packages/${id}`, { headers }));
        await refused('API file delete', 403, apiDeleteProtected, () => t.call('DELETE', `/api/v4/projects/${project}/packages/${id}/package_files/${files[0]!.id}`, { headers }));
      }
      // The web UI: a signed-in Maintainer confirms, and is told the package is protected.
      const page = await t.app.inject({ method: 'GET', url: '/users/sign_in' });
      const csrf = /_wharf_csrf=([^;]+)/.exec(String(page.headers['set-cookie']))![1]!;
      const signIn = await t.app.inject({
        method: 'POST',
        url: '/users/sign_in',
        payload: new URLSearchParams({ authenticity_token: csrf, login: 'maintainer', password: 'password123' }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `_wharf_csrf=${csrf}` },
      });
      const cookie = `_wharf_session=${/_wharf_session=([^;]+)/.exec(String(signIn.headers['set-cookie']))![1]}`;
      const confirm = await t.app.inject({ method: 'GET', url: `/privgrp/private-lib/-/packages/${id}/delete`, headers: { cookie } });
      assert.equal(confirm.statusCode, 200);
      const token = /name="authenticity_token" value="([^"]+)"/.exec(confirm.body)![1]!;
      await refused('web delete', 403, undefined, async () => {
        const r = await t.app.inject({
          method: 'POST',
          url: `/privgrp/private-lib/-/packages/${id}/delete`,
          payload: `authenticity_token=${token}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        });
        assert.match(r.body, /protected from deletion/);
        return { status: r.statusCode, headers: r.headers, body: undefined, text: r.body };
      });
      assert.equal((await t.call('DELETE', `/api/v4/projects/${project}/packages/${id}`, { token: ownerToken })).status, 204);
    });

    it('Helm chart upload: Developer, Maintainer and deploy token refused; an Owner uploads', async () => {
      for (const [user, token] of [['developer', w.token.developer], ['maintainer', w.token.maintainer], ['deploy', w.token.deployWrite]] as const) {
        await refused(`upload as ${user}`, 403, HELM_PROTECTED, () => upload(t, `${H()}/api/stable/charts`, basic(user, token), [{ field: 'chart', content: buildChart('locked-chart', '2.0.0') }]));
      }
      assert.equal((await upload(t, `${H()}/api/stable/charts`, basic('o', ownerToken), [{ field: 'chart', content: buildChart('locked-chart', '2.0.0') }])).status, 201);
    });

    it('Helm provenance upload counts as a push, and never creates a package for a chart the channel does not hold', async () => {
      const prov = provenance('locked-chart', '1.0.0', sha256(lockedChart));
      for (const [user, token] of [['developer', w.token.developer], ['maintainer', w.token.maintainer], ['deploy', w.token.deployWrite]] as const) {
        await refused(`prov as ${user}`, 403, HELM_PROTECTED, () => upload(t, `${H()}/api/stable/prov`, basic(user, token), [{ field: 'prov', content: prov }]));
      }
      // A signature of a version nobody uploaded: 404 for everyone, administrators included, and no package row.
      for (const [user, token, name] of [['developer', w.token.developer, 'open-chart'], ['root', ROOT_TOKEN, 'locked-chart'], ['root', ROOT_TOKEN, 'brand-new']] as const) {
        await refused(`prov of a missing ${name} as ${user}`, 404, undefined, () => upload(t, `${H()}/api/stable/prov`, basic(user, token), [{ field: 'prov', content: provenance(name, '9.9.9', sha256(lockedChart)) }]));
      }
      // Nor in a channel that does not hold the chart.
      await refused('prov in another channel', 404, undefined, () => upload(t, `${H()}/api/other/prov`, basic('o', ownerToken), [{ field: 'prov', content: prov }]));
      const ok = await upload(t, `${H()}/api/stable/prov`, basic('o', ownerToken), [{ field: 'prov', content: prov }]);
      assert.equal(ok.status, 201, ok.text);
      const served = await send(t, 'GET', `${H()}/stable/charts/locked-chart-1.0.0.tgz.prov`, { headers: { authorization: basic('x', ROOT_TOKEN) } });
      assert.deepEqual(served.raw, prov);
    });

    it('Helm channel DELETE: Maintainer and deploy token refused and the real helm still finds the chart; an Owner deletes', async () => {
      const url = `${H()}/api/stable/charts/locked-chart/1.0.0`;
      for (const [user, token] of [['maintainer', w.token.maintainer], ['deploy', w.token.deployWrite]] as const) {
        await refused(`delete as ${user}`, 403, HELM_DELETE_PROTECTED, () => send(t, 'DELETE', url, { headers: { authorization: basic(user, token) } }));
      }
      // A Developer has no destroy_package at all.
      await refused('delete as developer', 403, undefined, () => send(t, 'DELETE', url, { headers: { authorization: basic('d', w.token.developer) } }));
      assert.ok((await helmSearch(t, project, ROOT_TOKEN)).includes('locked-chart@1.0.0'), 'the real helm still lists the chart');
      const done = await send(t, 'DELETE', url, { headers: { authorization: basic('o', ownerToken) } });
      assert.equal(done.status, 200, done.text);
      assert.deepEqual(done.body, { deleted: true });
      const listed = await helmSearch(t, project, ROOT_TOKEN);
      assert.ok(!listed.includes('locked-chart@1.0.0') && listed.includes('open-chart@1.0.0'), listed.join(', '));
    });
  });
}

/** What `helm search repo` lists for the project's `stable` channel (the app listens on loopback for it). */
async function helmSearch(t: TestApp, projectId: number, token: string): Promise<string[]> {
  const helm = await helmBinary(3);
  if (!t.app.server.listening) await t.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = t.app.server.address() as { port: number };
  const home = mkdtempSync(path.join(tmpdir(), 'wharf-helm-'));
  const env = { ...process.env, HELM_CONFIG_HOME: path.join(home, 'config'), HELM_CACHE_HOME: path.join(home, 'cache'), HELM_DATA_HOME: path.join(home, 'data') };
  try {
    const repo = `http://127.0.0.1:${port}/api/v4/projects/${projectId}/packages/helm/stable`;
    await run(helm, ['repo', 'add', 'wharf', repo, '--username', 'x', '--password', token], { env, timeout: 60_000 });
    const { stdout } = await run(helm, ['search', 'repo', 'wharf/', '--versions', '-o', 'json'], { env, timeout: 60_000 });
    return (JSON.parse(stdout) as Array<{ name: string; version: string }>).map((e) => `${e.name.replace(/^wharf\//, '')}@${e.version}`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
