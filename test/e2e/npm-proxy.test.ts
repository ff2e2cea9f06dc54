/**
 * The caching npm proxy with the real npm, pnpm 10, yarn 1 and yarn 4, against a loopback upstream started here
 * (`test/helpers/fake-upstream.ts`, never the internet), through Wharf's instance endpoint
 * (`<base>/api/v4/packages/npm/`, docs/npm-proxy.md):
 *
 * - the upstream alone serves a tree npm installs (the fixture is a real registry as far as npm can tell);
 * - redirect mode (GitLab's 302): an install works as today and `npm audit` goes through Wharf, which sends the
 *   upstream no local name;
 * - proxy mode, per client: a fresh install of the 16-package tree (scoped and unscoped, three levels) succeeds;
 *   with the upstream stopped and every client cache emptied it succeeds again, from Wharf alone; the lockfile
 *   names only Wharf; a tampered tarball fails the install and is not cached (the next install, untampered,
 *   fetches it from the upstream again); a local package and a name in a local scope are never asked upstream.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN } from '../helpers/app.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { published } from '../helpers/npm.js';
import { cleanEnv, nerfDart, ok, requireIn, run, startRegistry, type Registry, type Run } from '../helpers/npm-e2e.js';

const require = createRequire(import.meta.url);
const PNPM = path.join(path.dirname(require.resolve('pnpm')), 'bin/pnpm.cjs');
const YARN1 = require.resolve('yarn/bin/yarn.js');
const YARN4 = require.resolve('@yarnpkg/cli-dist/bin/yarn.js');

/** The local package (in the private group `acme`), and the upstream's bait under the same name and scope. */
const LOCAL = '@acme/widget';
const LOCAL_SCOPE_ONLY = '@acme/ghost';
const BAIT = [
  { name: LOCAL, versions: [{ version: '1.0.0' }, { version: '6.6.6' }] },
  { name: LOCAL_SCOPE_ONLY, versions: [{ version: '1.0.0' }] },
];

/**
 * The error a client reports for bytes that do not match the integrity, or for the refusal or aborted download
 * Wharf sends: a small tarball is refused with a 502 whose `error` names the integrity failure (npm and pnpm print
 * it; yarn 4 prints only the status, `Response Code: 502 (Bad Gateway)`); a large one is cut short.
 */
const INTEGRITY_OR_ABORT = /EINTEGRITY|integrity|checksum|ECONNRESET|aborted|socket hang up|premature close|terminated|Request failed|ERR_PNPM_FETCH|tarball|Z_BUF_ERROR|unexpected end|Response Code: 502 \(Bad Gateway\)/i;

