/**
 * `npm audit` with forwarding on, on SQLite and PostgreSQL (docs/npm.md#npm-audit-with-forwarding-on): Wharf posts the body to the
 * upstream itself (a loopback fake registry here) without any name that exists on the instance, in any project
 * and visibility, nor any name in the scope of a local top-level namespace, and answers what the upstream
 * answered; offline it answers an empty report without asking; the client's credentials never go upstream.
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { bearer, createNpmWorld, npmBase, published, type NpmWorld } from '../helpers/npm.js';

/** Names that exist here or lie in a local scope, in every spelling the rule must catch. */
const PRIVATE = ['@privgrp/secret', 'internal-tool', '@pubgrp/open', '@privgrp/never-published', '@PrivGrp/upper-case-scope', '@guest/personal'];
const PUBLIC = ['fx-theta', 'left-pad', '@fx/beta', '@privgrpx/lookalike'];

const BULK = Object.fromEntries([...PRIVATE, ...PUBLIC].map((n) => [n, ['1.1.0']]));

/** npm 6's tree (audits/quick) with private names at the top, nested, in `requires` and as the root itself. */
const QUICK = {
  name: '@privgrp/the-app',
  version: '1.0.0',
  requires: { 'fx-theta': '^1.0.0', '@privgrp/secret': '^1.0.0', 'internal-tool': '1.0.0' },
  dependencies: {
    'fx-theta': { version: '1.1.0', integrity: 'sha512-x', requires: { 'fx-mu': '^1.0.0', 'internal-tool': '^1.0.0' } },
    'fx-mu': { version: '1.2.3' },
    '@privgrp/secret': { version: '1.0.0', requires: { 'left-pad': '^1.0.0' }, dependencies: { 'left-pad': { version: '1.3.0' } } },
    'internal-tool': { version: '1.0.0' },
  },
  install: [],
  remove: ['internal-tool@1.0.0'],
  metadata: { npm_version: '10.9.0' },
};
const QUICK_PRUNED = {
  version: '1.0.0',
  requires: { 'fx-theta': '^1.0.0' },
  dependencies: {
    'fx-theta': { version: '1.1.0', integrity: 'sha512-x', requires: { 'fx-mu': '^1.0.0' } },
    'fx-mu': { version: '1.2.3' },
  },
  install: [],
  remove: [],
  metadata: { npm_version: '10.9.0' },
};

