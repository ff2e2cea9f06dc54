/**
 * The real helm 3.17 and 4.1 and skopeo against an OCI registry on loopback, written once and run per target:
 * today the CNCF reference registry (Debian's docker-registry, with Basic auth), which proves the harness; Wharf's
 * target is the same cases, skipped with a message while Wharf has no `/v2/`.
 *
 * helm: `registry login`, `push` (a fixture chart and a `1.0.0+build.5` one), `show chart`, `pull --version` with
 * the exact pushed bytes. skopeo: copies the pushed chart to another repository and back with the manifest digest
 * unchanged, `inspect --raw` shows the Helm media types.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { startApp, type TestApp } from '../helpers/app.js';
import { buildChart, fixture, FIXTURES } from '../helpers/helm.js';
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
  /** Wharf's access model (the reference registry has one htpasswd user and no projects). */
  access?: {
    /** A public project's path, where `creds` may push. */
    publicNamespace: string;
    /** A Reporter of `namespace`: may pull, may not push. */
    reporter: Creds;
  };
}

const NO_ACCESS_MODEL = 'docker-registry has one htpasswd user and no projects: the access cases are Wharf\'s';

interface TargetFactory {
  name: string;
  skip?: string;
  start(): Promise<{ target: Target; stop(): Promise<void> } | { unavailable: string }>;
}

const REF_CREDS: Creds = { username: 'helm-oci', password: 'helm-oci-password-1' };

const TARGETS: TargetFactory[] = [
  {
    name: 'reference registry (docker-registry)',
    skip: dockerRegistryMissing() ?? skopeoMissing(),
    async start() {
      const r: OciRegistry = await startOciRegistry({ credentials: REF_CREDS });
      return { target: { host: r.host, namespace: 'acme/platform/web', mirrorNamespace: 'acme/mirror', creds: REF_CREDS }, stop: () => r.stop() };
    },
  },
  {
    name: 'Wharf (sqlite)',
    skip: skopeoMissing(),
    async start() {
      // The external URL is the real listening address: Wharf writes it into Location and WWW-Authenticate.
      const port = await freeLoopbackPort();
      const t: TestApp = await startApp('sqlite', { env: { WHARF_EXTERNAL_URL: `http://127.0.0.1:${port}` } });
      if ((await t.call('GET', '/v2/')).status === 404) {
        await t.close();
        return { unavailable: 'Wharf has no OCI API at /v2/ yet (issue 15, branch i15-oci-core)' };
      }
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
      return { target: {
          host: new URL(address).host,
          namespace: 'acme/web',
          mirrorNamespace: 'acme/mirror',
          creds: { username: 'helm-oci', password: token },
          access: { publicNamespace: 'acme/open', reporter: { username: 'helm-oci-reporter', password: reporter.token } },
        }, stop: () => t.close() };
    },
  },
];

