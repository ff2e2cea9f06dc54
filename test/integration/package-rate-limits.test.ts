/**
 * GitLab's package registry rate limits: off by default; when an administrator turns them on, anonymous requests
 * are counted per client address and authenticated ones per user (or deploy token), and one too many is
 * `429 Retry later` with `Retry-After` and `RateLimit-*` headers. Requests the hot lane would answer before
 * routing are counted too (over a real socket).
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, TestClock, type TestApp } from '../helpers/app.js';
import { API, createGroup, createProject, userWithToken } from '../helpers/management.js';
import { esc, npmBase, publishBody, publish } from '../helpers/npm.js';

const OFF = {
  throttle_unauthenticated_packages_api_enabled: false,
  throttle_authenticated_packages_api_enabled: false,
};

for (const dialect of DIALECTS) {
  describe(`package registry rate limits (${dialect})`, () => {
    let t: TestApp;
    const clock = new TestClock('2026-06-01T12:00:07.000Z');
    let projectId: number;
    let alice: string;
    let bob: string;
    let packument: string;
    before(async () => {
      t = await startApp(dialect, { clock });
      const group = await createGroup(t, 'open', { visibility: 'public' });
      projectId = (await createProject(t, 'lib', group.id, { visibility: 'public' })).id;
      alice = (await userWithToken(t, 'alice')).token;
      bob = (await userWithToken(t, 'bob')).token;
      assert.equal((await publish(t, projectId, publishBody('@open/pkg', '1.0.0').body)).status, 200);
      packument = `${npmBase(projectId)}/${esc('@open/pkg')}`;
    });
    after(() => t.close());
    beforeEach(async () => {
      await settings(OFF);
    });

    /** Changes the settings and lets the limiter's copy of them (read at most every 5 s) expire. */
    const settings = async (body: Record<string, unknown>) => {
      const r = await t.call('PUT', `${API}/application/settings`, { token: ROOT_TOKEN, body });
      assert.equal(r.status, 200, r.text);
      clock.advance(6_000);
    };
    const get = async (url: string, opts: { token?: string; address?: string; headers?: Record<string, string> } = {}) => {
      const r = await t.app.inject({
        method: 'GET',
        url,
        remoteAddress: opts.address ?? '203.0.113.5',
        headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers },
      });
      return { status: r.statusCode, headers: r.headers, body: r.body };
    };

    it('is off by default: settings say so, and many requests are all answered', async () => {
      const s = await t.call('GET', `${API}/application/settings`, { token: ROOT_TOKEN });
      for (const kind of ['unauthenticated', 'authenticated']) {
        assert.equal(s.body[`throttle_${kind}_packages_api_enabled`], false);
        assert.equal(typeof s.body[`throttle_${kind}_packages_api_requests_per_period`], 'number');
        assert.equal(typeof s.body[`throttle_${kind}_packages_api_period_in_seconds`], 'number');
      }
      for (let i = 0; i < 30; i++) assert.equal((await get(packument)).status, 200);
    });

    it('anonymous: counted per address; the request over the limit is 429 with Retry-After and RateLimit headers', async () => {
      await settings({ throttle_unauthenticated_packages_api_enabled: true, throttle_unauthenticated_packages_api_requests_per_period: 3, throttle_unauthenticated_packages_api_period_in_seconds: 60 });
      for (let i = 0; i < 3; i++) assert.equal((await get(packument)).status, 200, `request ${i + 1}`);
      const over = await get(`${packument}/-/pkg-1.0.0.tgz`);
      assert.equal(over.status, 429);
      assert.deepEqual(JSON.parse(over.body), { message: 'Retry later', error: 'Retry later' });
      const retryAfter = Number(over.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 60, String(retryAfter));
      assert.equal(over.headers['ratelimit-name'], 'throttle_unauthenticated_packages_api');
      assert.equal(over.headers['ratelimit-limit'], '3');
      assert.equal(over.headers['ratelimit-remaining'], '0');
      assert.ok(over.headers['ratelimit-reset']);
      // Another address, an authenticated caller, and paths outside the package API are not affected.
      assert.equal((await get(packument, { address: '203.0.113.6' })).status, 200);
      assert.equal((await get(packument, { token: alice })).status, 200);
      assert.equal((await get(`${API}/projects/${projectId}`)).status, 200);
      // The instance and group npm endpoints and Helm count against the same address.
      assert.equal((await get(`${API}/packages/npm/${esc('@open/pkg')}`)).status, 429);
      assert.equal((await get(`${API}/projects/${projectId}/packages/helm/stable/index.yaml`)).status, 429);
      // Percent-encoded spellings of the path that the router still matches are counted too.
      assert.equal((await get(`${API}/projects/${projectId}/packages/%68elm/stable/index.yaml`)).status, 429);
      // A bad token counts as anonymous (and is still refused as such once under the limit).
      assert.equal((await get(packument, { token: 'glpat-not-a-real-token' })).status, 429);
      // The next window opens again.
      clock.advance(retryAfter * 1000);
      assert.equal((await get(packument)).status, 200);
    });

    it('authenticated: counted per user, not per address', async () => {
      await settings({ throttle_authenticated_packages_api_enabled: true, throttle_authenticated_packages_api_requests_per_period: 2, throttle_authenticated_packages_api_period_in_seconds: 30 });
      assert.equal((await get(packument, { token: alice, address: '198.51.100.1' })).status, 200);
      assert.equal((await get(packument, { token: alice, address: '198.51.100.2' })).status, 200);
      const over = await get(packument, { token: alice, address: '198.51.100.3' });
      assert.equal(over.status, 429);
      assert.equal(over.headers['ratelimit-name'], 'throttle_authenticated_packages_api');
      assert.equal((await get(packument, { token: bob, address: '198.51.100.1' })).status, 200);
      // Anonymous requests are not limited by the authenticated limit.
      for (let i = 0; i < 5; i++) assert.equal((await get(packument, { address: '198.51.100.1' })).status, 200);
      // Helm's Basic credentials identify the user as well.
      const basic = { authorization: `Basic ${Buffer.from(`alice:${alice}`).toString('base64')}` };
      assert.equal((await get(`${API}/projects/${projectId}/packages/helm/stable/index.yaml`, { headers: basic })).status, 429);
    });

    it('deploy tokens are counted per token', async () => {
      const created = await t.call('POST', `${API}/projects/${projectId}/deploy_tokens`, { token: ROOT_TOKEN, body: { name: 'ci', scopes: ['read_package_registry'] } });
      await settings({ throttle_authenticated_packages_api_enabled: true, throttle_authenticated_packages_api_requests_per_period: 1, throttle_authenticated_packages_api_period_in_seconds: 30 });
      assert.equal((await get(packument, { token: created.body.token })).status, 200);
      assert.equal((await get(packument, { token: created.body.token })).status, 429);
    });

    it('the settings are validated and only administrators change them', async () => {
      const bad = await t.call('PUT', `${API}/application/settings`, { token: ROOT_TOKEN, body: { throttle_unauthenticated_packages_api_requests_per_period: 0 } });
      assert.equal(bad.status, 400);
      const anon = await t.call('PUT', `${API}/application/settings`, { body: { throttle_unauthenticated_packages_api_enabled: true } });
      assert.equal(anon.status, 401);
      const user = await t.call('PUT', `${API}/application/settings`, { token: alice, body: { throttle_unauthenticated_packages_api_enabled: true } });
      assert.equal(user.status, 403);
    });

    it('requests the hot lane would answer are counted as well (real socket)', async () => {
      const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
      try {
        const url = `${base}${packument}`;
        // Warm the lane while the limit is off.
        for (let i = 0; i < 3; i++) assert.equal((await fetch(url)).status, 200);
        await settings({ throttle_unauthenticated_packages_api_enabled: true, throttle_unauthenticated_packages_api_requests_per_period: 4, throttle_unauthenticated_packages_api_period_in_seconds: 60 });
        // The limiter's copy of the settings is refreshed without blocking the lane: give it a moment.
        await fetch(url);
        await new Promise((resolve) => setTimeout(resolve, 50));
        const statuses: number[] = [];
        for (let i = 0; i < 6; i++) statuses.push((await fetch(url)).status);
        assert.ok(statuses.includes(429), statuses.join(','));
        assert.equal(statuses.at(-1), 429);
      } finally {
        await settings(OFF);
      }
    });
  });
}