for (const dialect of DIALECTS) {
  describe(`npm audit forwarded without local names (docs/npm.md#npm-audit-with-forwarding-on) [${dialect}]`, () => {
    let t: TestApp;
    let w: NpmWorld;
    let up: FakeUpstream;
    let groupId: number;

    const settings = async (body: Record<string, unknown>) =>
      assert.equal((await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body })).status, 200);
    const bases = () => ({
      P: `${npmBase(w.project.private)}/-/npm/v1/security`,
      G: `/api/v4/groups/${groupId}/-/packages/npm/-/npm/v1/security`,
      I: '/api/v4/packages/npm/-/npm/v1/security',
    });
    const post = async (url: string, body: unknown, gzip: boolean, token = w.token.guest) => {
      const json = Buffer.from(JSON.stringify(body));
      const res = await t.app.inject({
        method: 'POST',
        url,
        headers: { ...bearer(token), 'content-type': 'application/json', ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
        payload: gzip ? gzipSync(json) : json,
      });
      return { status: res.statusCode, headers: res.headers, body: JSON.parse(res.body) as any, text: res.body };
    };

    before(async () => {
      t = await startApp(dialect);
      w = await createNpmWorld(t);
      groupId = ((await t.call('GET', '/api/v4/groups/privgrp', { token: ROOT_TOKEN })).body as { id: number }).id;
      // A private scoped package, a private unscoped one, and a public one: all local, none may leave.
      await published(t, w.project.private, '@privgrp/secret', '1.0.0');
      await published(t, w.project.private, 'internal-tool', '1.0.0');
      await published(t, w.project.public, '@pubgrp/open', '1.0.0');
      up = await startFakeUpstream();
      await settings({ npm_package_requests_forwarding: true, npm_package_requests_forwarding_url: up.url });
    });
    after(async () => {
      await up?.close();
      await t?.close();
    });
    beforeEach(() => up.clearLog());

    for (const gzip of [true, false]) {
      const how = gzip ? 'gzip' : 'plain JSON';
      it(`advisories/bulk (${how}): the upstream gets only the public names, at every scope, and its answer is relayed`, async () => {
        for (const [scope, base] of Object.entries(bases())) {
          up.clearLog();
          const r = await post(`${base}/advisories/bulk`, BULK, gzip);
          assert.equal(r.status, 200, `${scope}: ${r.text}`);
          assert.match(String(r.headers['content-type']), /^application\/json/);
          assert.deepEqual(Object.keys(r.body), ['fx-theta'], scope);
          assert.equal(r.body['fx-theta'][0].id, 1099001);
          const [sent, ...more] = up.auditRequests();
          assert.equal(more.length, 0);
          assert.equal(sent!.path, '/-/npm/v1/security/advisories/bulk');
          assert.deepEqual(sent!.body, Object.fromEntries(PUBLIC.map((n) => [n, ['1.1.0']])), scope);
          assert.equal(sent!.headers['content-encoding'], gzip ? 'gzip' : undefined);
        }
      });

      it(`audits/quick (${how}): private names go from the tree, nested and in requires, and from the root`, async () => {
        for (const [scope, base] of Object.entries(bases())) {
          up.clearLog();
          const r = await post(`${base}/audits/quick`, QUICK, gzip);
          assert.equal(r.status, 200, `${scope}: ${r.text}`);
          assert.deepEqual(Object.keys(r.body.advisories), ['1099001']);
          const [sent] = up.auditRequests();
          assert.equal(sent!.path, '/-/npm/v1/security/audits/quick');
          assert.deepEqual(sent!.body, QUICK_PRUNED, scope);
          const text = JSON.stringify(sent!.body);
          for (const name of PRIVATE) assert.ok(!text.includes(name), `${name} reached the upstream`);
        }
      });
    }

    it("never sends the client's credentials upstream; the upstream token when one is set", async () => {
      await post(`${bases().P}/advisories/bulk`, BULK, true);
      assert.equal(up.auditRequests()[0]!.headers.authorization, undefined);
      await settings({ npm_proxy_upstream_token: 'upstream-secret-1' });
      try {
        up.clearLog();
        await post(`${bases().I}/advisories/bulk`, BULK, true);
        assert.equal(up.auditRequests()[0]!.headers.authorization, 'Bearer upstream-secret-1');
        // Write-only: the API says that one is set, never what it is.
        const shown = await t.call('GET', '/api/v4/application/settings', { token: ROOT_TOKEN });
        assert.equal(shown.body.npm_proxy_upstream_token_set, true);
        assert.equal('npm_proxy_upstream_token' in shown.body, false);
        assert.ok(!shown.text.includes('upstream-secret-1'));
        const events = await t.call('GET', '/api/v4/audit_events?per_page=100', { token: ROOT_TOKEN });
        assert.equal(events.status, 200, events.text);
        assert.ok(events.text.includes('npm_proxy_upstream_token'), 'the change is recorded');
        assert.ok(!events.text.includes('upstream-secret-1'), 'the token is in an audit event');
      } finally {
        await settings({ npm_proxy_upstream_token: null });
      }
      assert.equal((await t.call('GET', '/api/v4/application/settings', { token: ROOT_TOKEN })).body.npm_proxy_upstream_token_set, false);
    });

    it('validates the two settings: a token fit for a header, a boolean', async () => {
      for (const [key, value] of [
        ['npm_proxy_upstream_token', 'two words'],
        ['npm_proxy_upstream_token', 'line\r\nx-injected: 1'],
        ['npm_proxy_upstream_token', 'x'.repeat(4097)],
        ['npm_proxy_upstream_token', 42],
        ['npm_proxy_offline', 'maybe'],
      ] as const) {
        const r = await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { [key]: value } });
        assert.equal(r.status, 400, `${key}=${JSON.stringify(value)}: ${r.text}`);
        assert.ok(r.body.message[key], r.text);
      }
      const shown = (await t.call('GET', '/api/v4/application/settings', { token: ROOT_TOKEN })).body;
      assert.equal(shown.npm_proxy_offline, false);
      assert.equal(shown.npm_proxy_upstream_token_set, false);
    });

    it('a body of private names only is answered here: the upstream is not asked', async () => {
      const bulk = await post(`${bases().I}/advisories/bulk`, Object.fromEntries(PRIVATE.map((n) => [n, ['1.0.0']])), true);
      assert.equal(bulk.status, 200);
      assert.deepEqual(bulk.body, {});
      const quick = await post(`${bases().P}/audits/quick`, { name: 'x', version: '1.0.0', requires: { '@privgrp/secret': '1' }, dependencies: { '@privgrp/secret': { version: '1.0.0' } } }, true);
      assert.equal(quick.status, 200);
      assert.deepEqual(quick.body.advisories, {});
      assert.equal(up.auditRequests().length, 0);
    });

    it('offline: 200 {} (an empty report for quick) without asking the upstream', async () => {
      await settings({ npm_proxy_offline: true });
      try {
        for (const base of Object.values(bases())) {
          const bulk = await post(`${base}/advisories/bulk`, BULK, true);
          assert.equal(bulk.status, 200, bulk.text);
          assert.deepEqual(bulk.body, {});
          const quick = await post(`${base}/audits/quick`, QUICK, false);
          assert.equal(quick.status, 200, quick.text);
          assert.deepEqual(quick.body.advisories, {});
          assert.equal(quick.body.metadata.vulnerabilities.critical, 0);
        }
        assert.equal(up.auditRequests().length, 0);
      } finally {
        await settings({ npm_proxy_offline: false });
      }
    });

    it('the upstream down: 502 with a message npm prints; anonymous callers are still refused first', async () => {
      await up.stop();
      try {
        const r = await post(`${bases().I}/advisories/bulk`, BULK, true);
        assert.equal(r.status, 502, r.text);
        assert.match(r.body.error, /upstream registry's audit failed: it could not be reached/);
      } finally {
        await up.start();
      }
      const anonymous = await t.app.inject({ method: 'POST', url: `${bases().I}/advisories/bulk`, headers: { 'content-type': 'application/json' }, payload: '{}' });
      assert.equal(anonymous.statusCode, 401);
      assert.equal(up.auditRequests().length, 0);
    });

    it('a body that is not a JSON object is refused, and nothing is sent', async () => {
      const r = await post(`${bases().P}/advisories/bulk`, ['left-pad'], false);
      assert.equal(r.status, 400, r.text);
      assert.equal(up.auditRequests().length, 0);
    });

    it('forwarding off: the answers GitLab gives, nothing sent upstream', async () => {
      await settings({ npm_package_requests_forwarding: false });
      try {
        const p = await post(`${bases().P}/advisories/bulk`, BULK, true);
        assert.equal(p.status, 200);
        assert.deepEqual(p.body, []);
        for (const base of [bases().G, bases().I]) {
          const r = await post(`${base}/audits/quick`, QUICK, true);
          assert.equal(r.status, 404);
          assert.deepEqual(r.body, { message: '404 Project Not Found', error: 'Project not found' });
        }
        assert.equal(up.auditRequests().length, 0);
      } finally {
        await settings({ npm_package_requests_forwarding: true });
      }
    });
  });
}
