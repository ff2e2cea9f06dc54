/**
 * `npm audit` routes on SQLite and PostgreSQL: every cell of docs/design/gitlab-compatibility.md#matrix-audit at project (P4/P5), group
 * (G4/G5) and instance (I4/I5) scope, with the gzip-compressed bodies npm sends (docs/design/client-protocols.md#npm-audit).
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { startFakeUpstream } from '../helpers/fake-upstream.js';
import { bearer, createNpmWorld, npmBase, type NpmWorld } from '../helpers/npm.js';

const PATHS = ['advisories/bulk', 'audits/quick'] as const;
const BODY = { '@gitlab-org/npm-test': ['1.0.6'], 'call-bind': ['1.0.2'] };

for (const dialect of DIALECTS) {
  describe(`npm audit endpoints (docs/design/gitlab-compatibility.md#matrix-audit) [${dialect}]`, () => {
    let t: TestApp;
    let w: NpmWorld;
    let groupId: number;

    /** POSTs the body gzipped, as npm does. */
    const post = async (url: string, token?: string, payload: Buffer = gzipSync(JSON.stringify(BODY)), encoding = 'gzip') => {
      const res = await t.app.inject({
        method: 'POST',
        url,
        headers: { ...bearer(token), 'content-type': 'application/json', ...(encoding ? { 'content-encoding': encoding } : {}) },
        payload,
      });
      let body: any;
      try {
        body = JSON.parse(res.body);
      } catch {
        body = undefined;
      }
      return { status: res.statusCode, headers: res.headers, body, text: res.body };
    };
    const setForwarding = async (on: boolean) =>
      assert.equal((await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { npm_package_requests_forwarding: on } })).status, 200);

    const scopes = () => ({
      P: `${npmBase(w.project.private)}/-/npm/v1/security`,
      G: `/api/v4/groups/${groupId}/-/packages/npm/-/npm/v1/security`,
      I: '/api/v4/packages/npm/-/npm/v1/security',
    });

    before(async () => {
      t = await startApp(dialect);
      w = await createNpmWorld(t);
      groupId = ((await t.call('GET', '/api/v4/groups/privgrp', { token: ROOT_TOKEN })).body as { id: number }).id;
    });
    after(async () => t.close());

    for (const path of PATHS) {
      it(`${path}: anonymous → 401 at every scope, forwarding on or off`, async () => {
        for (const on of [false, true]) {
          await setForwarding(on);
          for (const base of Object.values(scopes())) {
            const r = await post(`${base}/${path}`);
            assert.equal(r.status, 401, `${base} forwarding=${on}`);
            assert.deepEqual(r.body, { message: '401 Unauthorized' });
          }
        }
        await setForwarding(false);
      });

      it(`${path}: a revoked token → 401`, async () => {
        for (const base of Object.values(scopes())) assert.equal((await post(`${base}/${path}`, w.token.revoked)).status, 401);
      });

      // GitLab answers 307 here; Wharf asks the upstream itself without local names (npm-audit-forwarding.test.ts).
      it(`${path}: forwarding on → the upstream's answer to its same path, no redirect, at every scope`, async () => {
        const up = await startFakeUpstream({ tree: false });
        await t.call('PUT', '/api/v4/application/settings', { token: ROOT_TOKEN, body: { npm_package_requests_forwarding_url: up.url } });
        await setForwarding(true);
        try {
          for (const base of Object.values(scopes())) {
            up.clearLog();
            const r = await post(`${base}/${path}`, w.token.guest);
            assert.equal(r.status, 200, `${base}: ${r.text}`);
            assert.equal(r.headers.location, undefined);
            // BODY is in the bulk shape: as a quick (tree) body it names no dependency, so nothing is asked.
            assert.deepEqual(up.auditRequests().map((e) => e.path), path === 'advisories/bulk' ? [`/-/npm/v1/security/${path}`] : []);
          }
        } finally {
          await setForwarding(false);
          await up.close();
        }
      });

      it(`${path}: forwarding off, project scope → 200 [] for a private project's guest, reporter and deploy tokens`, async () => {
        for (const tok of [w.token.guest, w.token.reporter, w.token.deployRead, w.token.deployWrite]) {
          const r = await post(`${scopes().P}/${path}`, tok);
          assert.equal(r.status, 200, r.text);
          assert.deepEqual(r.body, []);
          assert.match(String(r.headers['content-type']), /^application\/json/);
        }
        // A caller who may not see the project gets GitLab's 404.
        const outsider = await post(`${scopes().P}/${path}`, w.token.outsider);
        assert.equal(outsider.status, 404);
        assert.deepEqual(outsider.body, { message: '404 Project Not Found', error: 'Project not found' });
      });

      it(`${path}: forwarding off, group or instance scope → 404 Project not found`, async () => {
        for (const base of [scopes().G, scopes().I]) {
          const r = await post(`${base}/${path}`, w.token.reporter);
          assert.equal(r.status, 404);
          assert.deepEqual(r.body, { message: '404 Project Not Found', error: 'Project not found' });
        }
      });
    }

    it('accepts an uncompressed body too (pnpm 11 sends plain JSON)', async () => {
      const r = await post(`${scopes().P}/advisories/bulk`, w.token.guest, Buffer.from(JSON.stringify(BODY)), '');
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, []);
    });

    it('refuses a body that says gzip but is not, and an encoding it does not know', async () => {
      const bad = await post(`${scopes().P}/advisories/bulk`, w.token.guest, Buffer.from('{"not":"gzip"}'));
      assert.equal(bad.status, 400, bad.text);
      assert.match(bad.body.error, /gzip/);
      const br = await post(`${scopes().P}/advisories/bulk`, w.token.guest, Buffer.from('x'), 'br');
      assert.equal(br.status, 415, br.text);
    });

    it('refuses a gzip bomb: the inflated body is capped', async () => {
      const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
      assert.ok(bomb.length < 200 * 1024);
      const r = await post(`${scopes().P}/advisories/bulk`, w.token.guest, bomb);
      assert.equal(r.status, 413, r.text);
    });

    it('the web login is not offered: POST …/-/v1/login → 404 at every scope (npm and pnpm then use the legacy login)', async () => {
      for (const base of [npmBase(w.project.public), `/api/v4/groups/${groupId}/-/packages/npm`, '/api/v4/packages/npm']) {
        const r = await t.call('POST', `${base}/-/v1/login`, { body: {} });
        assert.equal(r.status, 404, base);
      }
    });
  });
}
