/**
 * What `helm cm-push` and helm do on the wire, emulated request by request against a real Wharf on SQLite and
 * PostgreSQL, for what the real binaries cannot show here. The cm-push plugin has no binary in this environment
 * (the real helm 3 and 4 are fetched by test/helpers/helm-binary.ts; the plugin is not), so every cm-push request
 * stays emulated: the upload URL built from `serverInfo.contextPath`, `--force` and the overwrite policies. Also
 * kept: what helm never sends or never shows (ETag/304, the exact 401 challenge and 404s, provenance upload
 * refusals, deletes, invalidation by writers outside the Helm code, a second instance's view).
 *
 * What the real helm does as a user does it (repo add with a PAT, a deploy token, anonymously, with and without a
 * trailing slash, with a query string; search with --devel; pull, --verify, show chart, template, dependency update;
 * an empty channel; a raw-body upload pulled back) runs with the real binaries in test/e2e/helm-classic.test.ts
 * (also test/e2e/helm-index-injection.test.ts and test/integration/protection-bypass.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { addMember, createGroup, createPat, createProject, createUser } from '../helpers/management.js';
import {
  basic,
  buildChart,
  cmPush,
  cmPushOutcome,
  cmPushUrl,
  fixture,
  helmPull,
  helmRepoUpdate,
  loadIndexStrict,
  resolveReferenceUrl,
  send,
  sha256,
  upload,
  type HelmRepo,
} from '../helpers/helm.js';
import { helmServices } from '../../src/compose.js';
import { HelmRepository } from '../../src/storage/db/repositories/helm.repository.js';

for (const dialect of DIALECTS) {
  describe(`helm and cm-push against Wharf [${dialect}]`, () => {
    let t: TestApp;
    let projectId: number;
    let token: string;
    let maintainerToken: string;
    const repo = (channel = 'stable', suffix = ''): HelmRepo => ({
      url: `http://wharf.test/api/v4/projects/${projectId}/packages/helm/${channel}${suffix}`,
      username: 'ci',
      password: token,
    });
    const setPolicy = async (policy: string) => {
      const r = await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { helm_chart_overwrite_policy: policy } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.helm_chart_overwrite_policy, policy);
    };

    before(async () => {
      t = await startApp(dialect);
      const group = await createGroup(t, 'platform', { visibility: 'private' });
      projectId = (await createProject(t, 'charts', group.id, { visibility: 'private' })).id;
      const dev = await createUser(t, 'dev');
      await addMember(t, 'projects', projectId, dev.id, 30);
      token = await createPat(t, dev.id);
      const maint = await createUser(t, 'maint');
      await addMember(t, 'projects', projectId, maint.id, 40);
      maintainerToken = await createPat(t, maint.id);
    });
    after(() => t.close());

    it('resolves URLs exactly as Helm does', () => {
      assert.equal(resolveReferenceUrl('https://h/helm/stable', 'index.yaml'), 'https://h/helm/stable/index.yaml');
      assert.equal(resolveReferenceUrl('https://h/helm/stable/', 'index.yaml'), 'https://h/helm/stable/index.yaml');
      assert.equal(resolveReferenceUrl('https://h/helm/stable?tok=1', 'charts/a-1.0.0.tgz'), 'https://h/helm/stable/charts/a-1.0.0.tgz?tok=1');
      assert.equal(resolveReferenceUrl('https://h/helm/stable', '/charts/a-1.0.0.tgz'), 'https://h/charts/a-1.0.0.tgz');
      assert.equal(
        cmPushUrl('https://gitlab.example.com/api/v4/projects/1/packages/helm/stable', '/api/v4/projects/1/packages/helm'),
        'https://gitlab.example.com/api/v4/projects/1/packages/helm/api/stable/charts',
      );
      assert.equal(cmPushUrl('https://h/api/v4/projects/1/packages/helm/stable/', '/api/v4/projects/1/packages/helm', true), 'https://h/api/v4/projects/1/packages/helm/api/stable/charts?force');
    });

    it('cm-push finds the upload URL through serverInfo.contextPath; the chart is listed as soon as it answers', async () => {
      const { index } = await helmRepoUpdate(t, repo());
      for (const [file, name] of [['charts/sprocket-1.1.0.tgz', 'sprocket'], ['charts/sprocket-1.2.0.tgz', 'sprocket'], ['charts/frobnitz-1.2.3.tgz', 'frobnitz'], ['charts/zarthal-1.0.0.tgz', 'zarthal']]) {
        const res = await cmPush(t, repo(), fixture(file!), { index });
        assert.equal(cmPushOutcome(res), 'Done.', `${name}: ${res.status} ${res.text}`);
      }
      // No background job: the very next `helm repo update` sees all of them.
      const after = (await helmRepoUpdate(t, repo())).index;
      assert.deepEqual(Object.keys(after.entries), ['frobnitz', 'sprocket', 'zarthal']);
      assert.deepEqual(after.entries.sprocket?.map((e) => e.version), ['1.2.0', '1.1.0']);
      assert.equal(after.entries.sprocket?.[0]?.digest, sha256(fixture('charts/sprocket-1.2.0.tgz')));
      assert.deepEqual(after.entries.frobnitz?.[0]?.urls, ['charts/frobnitz-1.2.3.tgz']);
    });

    it('a pull without credentials of a private chart gets 401 with the Basic challenge (helm then reports the failure)', async () => {
      const r = await send(t, 'GET', `/api/v4/projects/${projectId}/packages/helm/stable/charts/sprocket-1.2.0.tgz`);
      assert.equal(r.status, 401);
      assert.equal(r.headers['www-authenticate'], 'Basic realm="GitLab Packages Registry"');
      assert.equal((await send(t, 'GET', `/api/v4/projects/${projectId}/packages/helm/stable/charts/nope-1.0.0.tgz`, { headers: { authorization: basic('x', token) } })).status, 404);
      assert.equal((await send(t, 'GET', `/api/v4/projects/${projectId}/packages/helm/other/charts/sprocket-1.2.0.tgz`, { headers: { authorization: basic('x', token) } })).status, 404);
      assert.equal((await send(t, 'GET', `/api/v4/projects/${projectId}/packages/helm/stable/charts/sprocket-1.2.0.zip`, { headers: { authorization: basic('x', token) } })).status, 404);
    });

    it('newest wins by default (GitLab): pushing a version again replaces it, digest and bytes', async () => {
      await setPolicy('allow');
      const first = buildChart('rolling', '1.0.0');
      const second = buildChart('rolling', '1.0.0');
      assert.notEqual(sha256(first), sha256(second));
      assert.equal((await cmPush(t, repo(), first)).status, 201);
      assert.equal((await cmPush(t, repo(), second)).status, 201);
      const { index } = await helmRepoUpdate(t, repo());
      assert.equal(index.entries.rolling?.length, 1);
      assert.equal(index.entries.rolling?.[0]?.digest, sha256(second));
      assert.deepEqual((await helmPull(t, repo(), index, 'rolling')).bytes, second);
    });

    it('require_force (ChartMuseum): 409 that cm-push prints, then --force replaces', async () => {
      await setPolicy('require_force');
      try {
        const again = buildChart('rolling', '1.0.0');
        const refused = await cmPush(t, repo(), again);
        assert.equal(refused.status, 409);
        assert.equal(cmPushOutcome(refused), 'Error: 409: rolling-1.0.0.tgz already exists in channel stable; push again with --force to replace it');
        const forced = await cmPush(t, repo(), again, { force: true });
        assert.equal(cmPushOutcome(forced), 'Done.');
        assert.equal((await helmRepoUpdate(t, repo())).index.entries.rolling?.[0]?.digest, sha256(again));
        // A new version needs no force, and another channel is another repository.
        assert.equal((await cmPush(t, repo(), buildChart('rolling', '1.0.1'))).status, 201);
        assert.equal((await cmPush(t, repo('other'), buildChart('rolling', '1.0.0'))).status, 201);
      } finally {
        await setPolicy('allow');
      }
    });

    it('deny: nothing is ever replaced, --force or not; the refused upload leaves the old chart in place', async () => {
      await setPolicy('deny');
      try {
        const before = (await helmRepoUpdate(t, repo())).index.entries.rolling?.find((e) => e.version === '1.0.0')?.digest;
        for (const force of [false, true]) {
          const r = await cmPush(t, repo(), buildChart('rolling', '1.0.0'), { force });
          assert.equal(r.status, 409);
          assert.match(r.body.error, /does not replace chart versions/);
        }
        assert.equal((await helmRepoUpdate(t, repo())).index.entries.rolling?.find((e) => e.version === '1.0.0')?.digest, before);
      } finally {
        await setPolicy('allow');
      }
      const bad = await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { helm_chart_overwrite_policy: 'sometimes' } });
      assert.equal(bad.status, 400);
    });

    it('one version in several channels: each channel lists and serves its own upload', async () => {
      const a = buildChart('multi', '1.0.0');
      const b = buildChart('multi', '1.0.0');
      assert.equal((await cmPush(t, repo('chan-a'), a)).status, 201);
      assert.equal((await cmPush(t, repo('chan-b'), b)).status, 201);
      const ia = (await helmRepoUpdate(t, repo('chan-a'))).index;
      const ib = (await helmRepoUpdate(t, repo('chan-b'))).index;
      assert.equal(ia.entries.multi?.[0]?.digest, sha256(a));
      assert.equal(ib.entries.multi?.[0]?.digest, sha256(b));
      assert.deepEqual((await helmPull(t, repo('chan-b'), ib, 'multi')).bytes, b);
    });

    it('index.yaml carries a strong ETag; If-None-Match gets 304 until the channel changes; never gzip', async () => {
      const url = `/api/v4/projects/${projectId}/packages/helm/etag/index.yaml`;
      const headers = { authorization: basic('x', token), 'accept-encoding': 'gzip, deflate' };
      assert.equal((await cmPush(t, repo('etag'), buildChart('e', '1.0.0'))).status, 201);
      const first = await send(t, 'GET', url, { headers });
      assert.equal(first.status, 200);
      assert.equal(first.headers['content-encoding'], undefined);
      const etag = String(first.headers.etag);
      assert.match(etag, /^"[0-9a-f]{40}"$/);
      const again = await send(t, 'GET', url, { headers });
      assert.equal(again.text, first.text, 'a revision renders to the same bytes');
      assert.equal(again.headers.etag, etag);
      for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const cached = await send(t, 'GET', url, { headers: { ...headers, 'if-none-match': inm } });
        assert.equal(cached.status, 304, inm);
        assert.equal(cached.raw.length, 0);
        assert.equal(cached.headers.etag, etag);
      }
      assert.equal((await send(t, 'GET', url, { headers: { ...headers, 'if-none-match': '"nope"' } })).status, 200);
      // A 304 still needs the right to read.
      assert.equal((await send(t, 'GET', url, { headers: { 'if-none-match': etag } })).status, 401);
      assert.equal((await cmPush(t, repo('etag'), buildChart('e', '1.1.0'))).status, 201);
      const changed = await send(t, 'GET', url, { headers: { ...headers, 'if-none-match': etag } });
      assert.equal(changed.status, 200);
      assert.notEqual(changed.headers.etag, etag);
      assert.deepEqual(loadIndexStrict(changed.text).entries.e?.map((e) => e.version), ['1.1.0', '1.0.0']);
      const head = await t.app.inject({ method: 'HEAD', url, headers });
      assert.equal(head.statusCode, 200);
      assert.equal(head.body, '');
    });

    it('another instance serves the document this one stored, and sees this one\'s writes at once', async () => {
      const other = helmServices({
        db: t.deps.database.db,
        settings: t.deps.services.settings,
        blobs: t.deps.blobs,
        clock: t.deps.clock,
        config: t.deps.config,
        changes: t.deps.database.changes,
        protection: t.deps.services.protection,
        audit: t.deps.services.audit,
        sharedDatabase: dialect === 'postgres',
      });
      const pub = await createProject(t, `shared-${dialect}`, undefined, { visibility: 'public' }, maintainerToken);
      const push = (name: string) =>
        upload(t, `/api/v4/projects/${pub.id}/packages/helm/api/stable/charts`, basic('x', maintainerToken), [{ field: 'chart', content: buildChart(name, '1.0.0') }]);
      assert.equal((await push('one')).status, 201);
      const here = await send(t, 'GET', `/api/v4/projects/${pub.id}/packages/helm/stable/index.yaml`);
      const there = await other.index.read(pub.id, 'stable');
      assert.equal(Buffer.concat(there.parts).toString(), here.text);
      assert.equal(there.etag, here.headers.etag);
      assert.equal((await push('two')).status, 201);
      // Readers arriving together after a change share one build.
      const builds = { n: 0 };
      const original = HelmRepository.prototype.indexFileIds;
      HelmRepository.prototype.indexFileIds = function (...args: Parameters<typeof original>) {
        builds.n++;
        return original.apply(this, args);
      };
      try {
        const reads = await Promise.all(Array.from({ length: 20 }, () => other.index.read(pub.id, 'stable', String(here.headers.etag))));
        assert.equal(builds.n, 1);
        assert.ok(reads.every((r) => !r.notModified && r.etag === reads[0]!.etag));
        assert.deepEqual(Object.keys(loadIndexStrict(Buffer.concat(reads[0]!.parts).toString()).entries), ['one', 'two']);
      } finally {
        HelmRepository.prototype.indexFileIds = original;
      }
    });

    it('a package deleted by other code (the generic packages API, gc) leaves every channel index at once', async () => {
      for (const channel of ['gen-a', 'gen-b']) assert.equal((await cmPush(t, repo(channel), buildChart('generic', '1.0.0'))).status, 201);
      const before = await Promise.all(['gen-a', 'gen-b'].map(async (c) => (await helmRepoUpdate(t, repo(c))).index));
      assert.ok(before.every((i) => i.entries.generic));
      // What `DELETE /projects/:id/packages/:package_id` does: mark the package, in its own SQL.
      await t.deps.database.db
        .updateTable('packages')
        .set({ status: 'pending_destruction' })
        .where('project_id', '=', projectId)
        .where('name', '=', 'generic')
        .execute();
      for (const c of ['gen-a', 'gen-b']) assert.deepEqual((await helmRepoUpdate(t, repo(c))).index.entries, {});
      // And a re-push of the same version is a new package.
      assert.equal((await cmPush(t, repo('gen-a'), buildChart('generic', '1.0.0'))).status, 201);
      assert.ok((await helmRepoUpdate(t, repo('gen-a'))).index.entries.generic);
    });

    it('delete takes a version out of one channel (with its provenance file); a re-push brings it back', async () => {
      assert.equal((await cmPush(t, repo('del'), buildChart('d', '1.0.0'))).status, 201);
      assert.equal((await cmPush(t, repo('del'), buildChart('d', '2.0.0'))).status, 201);
      assert.equal((await cmPush(t, repo('del-other'), buildChart('d', '1.0.0'))).status, 201);
      const del = await send(t, 'DELETE', `/api/v4/projects/${projectId}/packages/helm/api/del/charts/d/1.0.0`, { headers: { authorization: basic('m', maintainerToken) } });
      assert.equal(del.status, 200, del.text);
      assert.deepEqual((await helmRepoUpdate(t, repo('del'))).index.entries.d?.map((e) => e.version), ['2.0.0']);
      assert.deepEqual((await helmRepoUpdate(t, repo('del-other'))).index.entries.d?.map((e) => e.version), ['1.0.0']);
      assert.equal((await send(t, 'GET', `/api/v4/projects/${projectId}/packages/helm/del/charts/d-1.0.0.tgz`, { headers: { authorization: basic('x', token) } })).status, 404);
      assert.equal((await cmPush(t, repo('del'), buildChart('d', '1.0.0'))).status, 201);
      assert.deepEqual((await helmRepoUpdate(t, repo('del'))).index.entries.d?.map((e) => e.version), ['2.0.0', '1.0.0']);
    });

    describe('provenance (helm install --verify)', () => {
      const signed = fixture('signed/signtest-0.1.0.tgz');
      const signedProv = fixture('signed/signtest-0.1.0.tgz.prov');
      const hash = fixture('signed/hashtest-1.2.3.tgz');
      const hashProv = fixture('signed/hashtest-1.2.3.tgz.prov');
      const H = () => `/api/v4/projects/${projectId}/packages/helm`;

      it('ChartMuseum\'s raw POST …/api/:channel/prov after the chart', async () => {
        assert.equal((await upload(t, `${H()}/api/signed/charts`, basic('x', token), [{ field: 'chart', content: hash }])).status, 201);
        assert.equal((await send(t, 'GET', `${H()}/signed/charts/hashtest-1.2.3.tgz.prov`, { headers: { authorization: basic('x', token) } })).status, 404);
        const r = await send(t, 'POST', `${H()}/api/signed/prov`, { headers: { authorization: basic('x', token), 'content-type': 'application/octet-stream' }, payload: hashProv });
        assert.equal(r.status, 201, r.text);
        const { index } = await helmRepoUpdate(t, repo('signed'));
        assert.deepEqual((await helmPull(t, repo('signed'), index, 'hashtest', '1.2.3', { verify: true })).prov, hashProv);
      });

      it('a provenance file on its own before its chart is refused (404, nothing created); after the chart it is accepted', async () => {
        const packages = async () => (await send(t, 'GET', `/api/v4/projects/${projectId}/packages?per_page=100`, { headers: { 'private-token': token } })).body;
        const before = await packages();
        const r = await send(t, 'POST', `${H()}/api/early/prov`, { headers: { authorization: basic('x', token) }, payload: signedProv });
        assert.equal(r.status, 404, r.text);
        assert.match(r.body.error, /Chart signtest-0\.1\.0\.tgz not found in channel early: upload the chart first/);
        assert.deepEqual(await packages(), before, 'no package row for a signature of nothing');
        assert.equal((await cmPush(t, repo('early'), signed)).status, 201);
        const late = await send(t, 'POST', `${H()}/api/early/prov`, { headers: { authorization: basic('x', token) }, payload: signedProv });
        assert.equal(late.status, 201, late.text);
        const { index } = await helmRepoUpdate(t, repo('early'));
        assert.deepEqual((await helmPull(t, repo('early'), index, 'signtest', '0.1.0', { verify: true })).prov, signedProv);
      });

      it('refuses a provenance file that does not sign the chart it would be served with', async () => {
        const wrong = await upload(t, `${H()}/api/mismatch/charts`, basic('x', token), [
          { field: 'chart', content: hash },
          { field: 'prov', content: signedProv },
        ]);
        assert.equal(wrong.status, 400);
        assert.match(wrong.body.error, /provenance file is for signtest 0.1.0, not for hashtest 1.2.3/);
        assert.deepEqual((await helmRepoUpdate(t, repo('mismatch'))).index.entries, {}, 'nothing stored');
        // Same name and version, other bytes (what cm-push's re-packaging produces): the digest does not match.
        const repacked = buildChart('signtest', '0.1.0');
        const r2 = await upload(t, `${H()}/api/mismatch/charts`, basic('x', token), [{ field: 'chart', content: repacked }, { field: 'prov', content: signedProv }]);
        assert.equal(r2.status, 400);
        assert.match(r2.body.error, /does not sign this chart/);
        assert.equal((await upload(t, `${H()}/api/mismatch/charts`, basic('x', token), [{ field: 'chart', content: repacked }])).status, 201);
        const late = await send(t, 'POST', `${H()}/api/mismatch/prov`, { headers: { authorization: basic('x', token) }, payload: signedProv });
        assert.equal(late.status, 400);
        assert.match(late.body.error, /does not sign the chart signtest-0.1.0.tgz stored in channel mismatch/);
        const garbage = await send(t, 'POST', `${H()}/api/mismatch/prov`, { headers: { authorization: basic('x', token) }, payload: 'not a signature' });
        assert.equal(garbage.status, 400);
        assert.match(garbage.body.error, /not an OpenPGP clear-signed message/);
      });

      it('replacing a chart drops the provenance file that signed the old bytes; delete removes it too', async () => {
        assert.equal((await upload(t, `${H()}/api/replace/charts`, basic('x', token), [{ field: 'chart', content: signed }, { field: 'prov', content: signedProv }])).status, 201);
        const provUrl = `${H()}/replace/charts/signtest-0.1.0.tgz.prov`;
        assert.equal((await send(t, 'GET', provUrl, { headers: { authorization: basic('x', token) } })).status, 200);
        assert.equal((await cmPush(t, repo('replace'), buildChart('signtest', '0.1.0'))).status, 201);
        assert.equal((await send(t, 'GET', provUrl, { headers: { authorization: basic('x', token) } })).status, 404);
        // Pushing the signed bytes again brings back a chart the old provenance file could sign, but it is gone.
        assert.equal((await upload(t, `${H()}/api/replace/charts`, basic('x', token), [{ field: 'chart', content: signed }, { field: 'prov', content: signedProv }])).status, 201);
        const del = await send(t, 'DELETE', `${H()}/api/replace/charts/signtest/0.1.0`, { headers: { authorization: basic('m', maintainerToken) } });
        assert.equal(del.status, 200);
        assert.equal((await send(t, 'GET', provUrl, { headers: { authorization: basic('x', token) } })).status, 404);
      });
    });
  });
}

describe('serverInfo.contextPath under an external URL with a path', () => {
  it('carries the path Wharf is served under, so cm-push posts through the same proxy prefix', async () => {
    const t = await startApp('sqlite', { env: { WHARF_EXTERNAL_URL: 'http://wharf.test/registry' } });
    try {
      const project = await createProject(t, 'p', undefined, { visibility: 'public' });
      const r = await send(t, 'GET', `/api/v4/projects/${project.id}/packages/helm/stable/index.yaml`);
      const contextPath = loadIndexStrict(r.text).serverInfo?.contextPath;
      assert.equal(contextPath, `/registry/api/v4/projects/${project.id}/packages/helm`);
      assert.equal(
        cmPushUrl(`http://wharf.test/registry/api/v4/projects/${project.id}/packages/helm/stable`, contextPath!),
        `http://wharf.test/registry/api/v4/projects/${project.id}/packages/helm/api/stable/charts`,
      );
    } finally {
      await t.close();
    }
  });
});
