/** The UI's page for a Helm chart: Chart.yaml facts, channels, helm snippets, its provenance file and signer, and deletion leaving index.yaml. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { basic, fixture, loadIndexStrict, send, upload } from '../helpers/helm.js';

for (const dialect of DIALECTS) {
  describe(`web pages for Helm charts [${dialect}]`, () => {
    let t: TestApp;
    let projectId: number;
    before(async () => {
      t = await startApp(dialect);
      const group = await t.call('POST', '/api/v4/groups', { token: ROOT_TOKEN, body: { name: 'charts', path: 'charts', visibility: 'public' } });
      const project = await t.call('POST', '/api/v4/projects', { token: ROOT_TOKEN, body: { name: 'repo', namespace_id: group.body.id, visibility: 'public' } });
      projectId = project.body.id;
      for (const channel of ['stable', 'edge']) {
        const r = await upload(t, `/api/v4/projects/${projectId}/packages/helm/api/${channel}/charts`, basic('root', ROOT_TOKEN), [
          { field: 'chart', filename: 'frobnitz-1.2.3.tgz', content: fixture('charts/frobnitz-1.2.3.tgz') },
        ]);
        assert.equal(r.status, 201, r.text);
      }
    });
    after(async () => t.close());

    it('shows the chart’s Chart.yaml facts, its channels, digests and helm snippets with this Wharf’s URLs', async () => {
      const [pkg] = (await t.call('GET', `/api/v4/projects/${projectId}/packages?package_type=helm`)).body;
      assert.equal(pkg.name, 'frobnitz');
      const page = await t.app.inject({ method: 'GET', url: `/charts/repo/-/packages/${pkg.id}` });
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /<dt>apiVersion<\/dt><dd>v1<\/dd>/);
      assert.match(page.body, /<dt>version<\/dt><dd>1\.2\.3<\/dd>/);
      assert.match(page.body, /<dt>channels<\/dt><dd>edge, stable<\/dd>/);
      assert.match(page.body, new RegExp(`helm repo add --username &lt;your username&gt; --password &lt;your token&gt; repo http://wharf.test/api/v4/projects/${projectId}/packages/helm/edge`));
      assert.match(page.body, /helm install frobnitz repo\/frobnitz --version 1\.2\.3/);
      // In `stable`, the channel OCI maps to by default: pullable over OCI too, and the page says how.
      assert.match(page.body, /helm registry login wharf\.test --username &lt;your username&gt; --password &lt;your token&gt; --plain-http  # helm 3: --insecure/);
      assert.match(page.body, /helm install frobnitz oci:\/\/wharf\.test\/charts\/repo\/frobnitz --version 1\.2\.3 --plain-http/);
      // Mapped to a channel the chart is not in: no OCI snippet, since `helm pull oci://` would not find it.
      const set = (channel: string) => t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { helm_oci_channel: channel } });
      assert.equal((await set('nightly')).status, 200);
      const unmapped = await t.app.inject({ method: 'GET', url: `/charts/repo/-/packages/${pkg.id}` });
      assert.doesNotMatch(unmapped.body, /oci:\/\//);
      assert.equal((await set('stable')).status, 200);
      assert.match(page.body, /sha256 [0-9a-f]{64}/);
      const explore = await t.app.inject({ method: 'GET', url: '/explore?type=helm' });
      assert.match(explore.body, /frobnitz/);
    });

    it('says whether a version has a .prov file and which key its signature names', async () => {
      const [frobnitz] = (await t.call('GET', `/api/v4/projects/${projectId}/packages?package_type=helm&package_name=frobnitz`)).body;
      const unsigned = await t.app.inject({ method: 'GET', url: `/charts/repo/-/packages/${frobnitz.id}` });
      assert.match(unsigned.body, /<dt>provenance<\/dt><dd class="muted">none \(no \.prov file\)<\/dd>/);

      const r = await upload(t, `/api/v4/projects/${projectId}/packages/helm/api/stable/charts`, basic('root', ROOT_TOKEN), [
        { field: 'chart', filename: 'signtest-0.1.0.tgz', content: fixture('signed/signtest-0.1.0.tgz') },
        { field: 'prov', filename: 'signtest-0.1.0.tgz.prov', content: fixture('signed/signtest-0.1.0.tgz.prov') },
      ]);
      assert.equal(r.status, 201, r.text);
      const [signed] = (await t.call('GET', `/api/v4/projects/${projectId}/packages?package_type=helm&package_name=signtest`)).body;
      const page = await t.app.inject({ method: 'GET', url: `/charts/repo/-/packages/${signed.id}` });
      assert.equal(page.statusCode, 200);
      // The key id `gpg --list-packets` reports for the fixture's signature (helm's own test key).
      assert.match(page.body, /<dt>provenance<\/dt><dd><code>signtest-0\.1\.0\.tgz\.prov<\/code>: signed by key <code title="key id">843BBF981FC18762<\/code>/);
      // A private project's chart page stays 404 for anyone who may not read it; nothing about its signer leaks.
      assert.equal((await t.app.inject({ method: 'GET', url: `/charts/nope/-/packages/${signed.id}` })).statusCode, 404);
      // Leaves the repository as the next test expects it: frobnitz alone.
      assert.equal((await t.call('DELETE', `/api/v4/projects/${projectId}/packages/${signed.id}`, { token: ROOT_TOKEN })).status, 204);
    });

    it('deleting the chart through the packages API removes it from every channel’s index.yaml', async () => {
      const [pkg] = (await t.call('GET', `/api/v4/projects/${projectId}/packages?package_type=helm`)).body;
      assert.equal((await t.call('DELETE', `/api/v4/projects/${projectId}/packages/${pkg.id}`, { token: ROOT_TOKEN })).status, 204);
      for (const channel of ['stable', 'edge']) {
        const r = await send(t, 'GET', `/api/v4/projects/${projectId}/packages/helm/${channel}/index.yaml`);
        assert.equal(r.status, 200);
        assert.deepEqual(Object.keys(loadIndexStrict(r.text).entries ?? {}), [], channel);
      }
      assert.equal((await t.app.inject({ method: 'GET', url: `/charts/repo/-/packages/${pkg.id}` })).statusCode, 404);
    });
  });
}
