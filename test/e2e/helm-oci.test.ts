/**
 * The real helm 3.17 and 4.1 and skopeo against an OCI registry on loopback, written once and run per target: the
 * CNCF reference registry (Debian's docker-registry, with Basic auth), which proves the harness, then Wharf on every
 * test database (SQLite, and PostgreSQL when WHARF_TEST_DATABASE_URL is set), its blobs on S3 when
 * WHARF_TEST_BLOB_STORE=s3. Wharf serves `/v2/`: nothing here skips for want of it.
 *
 * Per helm major, one logged-in client does: `registry login`, `push` (a templated chart, a committed fixture, a
 * `1.0.0+build.5` one), `show chart`, `pull --version` with the exact pushed bytes, `template` rendering. On Wharf
 * also the one store (docs/design/helm-oci.md#one-store): a chart uploaded the classic way pulled over OCI (same
 * bytes, one manifest digest however often it is pulled; `--verify` through its provenance layer), and a chart
 * pushed over OCI found by `helm search repo` in the project's classic `stable` channel and pulled from it; and
 * access: anonymous pull of a public project, refusals of an anonymous pull of a private one and of a Reporter's
 * push. skopeo: copies a pushed chart to another registry and back with the manifest digest unchanged.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS, type TestDialect } from '../helpers/databases.js';
import { basic, buildChart, fixture, FIXTURES, upload, type FilePart, type RawResult, RENDER_PROBE_TEMPLATE } from '../helpers/helm.js';
import { helmOciClient, type HelmOciClient } from '../helpers/helm-oci.js';
import { addMember, createGroup, createProject, userWithToken } from '../helpers/management.js';
import { dockerRegistryMissing, freeLoopbackPort, startOciRegistry, type OciRegistry } from '../helpers/oci-registry.js';
import { skopeoCopy, skopeoInspectRaw, skopeoMissing, type Creds } from '../helpers/skopeo.js';
import { digestOf, MEDIA } from '../conformance/oci/client.js';

interface Target {
  /** `host:port` */
  host: string;
  /** Namespace (project path) charts are pushed under. */
  namespace: string;
  /** A second namespace (another project on Wharf): where skopeo copies a chart back to, same name and tag. */
  mirrorNamespace: string;
  creds: Creds;
  /** What only Wharf has: projects with an access model, and the classic Helm API on the same store. */
  wharf?: {
    /** A public project's path, where `creds` may push. */
    publicNamespace: string;
    /** A Reporter of `namespace`: may pull, may not push. */
    reporter: Creds;
    /** `namespace`'s classic `stable` channel, as `helm repo add` takes it. */
    classicRepoUrl: string;
    /** A classic upload (`curl --form chart=@… [--form prov=@…]`) into `namespace`'s `stable` channel. */
    classicUpload(parts: readonly FilePart[]): Promise<RawResult>;
  };
}

const NOT_A_WHARF = 'docker-registry has one htpasswd user, no projects and no classic Helm API: this case is Wharf\'s';

interface TargetFactory {
  name: string;
  skip?: string;
  start(): Promise<{ target: Target; stop(): Promise<void> }>;
}

const REF_CREDS: Creds = { username: 'helm-oci', password: 'helm-oci-password-1' };
const BLOB_STORE = process.env.WHARF_TEST_BLOB_STORE === 's3' ? 's3' : 'fs';
const KEYRING = path.join(FIXTURES, 'signed', 'helm-test-key.pub');


function wharfTarget(dialect: TestDialect): TargetFactory {
  return {
    name: `Wharf (${dialect}, blobs on ${BLOB_STORE})`,
    skip: skopeoMissing(),
    async start() {
      // The external URL is the real listening address: Wharf writes it into Location and WWW-Authenticate.
      const port = await freeLoopbackPort();
      const t: TestApp = await startApp(dialect, { env: { WHARF_EXTERNAL_URL: `http://127.0.0.1:${port}` } });
      try {
        assert.notEqual((await t.call('GET', '/v2/')).status, 404, 'Wharf serves the OCI API at /v2/');
        // A public group, so that its public project really is public (a project is never more visible than its
        // group); `web` and `mirror` stay private.
        const group = await createGroup(t, 'acme', { visibility: 'public' });
        const project = await createProject(t, 'web', group.id, { visibility: 'private' });
        const mirror = await createProject(t, 'mirror', group.id, { visibility: 'private' });
        const open = await createProject(t, 'open', group.id, { visibility: 'public' });
        const { user, token } = await userWithToken(t, 'helm-oci');
        for (const p of [project, mirror, open]) await addMember(t, 'projects', p.id, user.id, 40);
        const reporter = await userWithToken(t, 'helm-oci-reporter');
        await addMember(t, 'projects', project.id, reporter.user.id, 20);
        const address = await t.app.listen({ port, host: '127.0.0.1' });
        return {
          target: {
            host: new URL(address).host,
            namespace: 'acme/web',
            mirrorNamespace: 'acme/mirror',
            creds: { username: 'helm-oci', password: token },
            wharf: {
              publicNamespace: 'acme/open',
              reporter: { username: 'helm-oci-reporter', password: reporter.token },
              classicRepoUrl: `${address}/api/v4/projects/${project.id}/packages/helm/stable`,
              classicUpload: (parts) => upload(t, `/api/v4/projects/${project.id}/packages/helm/api/stable/charts`, basic('helm-oci', token), parts),
            },
          },
          stop: () => t.close(),
        };
      } catch (err) {
        await t.close();
        throw err;
      }
    },
  };
}