for (const factory of TARGETS) {
  describe(`helm and skopeo over OCI: ${factory.name}`, { skip: factory.skip }, () => {
    let target: Target | undefined;
    let unavailable: string | undefined;
    let stop: (() => Promise<void>) | undefined;
    const work = mkdtempSync(path.join(os.tmpdir(), 'wharf-helm-oci-'));
    const skipIfDown = (ctx: { skip(m: string): void }): boolean => {
      if (unavailable) ctx.skip(unavailable);
      return unavailable !== undefined;
    };

    before(async () => {
      const s = await factory.start();
      if ('unavailable' in s) unavailable = s.unavailable;
      else ({ target, stop } = s);
    });
    after(async () => {
      await stop?.();
      rmSync(work, { recursive: true, force: true });
    });

    for (const major of [3, 4] as const) {
      describe(`helm ${major}`, () => {
        let helm: HelmOciClient | undefined;
        after(() => helm?.dispose());

        it('registry login, push, show chart, pull --version: the same bytes back', async (ctx) => {
          if (skipIfDown(ctx)) return;
          const t = target!;
          helm = await helmOciClient(major, t.host);
          const login = await helm.login(t.creds.username, t.creds.password);
          assert.equal(login.code, 0, login.stderr);
          assert.match(login.stdout + login.stderr, /Login Succeeded/);

          // A chart per major version so the two runs do not overwrite each other's tag.
          const name = `ocichart${major}`;
          const version = '0.1.0';
          const tgz = path.join(work, `${name}-${version}.tgz`);
          const bytes = buildChart(name, version);
          writeFileSync(tgz, bytes);
          const push = await helm.push(tgz, t.namespace);
          assert.equal(push.code, 0, push.stderr);
          const pushed = /Digest: (sha256:[0-9a-f]{64})/.exec(push.stdout + push.stderr)?.[1];
          assert.ok(pushed, `helm push names the manifest digest:\n${push.stdout}${push.stderr}`);

          const show = await helm.showChart(`${t.namespace}/${name}`, version);
          assert.equal(show.code, 0, show.stderr);
          const meta = YAML.parse(show.stdout) as Record<string, unknown>;
          assert.equal(meta.name, name);
          assert.equal(meta.version, version);

          const pull = await helm.pull(`${t.namespace}/${name}`, version);
          assert.equal(pull.code, 0, pull.stderr);
          assert.deepEqual(pull.archive, bytes, 'helm pull returns the pushed archive byte for byte');
          assert.match(pull.stdout + pull.stderr, new RegExp(`Digest: ${pushed}`));
        });

        it('a committed fixture chart and a `1.0.0+build.5` version round-trip (tag 1.0.0_build.5)', async (ctx) => {
          if (skipIfDown(ctx)) return;
          const t = target!;
          assert.ok(helm, 'logged in by the case above');
          const fixtureTgz = path.join(FIXTURES, 'charts', 'examplechart-0.1.0.tgz');
          const push = await helm.push(fixtureTgz, t.namespace);
          assert.equal(push.code, 0, push.stderr);
          const pulled = await helm.pull(`${t.namespace}/examplechart`, '0.1.0');
          assert.equal(pulled.code, 0, pulled.stderr);
          assert.deepEqual(pulled.archive, fixture('charts/examplechart-0.1.0.tgz'));

          const name = `buildmeta${major}`;
          const version = '1.0.0+build.5';
          const bytes = buildChart(name, version);
          const tgz = path.join(work, `${name}-${version}.tgz`);
          writeFileSync(tgz, bytes);
          const p = await helm.push(tgz, t.namespace);
          assert.equal(p.code, 0, p.stderr);
          assert.match(p.stdout + p.stderr, new RegExp(`${name}:1\\.0\\.0_build\\.5`), 'helm pushes the tag with `_`');
          const back = await helm.pull(`${t.namespace}/${name}`, version);
          assert.equal(back.code, 0, back.stderr);
          assert.deepEqual(back.archive, bytes);
        });
      });
    }

    describe('access (helm 4)', () => {
      const clients: HelmOciClient[] = [];
      after(() => clients.forEach((c) => c.dispose()));
      const client = async (): Promise<HelmOciClient> => {
        const c = await helmOciClient(4, target!.host);
        clients.push(c);
        return c;
      };
      const pushAs = async (c: HelmOciClient, namespace: string, name: string, version: string) => {
        const tgz = path.join(work, `${name}-${version}-${clients.length}.tgz`);
        // helm reads name and version from Chart.yaml, not from the file name.
        writeFileSync(tgz, buildChart(name, version));
        return c.push(tgz, namespace);
      };

      it('anonymous pull of a public project\'s chart succeeds', async (ctx) => {
        if (skipIfDown(ctx)) return;
        if (!target!.access) return ctx.skip(NO_ACCESS_MODEL);
        const maintainer = await client();
        assert.equal((await maintainer.login(target!.creds.username, target!.creds.password)).code, 0);
        const pushed = await pushAs(maintainer, target!.access.publicNamespace, 'openchart', '0.2.0');
        assert.equal(pushed.code, 0, pushed.stderr);
        const anonymous = await client();
        const pulled = await anonymous.pull(`${target!.access.publicNamespace}/openchart`, '0.2.0');
        assert.equal(pulled.code, 0, pulled.stderr);
        assert.ok(pulled.archive && pulled.archive.length > 0);
      });

      it('anonymous pull of a private project\'s chart is refused', async (ctx) => {
        if (skipIfDown(ctx)) return;
        // ocichart4:0.1.0 was pushed by the helm 4 case above into the private project (on docker-registry, where
        // everything needs credentials, this proves what helm prints on a 401).
        const pulled = await (await client()).pull(`${target!.namespace}/ocichart4`, '0.1.0');
        assert.notEqual(pulled.code, 0, 'helm pull must fail');
        assert.match(pulled.stderr, /401|unauthorized|authentication required|credential not found/i);
      });

      it('a Reporter may pull but not push', async (ctx) => {
        if (skipIfDown(ctx)) return;
        if (!target!.access) return ctx.skip(NO_ACCESS_MODEL);
        const reporter = await client();
        const login = await reporter.login(target!.access.reporter.username, target!.access.reporter.password);
        assert.equal(login.code, 0, login.stderr);
        const pulled = await reporter.pull(`${target!.namespace}/ocichart4`, '0.1.0');
        assert.equal(pulled.code, 0, pulled.stderr);
        const pushed = await pushAs(reporter, target!.namespace, 'reporterchart', '0.1.0');
        assert.notEqual(pushed.code, 0, 'helm push must fail');
        assert.match(pushed.stderr, /403|denied|forbidden/i);
      });
    });

    it('skopeo copies a pushed chart to a second docker-registry and back into another project, digest unchanged', async (ctx) => {
      if (skipIfDown(ctx)) return;
      const t = target!;
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
