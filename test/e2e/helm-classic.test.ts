/**
 * The classic Helm repository API (`/api/v4/projects/:id/packages/helm/:channel`) used by the real helm 3.17 and 4.1
 * against a running Wharf (an app listening on loopback), on SQLite and PostgreSQL (WHARF_TEST_DATABASE_URL).
 *
 * Charts are uploaded the way curl uploads them (multipart `chart` [+ `prov`], and a raw body); then each helm does
 * what its users do: `repo add` with a personal access token, with a deploy token (either as `--username/--password`),
 * anonymously on a public project, with and without a trailing slash, with a query string; `repo update`; `search
 * repo` (every version with `-l`, pre-releases only with `--devel`); `pull` (newest stable by default, `--version`,
 * `--devel`, `--verify` with the signed fixtures' keyring); `show chart` against the index entry; `template` from the
 * repository; `dependency update` of a chart depending on one in Wharf; and the refusal of an anonymous or wrong
 * `repo add` of a private project. The request-by-request emulation that remains (cm-push, ETag, overwrite policies,
 * provenance upload refusals) is test/integration/helm-clients.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { basic, buildChart, fixture, FIXTURES, readChartYamlFromArchive, send, sha256, upload, type FilePart, RENDER_PROBE_TEMPLATE } from '../helpers/helm.js';
import { helmBinary } from '../helpers/helm-binary.js';
import { helmOciClient, type HelmOciClient, type HelmRun } from '../helpers/helm-oci.js';
import { addMember, createGroup, createPat, createProject, createUser } from '../helpers/management.js';
import { freeLoopbackPort } from '../helpers/oci-registry.js';

const KEYRING = path.join(FIXTURES, 'signed', 'helm-test-key.pub');


interface Hit {
  name: string;
  version: string;
  app_version: string;
  description: string;
}

const ok = (r: HelmRun, what: string): string => {
  assert.equal(r.code, 0, `helm ${what} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
};

for (const dialect of DIALECTS) {
  describe(`the real helm 3 and 4 against Wharf's classic Helm API (${dialect})`, () => {
    let t: TestApp;
    let base: string;
    let host: string;
    let projectId: number;
    let publicId: number;
    let pat: string;
    let deploy: { username: string; token: string };
    const webapp = buildChart('webapp', '1.0.0', { templates: { 'deployment.yaml': RENDER_PROBE_TEMPLATE } });
    const app200 = buildChart('app', '2.0.0');
    const app210rc = buildChart('app', '2.1.0-rc.1');
    const repoUrl = (channel = 'stable', id = projectId): string => `${base}/api/v4/projects/${id}/packages/helm/${channel}`;

    before(async () => {
      // Fetch both helms first: a failure to get them fails the suite, it never skips it.
      await Promise.all([helmBinary(3), helmBinary(4)]);
      const port = await freeLoopbackPort();
      t = await startApp(dialect, { env: { WHARF_EXTERNAL_URL: `http://127.0.0.1:${port}` } });
      const group = await createGroup(t, 'platform', { visibility: 'private' });
      projectId = (await createProject(t, 'charts', group.id, { visibility: 'private' })).id;
      publicId = (await createProject(t, 'open', undefined, { visibility: 'public' })).id;
      const dev = await createUser(t, 'dev');
      await addMember(t, 'projects', projectId, dev.id, 30);
      pat = await createPat(t, dev.id);
      const dt = await t.call('POST', `/api/v4/projects/${projectId}/deploy_tokens`, { token: ROOT_TOKEN, body: { name: 'ci-read', scopes: ['read_package_registry'] } });
      assert.equal(dt.status, 201, dt.text);
      deploy = { username: dt.body.username, token: dt.body.token };

      // Uploads as curl sends them (docs/helm.md): `--form chart=@… [--form prov=@…]`, and one raw body.
      const put = async (id: number, channel: string, parts: readonly FilePart[], secret = pat) => {
        const r = await upload(t, `/api/v4/projects/${id}/packages/helm/api/${channel}/charts`, basic('dev', secret), parts);
        assert.equal(r.status, 201, `${channel}: ${r.status} ${r.text}`);
      };
      for (const file of ['charts/sprocket-1.1.0.tgz', 'charts/sprocket-1.2.0.tgz', 'charts/frobnitz-1.2.3.tgz']) {
        await put(projectId, 'stable', [{ field: 'chart', filename: path.basename(file), content: fixture(file) }]);
      }
      for (const bytes of [webapp, app200, app210rc]) await put(projectId, 'stable', [{ field: 'chart', content: bytes }]);
      await put(projectId, 'stable', [
        { field: 'chart', filename: 'signtest-0.1.0.tgz', content: fixture('signed/signtest-0.1.0.tgz') },
        { field: 'prov', filename: 'signtest-0.1.0.tgz.prov', content: fixture('signed/signtest-0.1.0.tgz.prov') },
      ]);
      await put(publicId, 'stable', [{ field: 'chart', content: fixture('charts/zarthal-1.0.0.tgz') }], ROOT_TOKEN);
      // `curl --data-binary @chart.tgz` (ChartMuseum style): curl's default form content type, the archive as the body.
      const raw = await send(t, 'POST', `/api/v4/projects/${projectId}/packages/helm/api/raw/charts`, {
        headers: { authorization: basic('dev', pat), 'content-type': 'application/x-www-form-urlencoded' },
        payload: fixture('charts/examplechart-0.1.0.tgz'),
      });
      assert.equal(raw.status, 201, raw.text);

      base = await t.app.listen({ port, host: '127.0.0.1' });
      host = new URL(base).host;
    });
    after(() => t?.close());

    for (const major of [3, 4] as const) {
      describe(`helm ${major}`, () => {
        /** One helm home per major: the repositories added by the first case serve every later one. */
        let helm: HelmOciClient | undefined;
        const others: HelmOciClient[] = [];
        after(() => [helm, ...others].forEach((c) => c?.dispose()));
        const h = (): HelmOciClient => {
          assert.ok(helm, 'set up by the first case');
          return helm;
        };
        const search = async (args: readonly string[]): Promise<string[]> =>
          (JSON.parse(ok(await h().run(['search', 'repo', ...args, '-o', 'json']), `search repo ${args.join(' ')}`)) as Hit[]).map((x) => `${x.name} ${x.version}`);
        /** `helm pull <ref> [...args] -d <fresh dir>`: the one file written, by name and bytes. */
        const pull = async (ref: string, args: readonly string[] = []): Promise<{ files: string[]; bytes: (f: string) => Buffer; out: string }> => {
          const dest = mkdtempSync(path.join(h().home, 'pull-'));
          const out = ok(await h().run(['pull', ref, ...args, '-d', dest]), `pull ${ref} ${args.join(' ')}`);
          return { files: readdirSync(dest).sort(), bytes: (f) => readFileSync(path.join(dest, f)), out };
        };
        const cachedIndex = (repo: string): Record<string, any> =>
          YAML.parse(readFileSync(path.join(h().home, 'cache', 'repository', `${repo}-index.yaml`), 'utf8'), { version: '1.1' }) as Record<string, any>;

        it('repo add with a PAT (with and without a trailing slash), a deploy token, anonymously on a public project, an empty channel; repo update', async () => {
          helm = await helmOciClient(major, host);
          const add = async (name: string, url: string, creds?: [string, string]) => {
            const out = ok(await h().run(['repo', 'add', name, url, ...(creds ? ['--username', creds[0], '--password', creds[1]] : [])]), `repo add ${name}`);
            assert.match(out, new RegExp(`"${name}" has been added to your repositories`));
          };
          await add('wharf', repoUrl(), ['dev', pat]);
          await add('slash', `${repoUrl()}/`, ['dev', pat]);
          await add('deploy', repoUrl(), [deploy.username, deploy.token]);
          await add('open', repoUrl('stable', publicId));
          await add('empty', repoUrl('nothing-here'), ['dev', pat]);
          // The repo URL's query is kept on every request helm derives from it (index and chart URLs).
          await add('raw', `${repoUrl('raw')}?ref=ci`, ['dev', pat]);
          assert.match(ok(await h().run(['repo', 'update']), 'repo update'), /Update Complete/);

          const listed = JSON.parse(ok(await h().run(['repo', 'list', '-o', 'json']), 'repo list')) as Array<{ name: string; url: string }>;
          assert.deepEqual(listed.map((r) => r.name).sort(), ['deploy', 'empty', 'open', 'raw', 'slash', 'wharf']);

          // A channel nobody pushed to is an empty repository, not an error; its index tells cm-push where to upload.
          assert.deepEqual(await search(['empty/']), []);
          const empty = cachedIndex('empty');
          assert.deepEqual(empty.entries, {});
          assert.equal(empty.serverInfo?.contextPath, `/api/v4/projects/${projectId}/packages/helm`);
          const res = await fetch(`${repoUrl('nothing-here')}/index.yaml`, { headers: { authorization: basic('dev', pat) } });
          assert.equal(res.status, 200);
          assert.equal(res.headers.get('content-type'), 'text/yaml');
          assert.equal(res.headers.get('content-encoding'), null);
        });

        it('search repo: every version with -l, newest first; pre-releases only with --devel', async () => {
          assert.deepEqual(await search(['wharf/sprocket', '-l']), ['wharf/sprocket 1.2.0', 'wharf/sprocket 1.1.0']);
          assert.deepEqual(await search(['wharf/sprocket']), ['wharf/sprocket 1.2.0']);
          assert.deepEqual(await search(['wharf/app']), ['wharf/app 2.0.0']);
          assert.deepEqual(await search(['wharf/app', '--devel']), ['wharf/app 2.1.0-rc.1']);
          assert.deepEqual(await search(['wharf/app', '-l', '--devel']), ['wharf/app 2.1.0-rc.1', 'wharf/app 2.0.0']);
          // helm sorts what it prints; the index Wharf sent lists newest first too.
          assert.deepEqual((cachedIndex('wharf').entries.app as Array<{ version: string }>).map((e) => e.version), ['2.1.0-rc.1', '2.0.0']);
          // Every repository added sees the same charts, whichever credentials it holds.
          for (const repo of ['slash', 'deploy']) assert.deepEqual(await search([`${repo}/sprocket`, '-l']), [`${repo}/sprocket 1.2.0`, `${repo}/sprocket 1.1.0`]);
          assert.deepEqual(await search(['open/']), ['open/zarthal 1.0.0']);
          assert.deepEqual(await search(['raw/']), ['raw/examplechart 0.1.0']);
          const hit = (JSON.parse(ok(await h().run(['search', 'repo', 'wharf/frobnitz', '-o', 'json']), 'search')) as Hit[])[0]!;
          assert.equal(hit.version, '1.2.3');
          assert.equal(hit.description, 'This is a frobnitz.');
        });

        it('pull: newest stable by default, --version, --devel; the stored bytes through every repository added', async () => {
          const sprocket = fixture('charts/sprocket-1.2.0.tgz');
          for (const repo of ['wharf', 'slash', 'deploy']) {
            const p = await pull(`${repo}/sprocket`);
            assert.deepEqual(p.files, ['sprocket-1.2.0.tgz'], repo);
            assert.deepEqual(p.bytes('sprocket-1.2.0.tgz'), sprocket, `${repo}: the stored bytes, unchanged`);
          }
          const older = await pull('wharf/sprocket', ['--version', '1.1.0']);
          assert.deepEqual(older.bytes('sprocket-1.1.0.tgz'), fixture('charts/sprocket-1.1.0.tgz'));
          const frob = await pull('wharf/frobnitz', ['--version', '1.2.3']);
          const meta = await readChartYamlFromArchive(frob.bytes('frobnitz-1.2.3.tgz'));
          assert.equal(meta.name, 'frobnitz');
          assert.equal((meta.dependencies as unknown[]).length, 2);
          assert.deepEqual((await pull('wharf/app')).files, ['app-2.0.0.tgz'], 'newest stable without --version');
          const rc = await pull('wharf/app', ['--devel']);
          assert.deepEqual(rc.files, ['app-2.1.0-rc.1.tgz']);
          assert.deepEqual(rc.bytes('app-2.1.0-rc.1.tgz'), app210rc);
          assert.deepEqual((await pull('open/zarthal')).bytes('zarthal-1.0.0.tgz'), fixture('charts/zarthal-1.0.0.tgz'), 'anonymous, public project');
          assert.deepEqual((await pull('raw/examplechart')).bytes('examplechart-0.1.0.tgz'), fixture('charts/examplechart-0.1.0.tgz'), 'repo URL with a query');
        });

        it('pull --verify with the signing key\'s keyring: the provenance file Wharf stored verifies the chart', async () => {
          const p = await pull('wharf/signtest', ['--version', '0.1.0', '--verify', '--keyring', KEYRING]);
          assert.deepEqual(p.files, ['signtest-0.1.0.tgz', 'signtest-0.1.0.tgz.prov']);
          assert.deepEqual(p.bytes('signtest-0.1.0.tgz.prov'), fixture('signed/signtest-0.1.0.tgz.prov'));
          assert.match(p.out, /Signed by: Helm Testing/);
          assert.match(p.out, new RegExp(`Chart Hash Verified: sha256:${sha256(fixture('signed/signtest-0.1.0.tgz'))}`));
          // What helm does not show: the provenance file's headers.
          const res = await fetch(`${repoUrl()}/charts/signtest-0.1.0.tgz.prov`, { headers: { authorization: basic('dev', pat) } });
          assert.equal(res.status, 200);
          assert.equal(res.headers.get('content-type'), 'application/pgp-signature');
          assert.equal(Number(res.headers.get('content-length')), fixture('signed/signtest-0.1.0.tgz.prov').length);
          // A chart without a provenance file cannot be verified, and helm says so.
          const dest = mkdtempSync(path.join(h().home, 'unsigned-'));
          const unsigned = await h().run(['pull', 'wharf/sprocket', '--verify', '--keyring', KEYRING, '-d', dest]);
          assert.notEqual(unsigned.code, 0);
          assert.match(unsigned.stderr, /prov|404/i);
        });

        it('show chart equals the index entry helm cached (the Chart.yaml read back from the archive)', async () => {
          const shown = YAML.parse(ok(await h().run(['show', 'chart', 'wharf/frobnitz', '--version', '1.2.3']), 'show chart')) as Record<string, unknown>;
          const entry = (cachedIndex('wharf').entries.frobnitz as Array<Record<string, unknown>>)[0]!;
          for (const key of ['name', 'version', 'description', 'home', 'icon', 'keywords', 'maintainers', 'sources', 'annotations', 'dependencies']) {
            assert.deepEqual(entry[key], shown[key], key);
          }
          assert.deepEqual(await readChartYamlFromArchive(fixture('charts/frobnitz-1.2.3.tgz')), shown);
        });

        it('template a chart straight from the repository', async () => {
          const out = ok(await h().run(['template', 'rel', 'wharf/webapp', '--version', '1.0.0', '--set', 'replicas=2']), 'template');
          assert.match(out, /# Source: webapp\/templates\/deployment\.yaml/);
          const doc = YAML.parse(out.split(/^---$/m).find((d) => /kind: Deployment/.test(d))!) as Record<string, any>;
          assert.equal(doc.metadata.name, 'rel-webapp');
          assert.equal(doc.metadata.labels.chart, 'webapp-1.0.0');
          assert.equal(doc.spec.replicas, 2);
        });

        it('dependency update of a chart that depends on one in Wharf (the repository\'s credentials apply), then template', async () => {
          const parent = path.join(h().home, 'parent');
          mkdirSync(path.join(parent, 'templates'), { recursive: true });
          writeFileSync(
            path.join(parent, 'Chart.yaml'),
            `apiVersion: v2\nname: parent\nversion: 0.1.0\ndependencies:\n- name: webapp\n  version: "~1.0.0"\n  repository: ${repoUrl()}\n`,
          );
          writeFileSync(path.join(parent, 'values.yaml'), 'webapp:\n  replicas: 4\n');
          const out = ok(await h().run(['dependency', 'update', parent]), 'dependency update');
          assert.match(out, /Saving 1 charts/);
          assert.deepEqual(readdirSync(path.join(parent, 'charts')), ['webapp-1.0.0.tgz']);
          assert.deepEqual(readFileSync(path.join(parent, 'charts', 'webapp-1.0.0.tgz')), webapp);
          const lock = YAML.parse(readFileSync(path.join(parent, 'Chart.lock'), 'utf8')) as { dependencies: Array<Record<string, string>> };
          assert.deepEqual(lock.dependencies, [{ name: 'webapp', repository: repoUrl(), version: '1.0.0' }]);
          const rendered = ok(await h().run(['template', 'p', parent]), 'template parent');
          const doc = YAML.parse(rendered.split(/^---$/m).find((d) => /kind: Deployment/.test(d))!) as Record<string, any>;
          assert.equal(doc.metadata.name, 'p-webapp');
          assert.equal(doc.spec.replicas, 4, 'the parent\'s values reach the subchart');
        });

        it('a private project refuses repo add without credentials or with a wrong token: helm names the 401', async () => {
          const stranger = await helmOciClient(major, host);
          others.push(stranger);
          for (const creds of [[], ['dev', 'glpat-not-a-real-token-000000']]) {
            const r = await stranger.run(['repo', 'add', 'private', repoUrl(), ...(creds.length ? ['--username', creds[0]!, '--password', creds[1]!] : [])]);
            assert.notEqual(r.code, 0, `repo add ${creds.length ? 'with a wrong token' : 'anonymously'} must fail`);
            const index = `${repoUrl()}/index.yaml`.replace(/[.?]/g, '\\$&');
            assert.match(r.stderr, new RegExp(`looks like "${repoUrl().replace(/[.?]/g, '\\$&')}" is not a valid chart repository or cannot be reached: failed to fetch ${index} : 401 Unauthorized`));
          }
          // helm 3 fails `repo list` with "no repositories to show"; helm 4 says the same and exits 0.
          const listed = await stranger.run(['repo', 'list']);
          assert.match(listed.stdout + listed.stderr, /no repositories to show/, 'nothing was added');
        });
      });
    }
  });
}
