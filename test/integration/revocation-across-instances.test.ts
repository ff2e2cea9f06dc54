/**
 * Revoked means revoked, on every instance, from the next request on. Two Wharf apps (A and B) share one database
 * — one PostgreSQL schema, or one SQLite file opened by two connections — and each has its own identity cache.
 * A token B has just used (so B holds it in its cache) is revoked through A; B's very next request is refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { App } from '../../src/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, startPeer, type PeerApp, type TestApp } from '../helpers/app.js';
import { API, addMember, createGroup, createProject, createPat, createUser } from '../helpers/management.js';

/**
 * A request to B, arriving as a request from the network does: in a later turn of the event loop than whatever
 * happened before it. (`inject()` alone can run A's write and B's next request in one turn, which no client
 * talking over sockets can; SQLite's change signal looks for other connections' commits once per turn.)
 */
const get = async (app: App, url: string, headers: Record<string, string>) => {
  await new Promise((resolve) => setImmediate(resolve));
  const r = await app.inject({ method: 'GET', url, headers });
  return { status: r.statusCode, body: r.body };
};

for (const dialect of DIALECTS) {
  describe(`revocation across instances (${dialect})`, () => {
    let a: TestApp;
    let b: PeerApp;
    let userId: number;
    before(async () => {
      a = await startApp(dialect);
      b = await startPeer(a);
      userId = (await createUser(a, 'dana')).id;
    });
    after(async () => {
      await b.close();
      await a.close();
    });

    it('a personal access token revoked through A is refused by B at once', async () => {
      const created = await a.call('POST', `${API}/users/${userId}/personal_access_tokens`, {
        token: ROOT_TOKEN,
        body: { name: 'short-lived', scopes: ['api'], expires_at: new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10) },
      });
      assert.equal(created.status, 201, created.text);
      const token: string = created.body.token;
      // Twice through B, so the second answer comes from B's cache.
      for (let i = 0; i < 2; i++) assert.equal((await get(b.app, `${API}/user`, { 'private-token': token })).status, 200);
      assert.equal((await a.call('DELETE', `${API}/personal_access_tokens/${created.body.id}`, { token: ROOT_TOKEN })).status, 204);
      const after = await get(b.app, `${API}/user`, { 'private-token': token });
      assert.equal(after.status, 401, after.body);
    });

    it('npm logout through A ends the token on B at once', async () => {
      const token = await createPat(a, userId);
      const url = `${API}/packages/npm/-/whoami`;
      for (let i = 0; i < 2; i++) assert.equal((await get(b.app, url, { authorization: `Bearer ${token}` })).status, 200);
      const out = await a.app.inject({ method: 'DELETE', url: `${API}/packages/npm/-/user/token/${token}`, headers: { authorization: `Bearer ${token}` } });
      assert.equal(out.statusCode, 200);
      assert.equal((await get(b.app, url, { authorization: `Bearer ${token}` })).status, 401);
    });

    it('a deploy token deleted through A is refused by B at once', async () => {
      const group = await createGroup(a, 'deploygrp', { visibility: 'private' });
      const project = await createProject(a, 'lib', group.id, { visibility: 'private' });
      const created = await a.call('POST', `${API}/projects/${project.id}/deploy_tokens`, { token: ROOT_TOKEN, body: { name: 'ci', scopes: ['read_package_registry'] } });
      assert.equal(created.status, 201);
      const url = `${API}/projects/${project.id}/packages/npm/-/whoami`;
      const auth = { authorization: `Bearer ${created.body.token as string}` };
      for (let i = 0; i < 2; i++) assert.equal((await get(b.app, url, auth)).status, 200);
      const del = await a.call('DELETE', `${API}/projects/${project.id}/deploy_tokens/${created.body.id}`, { token: ROOT_TOKEN });
      assert.equal(del.status, 204);
      assert.equal((await get(b.app, url, auth)).status, 401);
    });

    it('a membership removed through A no longer opens a private project on B', async () => {
      const group = await createGroup(a, 'membersgrp', { visibility: 'private' });
      const project = await createProject(a, 'secret', group.id, { visibility: 'private' });
      const member = await createUser(a, 'erin');
      const token = await createPat(a, member.id);
      await addMember(a, 'projects', project.id, member.id, 30);
      const url = `${API}/projects/${project.id}`;
      for (let i = 0; i < 2; i++) assert.equal((await get(b.app, url, { 'private-token': token })).status, 200);
      assert.equal((await a.call('DELETE', `${API}/projects/${project.id}/members/${member.id}`, { token: ROOT_TOKEN })).status, 204);
      assert.equal((await get(b.app, url, { 'private-token': token })).status, 404);
    });

    it('a user blocked directly in the database (as a future API or an operator would) loses access on both at once', async () => {
      const user = await createUser(a, 'frank');
      const token = await createPat(a, user.id);
      for (const app of [a.app, b.app]) for (let i = 0; i < 2; i++) assert.equal((await get(app, `${API}/user`, { 'private-token': token })).status, 200);
      await a.deps.database.db.updateTable('users').set({ state: 'blocked' }).where('id', '=', user.id).execute();
      for (const app of [b.app, a.app]) assert.equal((await get(app, `${API}/user`, { 'private-token': token })).status, 401);
    });
  });
}
