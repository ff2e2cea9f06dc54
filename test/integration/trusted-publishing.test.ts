/**
 * Trusted publishing (docs/trusted-publishing.md) on both databases: the publishers API and its refusals, the
 * `trusted_publishing_*` settings, the exchange of an ID token from a loopback issuer and its refusals, and what the
 * exchanged token may (one package's publish) and may not do (anything else; after 15 minutes; once its publisher
 * is gone).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, TestClock, type TestApp } from '../helpers/app.js';
import { signInCookie } from '../helpers/web-forms.js';
import { DIALECTS } from '../helpers/databases.js';
import { bearer, createNpmWorld, esc, npmBase, publish, publishBody, type NpmWorld } from '../helpers/npm.js';
import { gitlabClaims, startOidcIssuer, type OidcIssuer } from '../helpers/oidc-issuer.js';

const AUDIENCE = 'npm:wharf.test';
const EXCHANGE = '/-/npm/v1/oidc/token/exchange/package/';

for (const dialect of DIALECTS) {
  describe(`trusted publishing [${dialect}]`, () => {
    let t: TestApp;
    let w: NpmWorld;
    let issuer: OidcIssuer;
    let project: number;
    let projectPath: string;
    const clock = new TestClock();
    const nowSeconds = () => Math.floor(clock.now().getTime() / 1000);
    const publishers = (p: number = project) => `/api/v4/projects/${p}/packages/npm/trusted_publishers`;
    const addPublisher = (body: Record<string, unknown>, token = w.token.maintainer, p: number = project) => t.call('POST', publishers(p), { token, body });
    const idToken = (claims: Record<string, unknown> = gitlabClaims(projectPath), extra: Parameters<OidcIssuer['sign']>[0] = {}) =>
      issuer.sign({ audience: AUDIENCE, issuedAt: nowSeconds(), claims, ...extra });
    const exchange = (name: string, token: string | undefined) => t.call('POST', `${EXCHANGE}${esc(name)}`, { headers: bearer(token) });
    const count = async (name: string) =>
      Number(
        (await t.deps.database.db.selectFrom('packages').select((eb) => eb.fn.countAll<number>().as('n')).where('name', '=', name).executeTakeFirstOrThrow()).n,
      );

    before(async () => {
      issuer = await startOidcIssuer();
      t = await startApp(dialect, { clock });
      w = await createNpmWorld(t);
      project = w.project.private;
      const p = await t.call('GET', `/api/v4/projects/${project}`, { token: ROOT_TOKEN });
      projectPath = p.body.path_with_namespace;
      const s = await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { trusted_publishing_issuers: [`${issuer.url}/`, 'https://gitlab.example.com'] } });
      assert.equal(s.status, 200, s.text);
      assert.deepEqual(s.body.trusted_publishing_issuers, [issuer.url, 'https://gitlab.example.com']);
    });
    after(async () => {
      await t.close();
      await issuer.close();
    });

    describe('the settings', () => {
      it('refuses issuers that are not http(s) URLs, and key sets holding private keys', async () => {
        const cases: Array<[Record<string, unknown>, RegExp]> = [
          [{ trusted_publishing_issuers: ['ftp://x.example'] }, /must be an https:\/\/ URL/],
          [{ trusted_publishing_issuers: ['not a url'] }, /absolute URL/],
          [{ trusted_publishing_issuers: ['https://u:p@x.example'] }, /credentials/],
          [{ trusted_publishing_issuers: 'https://a.example' }, /.^/],
          [{ trusted_publishing_jwks: { 'https://a.example': { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'secret' }] } } }, /public keys/],
          [{ trusted_publishing_jwks: { 'https://a.example': { keys: [] } } }, /1 to 20 keys/],
          [{ trusted_publishing_jwks: '[1]' }, /must be an object/],
        ];
        for (const [body, message] of cases) {
          const r = await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body });
          if (message.source === '.^') {
            // A single string is a list of one, as the deny list takes it; put the real list back.
            assert.equal(r.status, 200, r.text);
            continue;
          }
          assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
          assert.match(r.text, message);
        }
        const back = await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { trusted_publishing_issuers: [issuer.url, 'https://gitlab.example.com'] } });
        assert.equal(back.status, 200, back.text);
        assert.equal((await t.call('PUT', '/api/v4/application/settings', { token: w.token.maintainer, body: { trusted_publishing_issuers: [] } })).status, 403);
      });
    });

    describe('the publishers API', () => {
      it('a Maintainer adds, lists and removes publishers, each change audited', async () => {
        const created = await addPublisher({ issuer: issuer.url, claims: { project_path: projectPath, ref: 'main' }, package_name_pattern: '@privgrp/tp-*' });
        assert.equal(created.status, 201, created.text);
        assert.equal(typeof created.body.id, 'number');
        assert.deepEqual(created.body.claims, { project_path: projectPath, ref: 'main' });
        assert.equal(created.body.provider, 'gitlab');
        const list = await t.call('GET', publishers(), { token: w.token.maintainer });
        assert.equal(list.status, 200);
        assert.deepEqual(list.body, [created.body]);
        assert.equal((await t.call('DELETE', `${publishers()}/${created.body.id}`, { token: w.token.maintainer })).status, 204);
        assert.equal((await t.call('DELETE', `${publishers()}/${created.body.id}`, { token: w.token.maintainer })).status, 404);
        assert.deepEqual((await t.call('GET', publishers(), { token: w.token.maintainer })).body, []);
        const events = (await t.call('GET', '/api/v4/audit_events?per_page=100', { token: ROOT_TOKEN })).body as Array<{ event_name: string; entity_id: number }>;
        const names = events.filter((e) => e.entity_id === project).map((e) => e.event_name);
        assert.ok(names.includes('npm_trusted_publisher_created') && names.includes('npm_trusted_publisher_deleted'), names.join());
      });

      it('refuses callers below Maintainer, anonymous callers, read_api tokens and deploy tokens, storing nothing', async () => {
        const body = { issuer: issuer.url, claims: { project_path: projectPath }, package_name_pattern: 'x' };
        assert.equal((await addPublisher(body, w.token.developer)).status, 403);
        assert.equal((await addPublisher(body, w.token.outsider)).status, 404);
        assert.equal((await addPublisher(body, w.token.readApi)).status, 403);
        assert.equal((await addPublisher(body, w.token.deployWrite)).status, 401);
        assert.equal((await t.call('POST', publishers(), { body })).status, 401);
        assert.equal((await t.call('GET', publishers(), { token: w.token.developer })).status, 403);
        assert.equal((await t.call('GET', publishers(), {})).status, 401);
        assert.deepEqual((await t.call('GET', publishers(), { token: w.token.maintainer })).body, []);
      });

      it('refuses bad input with a 400 naming each problem', async () => {
        const cases: Array<[Record<string, unknown>, RegExp]> = [
          [{ claims: { project_path: 'a/b' }, package_name_pattern: 'x' }, /"issuer":\["is missing"\]/],
          [{ issuer: 'https://not-allowed.example', claims: { project_path: 'a/b' }, package_name_pattern: 'x' }, /trusted_publishing_issuers/],
          [{ issuer: issuer.url, claims: { ref: 'main' }, package_name_pattern: 'x' }, /project_path is required/],
          [{ issuer: 'https://token.actions.githubusercontent.com', claims: { project_path: 'a/b' }, package_name_pattern: 'x' }, /trusted_publishing_issuers/],
          [{ issuer: issuer.url, claims: {}, package_name_pattern: 'x' }, /1 to 10 claims/],
          [{ issuer: issuer.url, claims: ['project_path'], package_name_pattern: 'x' }, /must be an object/],
          [{ issuer: issuer.url, claims: { project_path: 42 }, package_name_pattern: 'x' }, /project_path must be a non-empty string/],
          [{ issuer: issuer.url, claims: { project_path: 'a/b', aud: 'npm:x' }, package_name_pattern: 'x' }, /aud is checked by Wharf/],
          [{ issuer: issuer.url, claims: { project_path: 'a/b', 'bad name': 'x' }, package_name_pattern: 'x' }, /is not a claim name/],
          [{ issuer: issuer.url, claims: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`c${i}`, 'v'])), package_name_pattern: 'x' }, /1 to 10 claims/],
          [{ issuer: issuer.url, claims: { project_path: 'a/b' } }, /package_name_pattern/],
          [{ issuer: issuer.url, claims: { project_path: 'a/b' }, package_name_pattern: 'has space' }, /npm package name/],
          [{ issuer: issuer.url, claims: { project_path: 'a/b' }, package_name_pattern: '*a*b*c*d*' }, /at most 4/],
          [{ issuer: issuer.url, claims: { project_path: 'a/b' }, package_name_pattern: 'x'.repeat(300) }, /characters/],
        ];
        for (const [body, message] of cases) {
          const r = await addPublisher(body);
          assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
          assert.match(r.text, message);
        }
        assert.deepEqual((await t.call('GET', publishers(), { token: w.token.maintainer })).body, []);
      });
    });

    describe('the web page', () => {
      const signIn = (username: string): Promise<string> => signInCookie(t.app, username, 'password123');
      const url = () => `/-/trusted_publishers?project=${encodeURIComponent(projectPath)}`;
      const post = (path: string, cookie: string, fields: Record<string, string>) =>
        t.app.inject({ method: 'POST', url: path, headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(fields).toString() });

      it('a Maintainer lists, adds and removes publishers; others get a 404; every form needs its CSRF token', async () => {
        assert.equal((await t.app.inject({ method: 'GET', url: url() })).statusCode, 303);
        const dev = await signIn('developer');
        assert.equal((await t.app.inject({ method: 'GET', url: url(), headers: { cookie: dev } })).statusCode, 404);
        const cookie = await signIn('maintainer');
        // Reached from the project's package list, where a signed-in visitor finds the link.
        const packagesPage = await t.app.inject({ method: 'GET', url: `/${projectPath}/-/packages`, headers: { cookie } });
        assert.ok(packagesPage.body.includes(`href="/-/trusted_publishers?${new URLSearchParams({ project: projectPath })}"`), packagesPage.body);
        const shown = await t.app.inject({ method: 'GET', url: url(), headers: { cookie } });
        assert.equal(shown.statusCode, 200, shown.body);
        assert.match(shown.body, /No trusted publishers/);
        assert.match(shown.body, /npm:wharf\.test/);
        const csrf = /name="authenticity_token" value="([^"]+)"/.exec(shown.body)![1]!;
        const fields = { project: projectPath, issuer: issuer.url, claims: `project_path=${projectPath}\nref=main`, package_name_pattern: '@privgrp/web-*' };
        assert.equal((await post('/-/trusted_publishers', cookie, fields)).statusCode, 422);
        const devCsrf = /name="authenticity_token" value="([^"]+)"/.exec((await t.app.inject({ method: 'GET', url: '/', headers: { cookie: dev } })).body)?.[1] ?? 'x';
        assert.equal((await post('/-/trusted_publishers', dev, { ...fields, authenticity_token: devCsrf })).statusCode, 404);
        const bad = await post('/-/trusted_publishers', cookie, { ...fields, claims: 'ref=main', authenticity_token: csrf });
        assert.equal(bad.statusCode, 400);
        assert.match(bad.body, /project_path is required/);
        const added = await post('/-/trusted_publishers', cookie, { ...fields, authenticity_token: csrf });
        assert.equal(added.statusCode, 303, added.body);
        const list = (await t.call('GET', publishers(), { token: w.token.maintainer })).body as Array<{ id: number; claims: Record<string, string> }>;
        assert.equal(list.length, 1);
        assert.deepEqual(list[0]!.claims, { project_path: projectPath, ref: 'main' });
        const again = await t.app.inject({ method: 'GET', url: url(), headers: { cookie } });
        assert.match(again.body, /@privgrp\/web-\*/);
        assert.equal((await post('/-/trusted_publishers/delete', cookie, { project: projectPath, id: String(list[0]!.id) })).statusCode, 422);
        const removed = await post('/-/trusted_publishers/delete', cookie, { project: projectPath, id: String(list[0]!.id), authenticity_token: csrf });
        assert.equal(removed.statusCode, 303);
        assert.deepEqual((await t.call('GET', publishers(), { token: w.token.maintainer })).body, []);
      });
    });

    describe('the exchange and the token it answers', () => {
      let publisherId: number;
      before(async () => {
        const r = await addPublisher({ issuer: issuer.url, claims: { project_path: projectPath, ref: 'main' }, package_name_pattern: '@privgrp/tp-*' });
        assert.equal(r.status, 201, r.text);
        publisherId = r.body.id;
      });

      it('a matching ID token gets a short-lived token that publishes the package, recorded as the public registry shows it', async () => {
        const r = await exchange('@privgrp/tp-one', await idToken());
        assert.equal(r.status, 200, r.text);
        assert.match(r.body.token, /^whtp-/);
        assert.equal(r.body.expires_in, 900);
        assert.equal(r.headers['cache-control'], 'no-store');
        const { body } = publishBody('@privgrp/tp-one', '1.0.0');
        const put = await publish(t, project, body, r.body.token);
        assert.equal(put.status, 200, put.text);
        const doc = await t.call('GET', `${npmBase(project)}/${esc('@privgrp/tp-one')}`, { token: ROOT_TOKEN });
        assert.deepEqual(doc.body.versions['1.0.0']._npmUser, { name: 'GitLab CI/CD', trustedPublisher: { id: 'gitlab', oidcConfigId: `oidc:${publisherId}` } });
        const events = (await t.call('GET', '/api/v4/audit_events?per_page=100', { token: ROOT_TOKEN })).body as Array<{ event_name: string; details: Record<string, any> }>;
        const exchanged = events.find((e) => e.event_name === 'npm_trusted_publisher_token_exchanged');
        assert.ok(exchanged, 'an exchange event');
        assert.equal(exchanged.details.author_class, 'TrustedPublisher');
        assert.match(exchanged.details.custom_message, /pipeline_id/);
        assert.match(exchanged.details.custom_message, new RegExp(`"project_path":"${projectPath}"`));
        assert.match(exchanged.details.custom_message, /@privgrp\/tp-one/);
      });

      it('refuses ID tokens that are missing, malformed, from another issuer, for another audience, expired or badly signed', async () => {
        const cases: Array<[string | undefined, number, RegExp]> = [
          [undefined, 401, /an ID token is needed/],
          ['not-a-jwt', 401, /not a JWT/],
          [await idToken(gitlabClaims(projectPath), { issuer: 'https://evil.example' }), 401, /is not allowed on this instance/],
          [await idToken(gitlabClaims(projectPath), { audience: 'npm:registry.npmjs.org' }), 401, /audience is not npm:wharf\.test/],
          [await idToken(gitlabClaims(projectPath), { issuedAt: nowSeconds() - 3600, lifetime: 600 }), 401, /has expired/],
          [await idToken(gitlabClaims(projectPath), { issuedAt: nowSeconds() + 3600 }), 401, /not valid yet/],
          [await idToken(gitlabClaims(projectPath), { foreignKey: true }), 401, /signature does not verify/],
          [await idToken(gitlabClaims('pubgrp/public-lib')), 403, /no trusted publisher matches this pipeline's claims/],
          [await idToken(gitlabClaims(projectPath, { ref: 'feature' })), 403, /no trusted publisher matches/],
        ];
        for (const [token, status, message] of cases) {
          const r = await exchange('@privgrp/tp-two', token);
          assert.equal(r.status, status, `${message}: ${r.text}`);
          assert.match(r.body.message, message);
        }
        const other = await exchange('@privgrp/other', await idToken());
        assert.equal(other.status, 403);
        assert.match(other.body.message, /may publish @privgrp\/other/);
        // An HMAC "ID token" is never accepted, whatever it claims.
        const forged = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.${Buffer.from(
          JSON.stringify({ iss: issuer.url, aud: AUDIENCE, exp: nowSeconds() + 60, iat: nowSeconds(), ...gitlabClaims(projectPath) }),
        ).toString('base64url')}.AAAA`;
        assert.equal((await exchange('@privgrp/tp-two', forged)).status, 401);
        assert.equal(await count('@privgrp/tp-two'), 0);
        assert.equal(await count('@privgrp/other'), 0);
      });

      it('the token publishes nothing else, does nothing else, and stops after 15 minutes or once its publisher is gone', async () => {
        const token = (await exchange('@privgrp/tp-three', await idToken())).body.token as string;
        // Another package, even one the publisher's pattern matches.
        const other = await publish(t, project, publishBody('@privgrp/tp-four', '1.0.0').body, token);
        assert.equal(other.status, 403, other.text);
        assert.match(other.text, /may only publish @privgrp\/tp-three/);
        // Another project.
        const elsewhere = await publish(t, w.project.internal, publishBody('@privgrp/tp-three', '1.0.0').body, token);
        assert.ok([403, 404].includes(elsewhere.status), elsewhere.text);
        // The management API, dist-tags, deletes.
        assert.equal((await t.call('GET', '/api/v4/user', { headers: bearer(token) })).status, 401);
        assert.equal((await t.call('GET', publishers(), { headers: bearer(token) })).status, 401);
        const tag = await t.call('PUT', `${npmBase(project)}/-/package/${esc('@privgrp/tp-one')}/dist-tags/evil`, { headers: bearer(token), body: '1.0.0' as unknown as object });
        assert.equal(tag.status, 403, tag.text);
        const list = await t.call('GET', `/api/v4/projects/${project}/packages`, { token: ROOT_TOKEN });
        const one = (list.body as Array<{ id: number; name: string }>).find((p) => p.name === '@privgrp/tp-one')!;
        assert.equal((await t.call('DELETE', `/api/v4/projects/${project}/packages/${one.id}`, { headers: bearer(token) })).status, 403);
        // Helm's Basic and a tampered token find nothing.
        const helm = await t.app.inject({ method: 'GET', url: `/api/v4/projects/${project}/packages/helm/stable/index.yaml`, headers: { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` } });
        assert.equal(helm.statusCode, 401);
        const tampered = await publish(t, project, publishBody('@privgrp/tp-three', '1.0.0').body, `${token.slice(0, -2)}xx`);
        assert.equal(tampered.status, 401);
        assert.equal(await count('@privgrp/tp-four'), 0);
        assert.equal(await count('@privgrp/tp-three'), 0);

        // After 15 minutes it is refused; before, it works.
        clock.advance(15 * 60 * 1000 + 31_000);
        const late = await publish(t, project, publishBody('@privgrp/tp-three', '1.0.0').body, token);
        assert.equal(late.status, 401, late.text);
        assert.match(late.text, /has expired/);
        assert.equal(await count('@privgrp/tp-three'), 0);

        const fresh = (await exchange('@privgrp/tp-three', await idToken())).body.token as string;
        assert.equal((await t.call('DELETE', `${publishers()}/${publisherId}`, { token: w.token.maintainer })).status, 204);
        const gone = await publish(t, project, publishBody('@privgrp/tp-three', '1.0.0').body, fresh);
        assert.equal(gone.status, 401, gone.text);
        assert.match(gone.text, /was removed/);
        assert.equal(await count('@privgrp/tp-three'), 0);
      });

      it('pinned keys are used instead of fetching, and only they verify', async () => {
        const pinnedIssuer = 'https://offline-gitlab.example';
        const s = await t.call('PUT', '/api/v4/application/settings', {
          token: ROOT_TOKEN,
          body: { trusted_publishing_issuers: [issuer.url, pinnedIssuer], trusted_publishing_jwks: { [pinnedIssuer]: issuer.jwks } },
        });
        assert.equal(s.status, 200, s.text);
        const r = await addPublisher({ issuer: pinnedIssuer, claims: { project_path: projectPath }, package_name_pattern: '@privgrp/offline' });
        assert.equal(r.status, 201, r.text);
        const fetchesBefore = issuer.jwksFetches();
        const ok = await exchange('@privgrp/offline', await idToken(gitlabClaims(projectPath), { issuer: pinnedIssuer }));
        assert.equal(ok.status, 200, ok.text);
        assert.equal(issuer.jwksFetches(), fetchesBefore, 'pinned keys are never fetched');
        const bad = await exchange('@privgrp/offline', await idToken(gitlabClaims(projectPath), { issuer: pinnedIssuer, foreignKey: true }));
        assert.equal(bad.status, 401, bad.text);
      });

      it('an unreachable issuer is a 401 saying so, not a 5xx', async () => {
        const down = 'http://127.0.0.1:1';
        const s = await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { trusted_publishing_issuers: [issuer.url, down], trusted_publishing_jwks: {} } });
        assert.equal(s.status, 200, s.text);
        for (let i = 0; i < 2; i++) {
          const r = await exchange('@privgrp/tp-x', await idToken(gitlabClaims(projectPath), { issuer: down }));
          assert.equal(r.status, 401, r.text);
          assert.match(r.body.message, /discovery document could not be read/);
        }
      });

      it('several projects trusting one pipeline for one name is refused rather than guessed', async () => {
        const body = { issuer: issuer.url, claims: { project_path: projectPath }, package_name_pattern: '@privgrp/shared' };
        assert.equal((await addPublisher(body)).status, 201);
        assert.equal((await addPublisher(body, w.token.maintainer, w.project.internal)).status, 201);
        const r = await exchange('@privgrp/shared', await idToken());
        assert.equal(r.status, 403, r.text);
        assert.match(r.body.message, /more than one project/);
      });
    });
  });
}
