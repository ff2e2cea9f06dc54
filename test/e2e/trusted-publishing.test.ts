/**
 * Trusted publishing with the real npm (11.5+): a local OIDC issuer on loopback (discovery and JWKS served by the
 * test, ID tokens signed with a jose key), allowed through `trusted_publishing_issuers` (its `http://` URL listed
 * explicitly), a publisher registered on the project; then `npm publish` in a "GitLab CI job" (`GITLAB_CI=true`,
 * `NPM_ID_TOKEN`) with an `.npmrc` that holds the registry URL and no token. npm exchanges the ID token at the
 * host's root and publishes with what it got.
 *
 * Wharf runs in this process on a real socket, with the test clock (the exchanged token's expiry is checked by
 * moving it), as `test/helpers/npm-e2e.ts` runs it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, TestClock, type TestApp } from '../helpers/app.js';
import { cleanEnv, nerfDart, run, type Run } from '../helpers/npm-e2e.js';
import { gitlabClaims, startOidcIssuer, type OidcIssuer } from '../helpers/oidc-issuer.js';

describe('trusted publishing with the real npm', () => {
  let t: TestApp;
  let server: Server;
  let base: string;
  let work: string;
  let issuer: OidcIssuer;
  let projectId: number;
  let otherProjectId: number;
  let registry: string;
  const clock = new TestClock(new Date().toISOString());
  const audience = 'npm:127.0.0.1';

  const api = async (method: string, url: string, body?: unknown, expected = 201) => {
    const r = await t.call(method, `/api/v4${url}`, { token: ROOT_TOKEN, body });
    assert.equal(r.status, expected, `${url}: ${r.text}`);
    return r.body;
  };
  const idToken = (claims: Record<string, unknown> = gitlabClaims('acme/widgets'), extra: Parameters<OidcIssuer['sign']>[0] = {}) =>
    issuer.sign({ audience, issuedAt: Math.floor(clock.now().getTime() / 1000), claims, ...extra });
  const versionsOf = async (name: string): Promise<string[]> => {
    const r = await t.call('GET', `/api/v4/projects/${projectId}/packages/npm/${name.replace('/', '%2f')}`, { token: ROOT_TOKEN });
    return r.status === 200 ? Object.keys(r.body.versions) : [];
  };

  /** A package directory and an `.npmrc` with the scope's registry and, unless given, no token at all. */
  const packageDir = (name: string, version: string, npmrcExtra = ''): { dir: string; userconfig: string } => {
    const dir = path.join(work, `${name.replace(/[@/]/g, '_')}-${version}-${Math.random().toString(36).slice(2, 8)}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version, main: 'index.js' }));
    writeFileSync(path.join(dir, 'index.js'), 'module.exports = "from CI";\n');
    const userconfig = path.join(dir, '.npmrc-user');
    // `registry=` as well as the scope's: npm sends the ID token to the exchange only with the credentials of
    // `registry=` (npm-registry-fetch's auth lookup, docs/trusted-publishing.md#the-npmrc).
    writeFileSync(userconfig, `registry=${registry}\n@acme:registry=${registry}\n${npmrcExtra}`);
    return { dir, userconfig };
  };

  /** `npm publish` as a GitLab CI job would run it. */
  const publishFromCi = (dir: string, userconfig: string, env: Record<string, string>): Promise<Run> =>
    run(
      'npm',
      ['publish', '--loglevel', 'verbose', '--userconfig', userconfig, '--globalconfig', path.join(work, 'global-npmrc'), '--cache', path.join(work, 'cache')],
      dir,
      cleanEnv(work, {
        GITLAB_CI: 'true',
        CI: 'true',
        GITHUB_ACTIONS: '',
        npm_config_update_notifier: 'false',
        npm_config_provenance: 'false',
        ...env,
      }),
      120_000,
    );

  before(async () => {
    issuer = await startOidcIssuer();
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t = await startApp('sqlite', { clock, env: { WHARF_EXTERNAL_URL: base } });
    server.on('request', t.app.routing);
    const group = await api('POST', '/groups', { name: 'Acme', path: 'acme', visibility: 'private' });
    projectId = (await api('POST', '/projects', { name: 'widgets', namespace_id: group.id, visibility: 'private' })).id;
    otherProjectId = (await api('POST', '/projects', { name: 'gadgets', namespace_id: group.id, visibility: 'private' })).id;
    await api('PUT', '/application/settings', { trusted_publishing_issuers: [issuer.url] }, 200);
    await api('POST', `/projects/${projectId}/packages/npm/trusted_publishers`, {
      issuer: issuer.url,
      claims: { project_path: 'acme/widgets', ref: 'main' },
      package_name_pattern: '@acme/ci-*',
    });
    registry = `${base}/api/v4/projects/${projectId}/packages/npm/`;
    work = mkdtempSync(path.join(tmpdir(), 'wharf-oidc-'));
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await t.close();
    await issuer.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('npm publish in a GitLab CI job with NPM_ID_TOKEN and no stored token succeeds, recorded as a trusted publish', async () => {
    const { dir, userconfig } = packageDir('@acme/ci-lib', '1.0.0');
    const r = await publishFromCi(dir, userconfig, { NPM_ID_TOKEN: await idToken() });
    assert.equal(r.code, 0, `npm publish failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /oidc Successfully retrieved and set token/);
    assert.deepEqual(await versionsOf('@acme/ci-lib'), ['1.0.0']);
    const doc = await t.call('GET', `/api/v4/projects/${projectId}/packages/npm/@acme%2fci-lib`, { token: ROOT_TOKEN });
    assert.equal(doc.body.versions['1.0.0']._npmUser.trustedPublisher.id, 'gitlab');
    assert.match(doc.body.versions['1.0.0']._npmUser.trustedPublisher.oidcConfigId, /^oidc:\d+$/);
  });

  it('in GitHub Actions npm asks the runner for an ID token with the audience npm:<host> and publishes with it', async () => {
    await api('POST', `/projects/${projectId}/packages/npm/trusted_publishers`, {
      issuer: issuer.url,
      claims: { sub: 'repo:acme/widgets:ref:refs/heads/main', repository: 'acme/widgets' },
      package_name_pattern: '@acme/gh-lib',
    });
    issuer.actions.claims = { sub: 'repo:acme/widgets:ref:refs/heads/main', repository: 'acme/widgets', workflow_ref: 'acme/widgets/.github/workflows/release.yml@refs/heads/main', run_id: '77' };
    const { dir, userconfig } = packageDir('@acme/gh-lib', '1.0.0');
    const r = await publishFromCi(dir, userconfig, {
      GITLAB_CI: '',
      GITHUB_ACTIONS: 'true',
      ACTIONS_ID_TOKEN_REQUEST_URL: issuer.actions.url,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.actions.requestToken,
    });
    assert.equal(r.code, 0, `npm publish failed:\n${r.stdout}\n${r.stderr}`);
    assert.deepEqual(issuer.actions.audiences, ['npm:127.0.0.1']);
    assert.deepEqual(await versionsOf('@acme/gh-lib'), ['1.0.0']);
  });

  it('ID tokens for another project, another audience, expired, or signed by an unknown key publish nothing', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['another project', await idToken(gitlabClaims('acme/gadgets')), /no trusted publisher matches this pipeline's claims/],
      ['another audience', await idToken(undefined, { audience: 'npm:registry.npmjs.org' }), /audience is not npm:127\.0\.0\.1/],
      ['expired', await idToken(undefined, { issuedAt: Math.floor(clock.now().getTime() / 1000) - 3600, lifetime: 300 }), /has expired/],
      ['an unknown key', await idToken(undefined, { foreignKey: true }), /signature does not verify/],
    ];
    for (const [what, token, reason] of cases) {
      const { dir, userconfig } = packageDir('@acme/ci-refused', '1.0.0');
      const r = await publishFromCi(dir, userconfig, { NPM_ID_TOKEN: token });
      assert.notEqual(r.code, 0, `${what}: npm publish should fail\n${r.stdout}\n${r.stderr}`);
      // npm logs the exchange's refusal and then finds no credentials.
      assert.match(r.stderr, /Failed token exchange request with body message: 40[13]/, what);
      assert.match(r.stderr, reason, what);
      assert.match(r.stderr, /ENEEDAUTH|requires you to be logged in/, what);
    }
    assert.deepEqual(await versionsOf('@acme/ci-refused'), []);
  });

  it('the exchanged token cannot publish another package, nor anything once expired', async () => {
    const exchange = await fetch(`${base}/-/npm/v1/oidc/token/exchange/package/@acme%2fci-lib`, { method: 'POST', headers: { authorization: `Bearer ${await idToken()}` } });
    assert.equal(exchange.status, 200);
    const { token } = (await exchange.json()) as { token: string };
    const withToken = `${nerfDart(registry)}:_authToken=${token}\n`;

    // Another package, though the publisher's pattern would match it: refused by the registry.
    const other = packageDir('@acme/ci-other', '1.0.0', withToken);
    const r1 = await publishFromCi(other.dir, other.userconfig, {});
    assert.notEqual(r1.code, 0);
    assert.match(`${r1.stdout}${r1.stderr}`, /403|may only publish @acme\/ci-lib/);
    assert.deepEqual(await versionsOf('@acme/ci-other'), []);

    // Its own package, in another project.
    const elsewhere = `${nerfDart(`${base}/api/v4/projects/${otherProjectId}/packages/npm/`)}:_authToken=${token}\n`;
    const o = packageDir('@acme/ci-lib', '1.0.1', elsewhere);
    writeFileSync(o.userconfig, `@acme:registry=${base}/api/v4/projects/${otherProjectId}/packages/npm/\n${elsewhere}`);
    const r2 = await publishFromCi(o.dir, o.userconfig, {});
    assert.notEqual(r2.code, 0);

    // Its own package, after 15 minutes: expired.
    clock.advance(16 * 60 * 1000);
    const late = packageDir('@acme/ci-lib', '1.0.2', withToken);
    const r3 = await publishFromCi(late.dir, late.userconfig, {});
    assert.notEqual(r3.code, 0);
    assert.match(`${r3.stdout}${r3.stderr}`, /401|has expired/);
    assert.deepEqual(await versionsOf('@acme/ci-lib'), ['1.0.0']);
  });
});