/** Every URL in a lockfile (raw, or percent-encoded as yarn 4 writes `__archiveUrl`). */
const urlsIn = (text: string): string[] => {
  const decoded = text.replace(/%3A/gi, ':').replace(/%2F/gi, '/');
  return [...decoded.matchAll(/https?:\/\/[^\s"',#)]+/g)].map((m) => m[0]);
};

interface Client {
  name: 'npm' | 'pnpm' | 'yarn1' | 'yarn4';
  lockfile: string;
  /** Writes the client's configuration for the instance endpoint into `dir`; `cache` is a directory of its own. */
  configure(dir: string, cache: string): void;
  install(dir: string, cache: string): Promise<Run>;
  /** A package the tamper test installs: in no tree resolution, so Wharf has not fetched its tarball yet. */
  tamperTarget: { name: string; version: string };
}

describe('the caching npm proxy with real clients, through the instance endpoint', () => {
  let up: FakeUpstream;
  let r: Registry;
  let npmrc: string;

  const settings = async (body: Record<string, unknown>) => {
    const res = await r.t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body });
    assert.equal(res.status, 200, res.text);
  };
  const consumerWith = (dir: string, deps: Record<string, string>) => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'proxy-consumer', version: '1.0.0', private: true, dependencies: deps }, null, 2));
    return dir;
  };
  const treeDeps = () => ({ ...up.rootDependencies, [LOCAL]: '1.0.0' });
  /** A yarn 4 project on the instance endpoint, with its cache in `cache`. */
  const yarn4Project = (dir: string, cache: string) => {
    writeFileSync(
      path.join(dir, '.yarnrc.yml'),
      [
        `npmRegistryServer: "${r.urls.instance}"`,
        `npmAuthToken: "${r.token}"`,
        'npmAlwaysAuth: true',
        // The local package was published a moment ago; the tree's versions are from 2024 and would pass.
        'npmMinimalAgeGate: 0',
        'httpRetry: 0',
        'unsafeHttpWhitelist:',
        '  - "127.0.0.1"',
        'enableTelemetry: false',
        'enableGlobalCache: false',
        `cacheFolder: "${cache}"`,
        'nodeLinker: node-modules',
        '',
      ].join('\n'),
    );
    writeFileSync(path.join(dir, 'yarn.lock'), '');
  };
  const yarn4 = (dir: string, args: string[]) =>
    run(process.execPath, [YARN4, ...args], dir, cleanEnv(r.work, { YARN_ENABLE_TELEMETRY: '0', YARN_ENABLE_IMMUTABLE_INSTALLS: 'false' }), 180_000);
  /** pnpm with its store and caches under `cache`. */
  const pnpmIn = (dir: string, cache: string, args: string[]) =>
    run(
      process.execPath,
      [PNPM, ...args],
      dir,
      cleanEnv(r.work, { npm_config_store_dir: path.join(cache, 'store'), npm_config_cache_dir: path.join(cache, 'cache'), npm_config_update_notifier: 'false' }),
      180_000,
    );
  const npm = (args: string[], dir: string, cache: string) =>
    run('npm', [...args, '--userconfig', path.join(r.work, 'empty-npmrc'), '--cache', cache, '--no-fund', '--update-notifier=false'], dir, cleanEnv(r.work));

  before(async () => {
    up = await startFakeUpstream({ extra: BAIT });
    r = await startRegistry('wharf-proxy-e2e-');
    writeFileSync(path.join(r.work, 'empty-npmrc'), '');
    // Its index.js is `module.exports = 42;`: the bait would answer something else.
    await published(r.t, r.projectId, LOCAL, '1.0.0');
    // The registry open to anyone, so that yarn 1 can fetch the local tarball from the project endpoint: it never
    // sends a token there while its registry is the instance endpoint on a host with a port (it splits
    // `//host:port/path:_authToken` on ':'). Local-first is about names; the audit tests cover private ones.
    const open = await r.t.call('PUT', `/api/v4/projects/${r.projectId}`, { token: ROOT_TOKEN, body: { package_registry_access_level: 'public' } });
    assert.equal(open.status, 200, open.text);
    await settings({ npm_package_requests_forwarding: true, npm_package_requests_forwarding_url: up.url });
    // Everything from the instance endpoint; `acme` is private, so its tarballs (project endpoint) need the token too.
    npmrc = [
      `registry=${r.urls.instance}`,
      // Yarn 1 sends a token with a tarball request only for a scoped package or a configured scope's registry.
      `@acme:registry=${r.urls.instance}`,
      `${nerfDart(r.urls.instance)}:_authToken=${r.token}`,
      `${nerfDart(r.base)}/api/v4/projects/:_authToken=${r.token}`,
      // An aborted download is retried with back-off by default; once is enough to see it fail.
      'fetch-retries=0',
      '',
    ].join('\n');
  });
  after(async () => {
    await r?.close();
    await up?.close();
  });

  it('the fake upstream alone is a registry npm installs the whole tree from', async () => {
    const dir = consumerWith(path.join(r.work, 'direct'), up.rootDependencies as Record<string, string>);
    await ok(npm(['install', '--registry', `${up.url}/`, '--no-audit'], dir, path.join(r.work, 'cache-direct')), 'npm install from the fake upstream');
    const lock = JSON.parse(readFileSync(path.join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string }> };
    const installed = Object.keys(lock.packages).filter((k) => k !== '');
    assert.equal(new Set(installed.map((k) => k.slice(k.lastIndexOf('node_modules/') + 13))).size, up.treeNames.length);
    assert.ok(up.treeNames.length >= 15);
    const alpha = (await requireIn(dir, 'fx-alpha')) as { name: string; deps: Record<string, string> };
    assert.equal(alpha.name, 'fx-alpha');
    assert.ok(Object.keys(alpha.deps).length > 0, 'fx-alpha requires its dependencies');
  });

  describe('redirect mode (GitLab 302s) — audit forwarding', () => {
    before(async () => settings({ npm_package_requests_forwarding_mode: 'redirect' }));

    it('npm install through Wharf follows the redirects, and `npm audit` reaches the upstream through Wharf without local names', async () => {
      const dir = consumerWith(path.join(r.work, 'redirect-audit'), { ...treeDeps(), 'fx-theta': '1.1.0' });
      writeFileSync(path.join(dir, '.npmrc'), npmrc);
      const cache = path.join(r.work, 'cache-redirect');
      await ok(npm(['install', '--no-audit'], dir, cache), 'npm install (redirect mode)');
      assert.equal(await requireIn(dir, LOCAL), 42, 'the local package, not the bait');
      up.clearLog();
      const audit = await npm(['audit', '--json'], dir, cache);
      const report = JSON.parse(audit.stdout) as { vulnerabilities: Record<string, { severity: string }> };
      // The upstream's one advisory (fx-theta < 1.2.0) came back through Wharf.
      assert.equal(report.vulnerabilities['fx-theta']?.severity, 'moderate', audit.stdout + audit.stderr);
      const posts = up.auditRequests();
      assert.equal(posts.length, 1, JSON.stringify(posts.map((p) => p.path)));
      const sent = JSON.stringify(posts[0]!.body);
      assert.ok(!sent.includes('@acme/'), `a local name reached the upstream: ${sent}`);
      assert.ok(sent.includes('fx-alpha') && sent.includes('@fx/beta'), sent);
      assert.equal(posts[0]!.headers.authorization, undefined, "the client's token went upstream");
    });

    it('`pnpm audit` (pnpm 10: the audits/quick tree) reaches the upstream through Wharf without local names', async () => {
      const dir = consumerWith(path.join(r.work, 'redirect-audit-pnpm'), { ...treeDeps(), 'fx-theta': '1.1.0' });
      writeFileSync(path.join(dir, '.npmrc'), npmrc);
      await ok(pnpmIn(dir, path.join(r.work, 'cache-redirect-pnpm'), ['install']), 'pnpm install (redirect mode)');
      up.clearLog();
      const audit = await pnpmIn(dir, path.join(r.work, 'cache-redirect-pnpm'), ['audit', '--json']);
      const report = JSON.parse(audit.stdout) as { advisories: Record<string, { module_name: string }> };
      assert.equal(report.advisories['1099001']?.module_name, 'fx-theta', audit.stdout + audit.stderr + JSON.stringify(up.auditRequests().map((p) => p.body)).slice(0, 3000));
      const posts = up.auditRequests();
      assert.deepEqual(posts.map((p) => p.path), ['/-/npm/v1/security/audits/quick']);
      const sent = JSON.stringify(posts[0]!.body);
      assert.ok(!sent.includes('@acme/'), `a local name reached the upstream: ${sent}`);
      assert.ok(sent.includes('"fx-alpha"') && sent.includes('"fx-theta"'), sent);
    });

    it('`yarn npm audit` (yarn 4: the bulk body) reaches the upstream through Wharf without local names', async () => {
      const dir = consumerWith(path.join(r.work, 'redirect-audit-yarn4'), { ...treeDeps(), 'fx-theta': '1.1.0' });
      yarn4Project(dir, path.join(r.work, 'cache-redirect-yarn4'));
      await ok(yarn4(dir, ['install']), 'yarn install (redirect mode)');
      up.clearLog();
      const audit = await yarn4(dir, ['npm', 'audit', '--recursive', '--json']);
      assert.match(audit.stdout, /fx-theta/, audit.stdout + audit.stderr);
      assert.match(audit.stdout, /Prototype pollution in fx-theta/);
      const posts = up.auditRequests();
      assert.deepEqual(posts.map((p) => p.path), ['/-/npm/v1/security/advisories/bulk']);
      const sent = posts[0]!.body as Record<string, string[]>;
      assert.deepEqual(Object.keys(sent).filter((n) => n.startsWith('@acme/')), [], JSON.stringify(sent));
      assert.ok(sent['fx-alpha'] && sent['fx-theta']?.includes('1.1.0'), JSON.stringify(sent));
    });
  });

  describe('proxy mode', () => {
    before(async () => settings({ npm_package_requests_forwarding_mode: 'proxy' }));

    const clients: Client[] = [
      {
        name: 'npm',
        lockfile: 'package-lock.json',
        tamperTarget: { name: 'fx-omicron', version: '1.0.0' },
        configure: (dir) => writeFileSync(path.join(dir, '.npmrc'), npmrc),
        install: (dir, cache) => npm(['install', '--no-audit'], dir, cache),
      },
      {
        name: 'pnpm',
        lockfile: 'pnpm-lock.yaml',
        tamperTarget: { name: 'fx-xi', version: '1.0.0' },
        configure: (dir) => writeFileSync(path.join(dir, '.npmrc'), npmrc),
        install: (dir, cache) => pnpmIn(dir, cache, ['install']),
      },
      {
        name: 'yarn1',
        lockfile: 'yarn.lock',
        tamperTarget: { name: 'fx-mu', version: '1.0.0' },
        configure: (dir) => writeFileSync(path.join(dir, '.npmrc'), npmrc),
        install: (dir, cache) =>
          run(process.execPath, [YARN1, 'install', '--cache-folder', cache, '--non-interactive', '--no-progress'], dir, cleanEnv(r.work, { YARN_IGNORE_PATH: '1' }), 180_000),
      },
      {
        name: 'yarn4',
        lockfile: 'yarn.lock',
        tamperTarget: { name: '@fx-utils/pi', version: '1.0.0' },
        configure: yarn4Project,
        install: (dir) => yarn4(dir, ['install']),
      },
    ];

    for (const client of clients) {
      describe(client.name, () => {
        const dirOf = (what: string) => path.join(r.work, `${client.name}-${what}`);
        const fresh = (what: string, deps: Record<string, string>) => {
          const dir = consumerWith(dirOf(what), deps);
          const cache = dirOf(`${what}-cache`);
          rmSync(cache, { recursive: true, force: true });
          client.configure(dir, cache);
          return { dir, cache };
        };
        const output = (x: Run) => `${x.stdout}\n${x.stderr}`;
        /** The lockfile's text, once it is shown to name no URL but Wharf's (the tarballs came through the proxy). */
        const onlyWharfIn = (dir: string): string => {
          const lock = readFileSync(path.join(dir, client.lockfile), 'utf8');
          assert.ok(!lock.includes(`127.0.0.1:${up.port}`) && !lock.includes(`127.0.0.1%3A${up.port}`), `the ${client.lockfile} names the upstream:\n${lock}`);
          for (const url of urlsIn(lock)) assert.ok(url.startsWith(`${r.base}/api/v4/`), `${client.lockfile} holds ${url}`);
          return lock;
        };

        it('installs the whole tree through the instance endpoint, and the lockfile names only Wharf', async () => {
          const { dir, cache } = fresh('first', treeDeps());
          await ok(client.install(dir, cache), `${client.name} install (proxy mode)`);
          const alpha = (await requireIn(dir, 'fx-alpha')) as { version: string };
          assert.equal(alpha.version, up.resolve('fx-alpha', up.rootDependencies['fx-alpha']!));
          assert.equal(await requireIn(dir, LOCAL), 42, 'the local package, not the bait');
          const lock = onlyWharfIn(dir);
          for (const name of up.treeNames) assert.ok(lock.includes(name), `${name} is not in the ${client.lockfile}`);
        });

        it('installs it again with the upstream stopped and every client cache emptied: from Wharf alone', async () => {
          await up.stop();
          try {
            const { dir, cache } = fresh('offline-upstream', treeDeps());
            await ok(client.install(dir, cache), `${client.name} install with the upstream down`);
            assert.equal(((await requireIn(dir, 'fx-alpha')) as { name: string }).name, 'fx-alpha');
          } finally {
            await up.start();
          }
        });

        it('fails on a tampered tarball, caches nothing, and fetches it from the upstream again once it is genuine', async () => {
          const { name, version } = client.tamperTarget;
          up.tamper(name, version);
          let tampered: number;
          try {
            const { dir, cache } = fresh('tampered', { [name]: version });
            const failed = await client.install(dir, cache);
            assert.notEqual(failed.code, 0, `${client.name} installed tampered bytes:\n${output(failed)}`);
            assert.match(output(failed), INTEGRITY_OR_ABORT);
            tampered = up.tarballRequests(name, version).length;
            assert.ok(tampered >= 1, 'the tarball was asked of the upstream');
          } finally {
            up.untamper();
          }
          const { dir, cache } = fresh('untampered', { [name]: version });
          await ok(client.install(dir, cache), `${client.name} install after the upstream was repaired`);
          assert.equal(((await requireIn(dir, name)) as { version: string }).version, version);
          onlyWharfIn(dir);
          assert.equal(up.tarballRequests(name, version).length, tampered + 1, 'the tampered bytes were cached: the upstream was not asked again');
        });
      });
    }

    it('never asked the upstream for the local package or for a name in the local scope', async () => {
      const dir = consumerWith(path.join(r.work, 'local-scope'), { [LOCAL_SCOPE_ONLY]: '1.0.0' });
      writeFileSync(path.join(dir, '.npmrc'), npmrc);
      const missing = await npm(['install', '--no-audit'], dir, path.join(r.work, 'cache-local-scope'));
      assert.notEqual(missing.code, 0, `${LOCAL_SCOPE_ONLY} was installed from the upstream:\n${missing.stdout}`);
      assert.match(`${missing.stdout}\n${missing.stderr}`, /404/);
      const view = await npm(['view', LOCAL, 'versions', '--json'], dir, path.join(r.work, 'cache-local-scope'));
      assert.deepEqual(JSON.parse(view.stdout), ['1.0.0'], 'the bait version 6.6.6 showed through');
      // Over every install of this file, redirect mode's excepted: proxy mode keeps local names local.
      assert.deepEqual(up.requestsFor(LOCAL).map((e) => e.path), []);
      assert.deepEqual(up.requestsFor(LOCAL_SCOPE_ONLY).map((e) => e.path), []);
    });
  });
});