const TARGETS: TargetFactory[] = [
  {
    name: 'reference registry (docker-registry)',
    skip: dockerRegistryMissing() ?? skopeoMissing(),
    async start() {
      const r: OciRegistry = await startOciRegistry({ credentials: REF_CREDS });
      return { target: { host: r.host, namespace: 'acme/platform/web', mirrorNamespace: 'acme/mirror', creds: REF_CREDS }, stop: () => r.stop() };
    },
  },
  ...DIALECTS.map(wharfTarget),
];

const digestIn = (out: string): string | undefined => /Digest: (sha256:[0-9a-f]{64})/.exec(out)?.[1];

for (const factory of TARGETS) {
  describe(`helm and skopeo over OCI: ${factory.name}`, { skip: factory.skip }, () => {
    let target: Target | undefined;
    let stop: (() => Promise<void>) | undefined;
    const work = mkdtempSync(path.join(os.tmpdir(), 'wharf-helm-oci-'));
    const tgt = (): Target => {
      assert.ok(target, 'the target did not start (see the before hook\'s failure)');
      return target;
    };
    const writeChart = (name: string, version: string, bytes: Buffer, tag = ''): string => {
      const file = path.join(work, `${name}-${version}${tag}.tgz`);
      writeFileSync(file, bytes);
      return file;
    };

    before(async () => {
      ({ target, stop } = await factory.start());
    });
    after(async () => {
      await stop?.();
      rmSync(work, { recursive: true, force: true });
    });

    for (const major of [3, 4] as const) {
      describe(`helm ${major}`, () => {
        /** The one logged-in client of this major (as `creds`), used by every case below that is not about access. */
        let helm: HelmOciClient | undefined;
        const others: HelmOciClient[] = [];
        after(() => [helm, ...others].forEach((c) => c?.dispose()));
        const loggedIn = (): HelmOciClient => {
          assert.ok(helm, 'logged in by the first case');
          return helm;
        };
        const client = async (): Promise<HelmOciClient> => {
          const c = await helmOciClient(major, tgt().host);
          others.push(c);
          return c;
        };
        // A chart per major version so the two runs do not overwrite each other's tag.
        const name = `ocichart${major}`;
        const version = '0.1.0';
        const pushedBytes = buildChart(name, version, { templates: { 'deployment.yaml': RENDER_PROBE_TEMPLATE } });

        it('registry login, push, show chart, pull --version: the same bytes back', async () => {
          const t = tgt();
          helm = await helmOciClient(major, t.host);
          const login = await helm.login(t.creds.username, t.creds.password);
          assert.equal(login.code, 0, login.stderr);
          assert.match(login.stdout + login.stderr, /Login Succeeded/);

          const push = await helm.push(writeChart(name, version, pushedBytes), t.namespace);
          assert.equal(push.code, 0, push.stderr);
          const pushed = digestIn(push.stdout + push.stderr);
          assert.ok(pushed, `helm push names the manifest digest:\n${push.stdout}${push.stderr}`);

          const show = await helm.showChart(`${t.namespace}/${name}`, version);
          assert.equal(show.code, 0, show.stderr);
          const meta = YAML.parse(show.stdout) as Record<string, unknown>;
          assert.equal(meta.name, name);
          assert.equal(meta.version, version);
          assert.equal(meta.apiVersion, 'v2');

          const pull = await helm.pull(`${t.namespace}/${name}`, version);
          assert.equal(pull.code, 0, pull.stderr);
          assert.deepEqual(pull.archive, pushedBytes, 'helm pull returns the pushed archive byte for byte');
          assert.equal(digestIn(pull.stdout + pull.stderr), pushed);
        });

        it('template oci://… --version renders the pulled chart with the release name and values', async () => {
          const t = tgt();
          const r = await loggedIn().template('rel', `${t.namespace}/${name}`, version, ['--set', 'replicas=3']);
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stdout, new RegExp(`# Source: ${name}/templates/deployment\\.yaml`));
          const doc = YAML.parse(r.stdout.split(/^---$/m).find((d) => /kind: Deployment/.test(d))!) as Record<string, any>;
          assert.equal(doc.metadata.name, `rel-${name}`);
          assert.equal(doc.metadata.labels.chart, `${name}-${version}`);
          assert.equal(doc.spec.replicas, 3);
        });

        it('a committed fixture chart and a `1.0.0+build.5` version round-trip (tag 1.0.0_build.5)', async () => {
          const t = tgt();
          const h = loggedIn();
          const push = await h.push(path.join(FIXTURES, 'charts', 'examplechart-0.1.0.tgz'), t.namespace);
          assert.equal(push.code, 0, push.stderr);
          const pulled = await h.pull(`${t.namespace}/examplechart`, '0.1.0');
          assert.equal(pulled.code, 0, pulled.stderr);
          assert.deepEqual(pulled.archive, fixture('charts/examplechart-0.1.0.tgz'));

          const meta = `buildmeta${major}`;
          const v = '1.0.0+build.5';
          const bytes = buildChart(meta, v);
          const p = await h.push(writeChart(meta, v, bytes), t.namespace);
          assert.equal(p.code, 0, p.stderr);
          assert.match(p.stdout + p.stderr, new RegExp(`${meta}:1\\.0\\.0_build\\.5`), 'helm pushes the tag with `_`');
          const back = await h.pull(`${t.namespace}/${meta}`, v);
          assert.equal(back.code, 0, back.stderr);
          assert.deepEqual(back.archive, bytes);
        });

        it('a chart uploaded the classic way is pulled over OCI: the same bytes, one manifest digest on every pull', async (ctx) => {
          const t = tgt();
          if (!t.wharf) return ctx.skip(NOT_A_WHARF);
          const classic = `classic${major}`;
          const bytes = buildChart(classic, '0.3.0');
          const up = await t.wharf.classicUpload([{ field: 'chart', filename: `${classic}-0.3.0.tgz`, content: bytes }]);
          assert.equal(up.status, 201, up.text);
          const first = await loggedIn().pull(`${t.namespace}/${classic}`, '0.3.0');
          assert.equal(first.code, 0, first.stderr);
          assert.deepEqual(first.archive, bytes, 'the uploaded archive byte for byte');
          const digest = digestIn(first.stdout + first.stderr);
          assert.ok(digest, first.stdout + first.stderr);
          const second = await loggedIn().pull(`${t.namespace}/${classic}`, '0.3.0');
          assert.equal(second.code, 0, second.stderr);
          assert.equal(digestIn(second.stdout + second.stderr), digest, 'the manifest of a classic upload is deterministic');
        });

        it('a signed chart uploaded the classic way with its .prov: pull oci:// --verify checks it through the provenance layer', async (ctx) => {
          const t = tgt();
          if (!t.wharf) return ctx.skip(NOT_A_WHARF);
          const chart = fixture('signed/signtest-0.1.0.tgz');
          const prov = fixture('signed/signtest-0.1.0.tgz.prov');
          // The same bytes each major: the second upload replaces the first with itself (overwrite policy `allow`).
          const up = await t.wharf.classicUpload([
            { field: 'chart', filename: 'signtest-0.1.0.tgz', content: chart },
            { field: 'prov', filename: 'signtest-0.1.0.tgz.prov', content: prov },
          ]);
          assert.equal(up.status, 201, up.text);
          const r = await loggedIn().pull(`${t.namespace}/signtest`, '0.1.0', ['--verify', '--keyring', KEYRING]);
          assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
          assert.deepEqual(r.archive, chart);
          assert.match(r.stdout + r.stderr, /Signed by: Helm Testing/);
        });

        it('`helm search repo` of the project\'s classic `stable` channel finds the chart pushed over OCI; pulling it there gives the same bytes', async (ctx) => {
          const t = tgt();
          if (!t.wharf) return ctx.skip(NOT_A_WHARF);
          const h = loggedIn();
          const add = await h.run(['repo', 'add', 'wharf', t.wharf.classicRepoUrl, '--username', t.creds.username, '--password', t.creds.password]);
          assert.equal(add.code, 0, add.stderr);
          const search = await h.run(['search', 'repo', `wharf/${name}`, '-l', '-o', 'json']);
          assert.equal(search.code, 0, search.stderr);
          const hits = JSON.parse(search.stdout) as Array<{ name: string; version: string; description: string }>;
          assert.deepEqual(hits.map((x) => `${x.name} ${x.version}`), [`wharf/${name} ${version}`]);
          assert.equal(hits[0]!.description, 'A chart built by the tests');
          const dest = mkdtempSync(path.join(h.home, 'classic-pull-'));
          const pull = await h.run(['pull', `wharf/${name}`, '--version', version, '-d', dest]);
          assert.equal(pull.code, 0, pull.stderr);
          assert.deepEqual(readFileSync(path.join(dest, `${name}-${version}.tgz`)), pushedBytes);
        });

        it('anonymous pull of a public project\'s chart succeeds', async (ctx) => {
          const t = tgt();
          if (!t.wharf) return ctx.skip(NOT_A_WHARF);
          const open = `openchart${major}`;
          const bytes = buildChart(open, '0.2.0');
          const pushed = await loggedIn().push(writeChart(open, '0.2.0', bytes), t.wharf.publicNamespace);
          assert.equal(pushed.code, 0, pushed.stderr);
          const pulled = await (await client()).pull(`${t.wharf.publicNamespace}/${open}`, '0.2.0');
          assert.equal(pulled.code, 0, pulled.stderr);
          assert.deepEqual(pulled.archive, bytes);
        });

        it('anonymous pull of a private project\'s chart is refused', async () => {
          // On docker-registry, where everything needs credentials, this proves what helm prints on a 401: helm 3
          // (containerd's resolver) "pull access denied, … may require authorization", helm 4 (oras-go) "… 401" or
          // "credential not found".
          const pulled = await (await client()).pull(`${tgt().namespace}/${name}`, version);
          assert.notEqual(pulled.code, 0, 'helm pull must fail');
          assert.match(pulled.stderr, /401|unauthorized|authentication required|credential not found|may require authorization/i);
          assert.equal(pulled.archive, undefined);
        });

        it('a Reporter may pull but not push', async (ctx) => {
          const t = tgt();
          if (!t.wharf) return ctx.skip(NOT_A_WHARF);
          const reporter = await client();
          const login = await reporter.login(t.wharf.reporter.username, t.wharf.reporter.password);
          assert.equal(login.code, 0, login.stderr);
          const pulled = await reporter.pull(`${t.namespace}/${name}`, version);
          assert.equal(pulled.code, 0, pulled.stderr);
          assert.deepEqual(pulled.archive, pushedBytes);
          const refused = `reporterchart${major}`;
          const pushed = await reporter.push(writeChart(refused, '0.1.0', buildChart(refused, '0.1.0')), t.namespace);
          assert.notEqual(pushed.code, 0, 'helm push must fail');
          assert.match(pushed.stderr, /403|denied|forbidden/i);
        });
      });
    }

    it('skopeo copies a pushed chart to a second docker-registry and back into another project, digest unchanged', async () => {
      const t = tgt();
      // Pushed by helm 3's first case; skopeo does not care which helm wrote it.
      const src = `${t.host}/${t.namespace}/ocichart3:0.1.0`;
      const raw = await skopeoInspectRaw(src, { creds: t.creds });
      assert.equal(raw.code, 0, raw.stderr);
      const manifest = JSON.parse(raw.stdout);
      assert.equal(manifest.config.mediaType, MEDIA.helmConfig);
      assert.equal(manifest.layers[0].mediaType, MEDIA.helmChart);
      const digest = digestOf(raw.stdout);

      // The other side is always the reference registry (anonymous), so a Wharf target proves interop both ways.
      const other = await startOciRegistry();
      try {
        const there = `${other.host}/elsewhere/ocichart3:0.1.0`;
        const out = await skopeoCopy(src, there, { srcCreds: t.creds });
        assert.equal(out.code, 0, out.stderr);
        assert.equal(digestOf((await skopeoInspectRaw(there)).stdout), digest, 'same manifest digest in the other registry');

        const back = `${t.host}/${t.mirrorNamespace}/ocichart3:0.1.0`;
        const again = await skopeoCopy(there, back, { destCreds: t.creds });
        assert.equal(again.code, 0, again.stderr);
        const backRaw = await skopeoInspectRaw(back, { creds: t.creds });
        assert.equal(backRaw.code, 0, backRaw.stderr);
        assert.equal(digestOf(backRaw.stdout), digest, 'same manifest digest after the round trip');
      } finally {
        await other.stop();
      }
    });
  });
}
