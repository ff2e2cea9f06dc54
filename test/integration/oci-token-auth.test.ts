/**
 * The registry token flow (docs/design/helm-oci.md#access) on SQLite and PostgreSQL: what `/jwt/auth` grants to
 * each kind of caller (the intersection of what was asked and what the caller may do), what `/v2/` accepts as a
 * Bearer token and what it refuses (wrong password, tampered, expired, `alg: none`, another audience, another
 * repository, a token whose PAT was revoked or whose user was blocked or removed), the challenge that sends clients
 * to `/jwt/auth`, a token issued by one instance used on another, and the rate limits' 429 in the OCI shape.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { ROOT_TOKEN, startApp, startPeer, TestClock, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { basic, send, type RawResult } from '../helpers/helm.js';
import { API, addMember, createGroup, createPat, createProject, createUser } from '../helpers/management.js';

const REALM = 'http://wharf.test/jwt/auth';
const SERVICE = 'container_registry';
const REPO = 'acme/web/chart';
const PUBLIC_REPO = 'open/site/chart';
const blob = Buffer.from('a layer for the token tests');
const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;

function ociError(res: RawResult, status: number, code: string): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body?.errors?.[0]?.code, code, res.text);
  assert.equal(typeof res.body.errors[0].message, 'string');
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

for (const dialect of DIALECTS) {
  describe(`OCI registry tokens [${dialect}]`, () => {
    let t: TestApp;
    const clock = new TestClock('2026-06-01T12:00:00.000Z');
    const auth: Record<string, string> = {};
    const ids: Record<string, number> = {};

    before(async () => {
      t = await startApp(dialect, { clock });
      const acme = await createGroup(t, 'acme', { visibility: 'private' });
      ids.web = (await createProject(t, 'web', acme.id, { visibility: 'private' })).id;
      const open = await createGroup(t, 'open', { visibility: 'public' });
      ids.site = (await createProject(t, 'site', open.id, { visibility: 'public' })).id;
      for (const [name, level] of [['maintainer', 40], ['developer', 30], ['reporter', 20], ['outsider', 0], ['leaver', 30], ['blocked', 30]] as const) {
        const user = await createUser(t, name);
        ids[name] = user.id;
        auth[name] = basic(name, await createPat(t, user.id));
        if (level > 0) await addMember(t, 'projects', ids.web, user.id, level);
      }
      auth.readApi = basic('maintainer', await createPat(t, ids.maintainer!, ['read_api']));
      const deploy = async (scopes: string[]) =>
        (await t.call('POST', `${API}/projects/${ids.web}/deploy_tokens`, { token: ROOT_TOKEN, body: { name: scopes.join('-'), scopes } })).body;
      const read = await deploy(['read_package_registry']);
      const write = await deploy(['write_package_registry']);
      auth.deployRead = basic(read.username, read.token);
      auth.deployWrite = basic(write.username, write.token);
    });
    after(() => t.close());

    const tokenFor = async (who: string | undefined, scopes: string[], service = SERVICE): Promise<RawResult> => {
      const q = new URLSearchParams({ service, account: who ?? '' });
      for (const s of scopes) q.append('scope', s);
      return send(t, 'GET', `/jwt/auth?${q}`, { headers: who ? { authorization: auth[who]! } : {} });
    };
    const grant = async (who: string | undefined, scopes: string[]): Promise<{ token: string; access: unknown }> => {
      const r = await tokenFor(who, scopes);
      assert.equal(r.status, 200, r.text);
      return { token: r.body.token, access: decodeJwt(r.body.token).access };
    };
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const getBlob = (repo: string, headers: Record<string, string> = {}) => send(t, 'GET', `/v2/${repo}/blobs/${digest}`, { headers });
    const startUpload = (repo: string, headers: Record<string, string> = {}) => send(t, 'POST', `/v2/${repo}/blobs/uploads/`, { headers });

    it('grants a Maintainer pull and push, in a short-lived HS256 JWT with the spec\'s claims', async () => {
      const r = await tokenFor('maintainer', [`repository:${REPO}:pull,push`]);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['cache-control'], 'no-store');
      assert.equal(r.body.token, r.body.access_token);
      assert.equal(r.body.expires_in, 300);
      assert.equal(r.body.issued_at, '2026-06-01T12:00:00.000Z');
      assert.deepEqual(decodeProtectedHeader(r.body.token), { alg: 'HS256', typ: 'JWT' });
      const claims = decodeJwt(r.body.token);
      assert.equal(claims.iss, 'http://wharf.test');
      assert.equal(claims.aud, SERVICE);
      assert.equal(claims.sub, 'maintainer');
      assert.equal(claims.iat, Date.parse('2026-06-01T12:00:00Z') / 1000);
      assert.equal(claims.nbf, claims.iat);
      assert.equal(claims.exp, claims.iat! + 300);
      assert.match(String(claims.jti), /^[0-9a-f-]{36}$/);
      assert.deepEqual(claims.access, [{ type: 'repository', name: REPO, actions: ['pull', 'push'] }]);

      // The token works for both: a monolithic upload, then a read.
      const put = await send(t, 'POST', `/v2/${REPO}/blobs/uploads/?digest=${digest}`, {
        headers: { ...bearer(r.body.token), 'content-type': 'application/octet-stream' },
        payload: blob,
      });
      assert.equal(put.status, 201, put.text);
      assert.equal((await getBlob(REPO, bearer(r.body.token))).status, 200);
      // So does `GET /v2/`, with any valid token of a known caller.
      assert.equal((await send(t, 'GET', '/v2/', { headers: bearer(r.body.token) })).status, 200);
    });

    it('grants only what the caller may do: the intersection of what was asked and the role', async () => {
      const all = `repository:${REPO}:pull,push,delete`;
      assert.deepEqual((await grant('maintainer', [all])).access, [{ type: 'repository', name: REPO, actions: ['pull', 'push', 'delete'] }]);
      assert.deepEqual((await grant('maintainer', [`repository:${REPO}:*`])).access, [{ type: 'repository', name: REPO, actions: ['pull', 'push', 'delete'] }]);
      assert.deepEqual((await grant('developer', [all])).access, [{ type: 'repository', name: REPO, actions: ['pull', 'push'] }]);
      assert.deepEqual((await grant('reporter', [`repository:${REPO}:pull,push`])).access, [{ type: 'repository', name: REPO, actions: ['pull'] }]);
      assert.deepEqual((await grant('readApi', [`repository:${REPO}:pull,push`])).access, [{ type: 'repository', name: REPO, actions: ['pull'] }]);
      assert.deepEqual((await grant('deployRead', [`repository:${REPO}:pull,push`])).access, [{ type: 'repository', name: REPO, actions: ['pull'] }]);
      assert.deepEqual((await grant('deployWrite', [`repository:${REPO}:pull,push`])).access, [{ type: 'repository', name: REPO, actions: ['pull', 'push'] }]);
      // Nothing on a project the caller may not see, nor on one that does not exist: the two look alike.
      assert.deepEqual((await grant('outsider', [`repository:${REPO}:pull`])).access, []);
      assert.deepEqual((await grant('maintainer', ['repository:acme/nothing/chart:pull'])).access, []);
      // Several scopes, repeated or space-separated; other resource types grant nothing.
      assert.deepEqual((await grant('maintainer', [`repository:${REPO}:pull repository:${PUBLIC_REPO}:pull,push`, 'registry:catalog:*'])).access, [
        { type: 'repository', name: REPO, actions: ['pull'] },
        { type: 'repository', name: PUBLIC_REPO, actions: ['pull'] },
      ]);
      // A known caller without scopes gets a token that grants nothing (what `helm registry login` checks with).
      assert.deepEqual((await grant('reporter', [])).access, []);
    });

    it('grants an anonymous caller pull on public projects only; a private project then answers 401 with the challenge', async () => {
      assert.deepEqual((await grant(undefined, [`repository:${PUBLIC_REPO}:pull,push`])).access, [{ type: 'repository', name: PUBLIC_REPO, actions: ['pull'] }]);
      const { token, access } = await grant(undefined, [`repository:${REPO}:pull`]);
      assert.deepEqual(access, []);
      const r = await getBlob(REPO, bearer(token));
      assert.equal(r.status, 401);
      assert.equal(r.headers['www-authenticate'], `Bearer realm="${REALM}",service="${SERVICE}",scope="repository:${REPO}:pull"`);
      // Anonymous and asking for nothing: nothing to grant (GitLab's answer).
      ociError(await tokenFor(undefined, []), 403, 'DENIED');
    });

    it('challenges with the token endpoint, the service and the scope the request needs', async () => {
      const base = await send(t, 'GET', '/v2/');
      ociError(base, 401, 'UNAUTHORIZED');
      assert.equal(base.headers['www-authenticate'], `Bearer realm="${REALM}",service="${SERVICE}"`);
      assert.equal((await getBlob(REPO)).headers['www-authenticate'], `Bearer realm="${REALM}",service="${SERVICE}",scope="repository:${REPO}:pull"`);
      const push = await startUpload(REPO);
      ociError(push, 401, 'UNAUTHORIZED');
      assert.equal(push.headers['www-authenticate'], `Bearer realm="${REALM}",service="${SERVICE}",scope="repository:${REPO}:pull,push"`);
      const del = await send(t, 'DELETE', `/v2/${REPO}/manifests/${digest}`);
      assert.equal(del.headers['www-authenticate'], `Bearer realm="${REALM}",service="${SERVICE}",scope="repository:${REPO}:delete"`);
      // Basic keeps working on /v2/ (skopeo, curl), and a bad Basic password is challenged the same way.
      assert.equal((await getBlob(REPO, { authorization: auth.reporter! })).status, 200);
      const bad = await getBlob(REPO, { authorization: basic('reporter', 'whpat-not-a-real-token-000000000000') });
      ociError(bad, 401, 'UNAUTHORIZED');
      assert.match(bad.headers['www-authenticate'] as string, /^Bearer realm=/);
    });

    it('answers 403 DENIED when the identity behind a token may not do the action, 401 when only the token lacks it', async () => {
      const reporter = (await grant('reporter', [`repository:${REPO}:pull,push`])).token;
      ociError(await startUpload(REPO, bearer(reporter)), 403, 'DENIED');
      const pullOnly = (await grant('maintainer', [`repository:${REPO}:pull`])).token;
      const r = await startUpload(REPO, bearer(pullOnly));
      ociError(r, 401, 'UNAUTHORIZED');
      assert.equal(r.headers['www-authenticate'], `Bearer realm="${REALM}",service="${SERVICE}",scope="repository:${REPO}:pull,push",error="insufficient_scope"`);
      // A token for another repository of the same project grants nothing here.
      const other = (await grant('maintainer', ['repository:acme/web/otherchart:pull,push'])).token;
      const o = await getBlob(REPO, bearer(other));
      ociError(o, 401, 'UNAUTHORIZED');
      assert.match(o.headers['www-authenticate'] as string, /error="insufficient_scope"/);
    });

    it('refuses bad credentials, unknown services and unbounded scopes at /jwt/auth', async () => {
      const wrong = await send(t, 'GET', `/jwt/auth?service=${SERVICE}&scope=repository:${REPO}:pull`, {
        headers: { authorization: basic('maintainer', 'whpat-wrong-password-0000000000000000') },
      });
      ociError(wrong, 401, 'UNAUTHORIZED');
      assert.equal(wrong.headers['www-authenticate'], 'Basic realm="Wharf registry"');
      assert.match(wrong.body.errors[0].message, /personal access token or a deploy token/);
      ociError(await tokenFor('maintainer', [`repository:${REPO}:pull`], 'another_registry'), 400, 'UNSUPPORTED');
      ociError(await send(t, 'GET', `/jwt/auth?scope=repository:${REPO}:pull`, { headers: { authorization: auth.maintainer! } }), 400, 'UNSUPPORTED');
      const many = Array.from({ length: 17 }, (_, i) => `repository:acme/web/c${i}:pull`);
      ociError(await tokenFor('maintainer', many), 400, 'UNSUPPORTED');
      ociError(await tokenFor('maintainer', [`repository:acme/web/${'a'.repeat(600)}:pull`]), 400, 'UNSUPPORTED');
    });

    it('refuses tampered, unsigned, expired and foreign-audience tokens', async () => {
      const { token } = await grant('reporter', [`repository:${REPO}:pull`]);
      const [header, payload, signature] = token.split('.') as [string, string, string];
      const claims = decodeJwt(token);
      const widened = b64({ ...claims, access: [{ type: 'repository', name: REPO, actions: ['pull', 'push', 'delete'] }] });
      const expectInvalid = async (jwt: string, what: string) => {
        const r = await getBlob(REPO, bearer(jwt));
        ociError(r, 401, 'UNAUTHORIZED');
        assert.match(r.headers['www-authenticate'] as string, /error="invalid_token"/, what);
      };
      await expectInvalid(`${header}.${widened}.${signature}`, 'tampered payload');
      await expectInvalid(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`, 'alg none');
      await expectInvalid(`${b64({ alg: 'none', typ: 'JWT' })}.${widened}.`, 'alg none, widened');
      await expectInvalid('not-a-jwt', 'garbage');

      // Signed with the real key, but for another audience: refused for that reason alone.
      const row = await t.deps.database.db.selectFrom('registry_token_keys').select('secret').executeTakeFirstOrThrow();
      const key = new Uint8Array(Buffer.from(row.secret, 'base64url'));
      const foreign = await new SignJWT({ ...claims, aud: 'another_registry' }).setProtectedHeader({ alg: 'HS256' }).sign(key);
      await expectInvalid(foreign, 'another audience');
      const good = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(key);
      assert.equal((await getBlob(REPO, bearer(good))).status, 200, 'the same claims with the right audience pass');

      // Five minutes, plus the ten seconds of skew tolerated between instances.
      clock.advance(305_000);
      assert.equal((await getBlob(REPO, bearer(token))).status, 200);
      clock.advance(10_000);
      const expired = await getBlob(REPO, bearer(token));
      await expectInvalid(token, 'expired');
      assert.match(expired.body.errors[0].message, /expired/);
    });

    it('stops a token at once when its PAT is revoked, its user blocked or removed from the project', async () => {
      const leaver = (await grant('leaver', [`repository:${REPO}:pull,push`])).token;
      const blocked = (await grant('blocked', [`repository:${REPO}:pull,push`])).token;
      const patUser = await createUser(t, 'revoker');
      await addMember(t, 'projects', ids.web!, patUser.id, 30);
      const pat = await createPat(t, patUser.id);
      const viaPat = (await send(t, 'GET', `/jwt/auth?service=${SERVICE}&scope=repository:${REPO}:pull`, { headers: { authorization: basic('revoker', pat) } })).body.token;
      for (const tok of [leaver, blocked, viaPat]) assert.equal((await getBlob(REPO, bearer(tok))).status, 200);

      const self = await t.call('GET', `${API}/personal_access_tokens/self`, { token: pat });
      assert.equal((await t.call('DELETE', `${API}/personal_access_tokens/${self.body.id}`, { token: ROOT_TOKEN })).status, 204);
      ociError(await getBlob(REPO, bearer(viaPat)), 401, 'UNAUTHORIZED');

      // Wharf has no block endpoint yet: blocked in the database, as an operator would.
      await t.deps.database.db.updateTable('users').set({ state: 'blocked' }).where('id', '=', ids.blocked!).execute();
      ociError(await getBlob(REPO, bearer(blocked)), 401, 'UNAUTHORIZED');

      assert.equal((await t.call('DELETE', `${API}/projects/${ids.web}/members/${ids.leaver}`, { token: ROOT_TOKEN })).status, 204);
      ociError(await getBlob(REPO, bearer(leaver)), 404, 'NAME_UNKNOWN');
    });

    it('accepts a token issued by another instance on the same database', async () => {
      const peer = await startPeer(t, { clock });
      try {
        const r = await peer.app.inject({ method: 'GET', url: `/jwt/auth?service=${SERVICE}&scope=repository:${REPO}:pull`, headers: { authorization: auth.reporter! } });
        assert.equal(r.statusCode, 200, r.body);
        const token = (JSON.parse(r.body) as { token: string }).token;
        assert.equal((await getBlob(REPO, bearer(token))).status, 200);
      } finally {
        await peer.close();
      }
    });

    it('counts /v2/ and /jwt/auth under the package rate limits, answering TOO_MANY_REQUESTS in the OCI shape', async () => {
      const put = await t.call('PUT', `${API}/application/settings`, {
        token: ROOT_TOKEN,
        body: { throttle_unauthenticated_packages_api_enabled: true, throttle_unauthenticated_packages_api_requests_per_period: 2, throttle_unauthenticated_packages_api_period_in_seconds: 60 },
      });
      assert.equal(put.status, 200, put.text);
      clock.advance(6_000);
      try {
        const get = (url: string) => t.app.inject({ method: 'GET', url, remoteAddress: '203.0.113.9' });
        assert.notEqual((await get(`/v2/${PUBLIC_REPO}/tags/list`)).statusCode, 429);
        assert.equal((await get(`/jwt/auth?service=${SERVICE}&scope=repository:${PUBLIC_REPO}:pull`)).statusCode, 200);
        const r = await get(`/v2/${PUBLIC_REPO}/tags/list`);
        assert.equal(r.statusCode, 429, r.body);
        assert.deepEqual(JSON.parse(r.body), { errors: [{ code: 'TOO_MANY_REQUESTS', message: 'Retry later', detail: null }] });
        assert.ok(Number(r.headers['retry-after']) >= 1);
        assert.equal(r.headers['ratelimit-name'], 'throttle_unauthenticated_packages_api');
        assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
        const tok = await get(`/jwt/auth?service=${SERVICE}&scope=repository:${PUBLIC_REPO}:pull`);
        assert.equal(tok.statusCode, 429);
        assert.equal(JSON.parse(tok.body).errors[0].code, 'TOO_MANY_REQUESTS');
      } finally {
        await t.call('PUT', `${API}/application/settings`, { token: ROOT_TOKEN, body: { throttle_unauthenticated_packages_api_enabled: false } });
        clock.advance(6_000);
      }
    });
  });
}
