/**
 * The hot lane (src/http/hot-lane.ts) over a real socket — `inject()` never reaches it. Repeated anonymous reads are
 * answered with exactly what the routes answered, every write (here or by another process) is seen at once, and
 * nothing that depends on who asks is ever replayed.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { createGroup, createProject } from '../helpers/management.js';
import { esc, packageTgz, publishBody } from '../helpers/npm.js';
import { ProxyUpstream } from '../helpers/proxy-upstream.js';

for (const dialect of DIALECTS) {
  describe(`hot lane (${dialect})`, () => {
    let t: TestApp;
    let base: string;
    let registry: string;
    let privateRegistry: string;
    const lines = () => t.logs.flatMap((c) => c.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as Record<string, unknown>);
    const hotLines = () => lines().filter((l) => l.msg === 'request' && l.hot === true);

    const publish = async (reg: string, name: string, version: string) => {
      const { body } = publishBody(name, version, { tgz: packageTgz({ name, version }) });
      const r = await fetch(`${reg}${esc(name)}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ROOT_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(r.status, 200, await r.text());
    };
    const get = async (url: string, headers: Record<string, string> = {}) => {
      const r = await fetch(url, { headers: { 'accept-encoding': 'identity', ...headers } });
      const body = Buffer.from(await r.arrayBuffer());
      const h = Object.fromEntries(r.headers);
      return { status: r.status, headers: h, body };
    };
    const withoutPerResponse = (h: Record<string, string>) => {
      const { date: _d, 'x-request-id': _id, ...rest } = h;
      return rest;
    };

    before(async () => {
      t = await startApp(dialect);
      base = await t.app.listen({ port: 0, host: '127.0.0.1' });
      const group = await createGroup(t, `lane-${dialect}`, { visibility: 'public' });
      const project = await createProject(t, 'lib', group.id, { visibility: 'public' });
      const closed = await createProject(t, 'closed', group.id, { visibility: 'private' });
      registry = `${base}/api/v4/projects/${project.id}/packages/npm/`;
      privateRegistry = `${base}/api/v4/projects/${closed.id}/packages/npm/`;
      await publish(registry, '@lane/pkg', '1.0.0');
      await publish(privateRegistry, '@lane/secret', '1.0.0');
    });
    after(async () => t.close());

    it('answers a repeated anonymous read exactly as the route did: packument, 304, 404 and tarball', async () => {
      const doc = await get(`${registry}${esc('@lane/pkg')}`, { accept: 'application/json' });
      assert.equal(doc.status, 200);
      const tarballUrl = (JSON.parse(doc.body.toString()) as { versions: Record<string, { dist: { tarball: string } }> }).versions['1.0.0']!.dist.tarball.replace(
        'http://wharf.test',
        base,
      );
      // A tarball's first download streams it from the blob store (and keeps it in memory); later ones can replay.
      await get(tarballUrl);
      const cases: [string, Record<string, string>][] = [
        [`${registry}${esc('@lane/pkg')}`, { accept: 'application/json' }],
        [`${registry}${esc('@lane/pkg')}`, { accept: 'application/vnd.npm.install-v1+json' }],
        [`${registry}${esc('@lane/pkg')}`, { accept: 'application/json', 'if-none-match': doc.headers.etag! }],
        [`${registry}${esc('@lane/missing')}`, {}],
        [tarballUrl, {}],
      ];
      for (const [url, headers] of cases) {
        const first = await get(url, headers);
        const second = await get(url, headers);
        const fromLane = hotLines().some((l) => l.reqId === second.headers['x-request-id']);
        // PostgreSQL gives no change signal: there every request takes the long way.
        assert.equal(fromLane, dialect === 'sqlite', `${url} ${JSON.stringify(headers)}: the second answer came from the lane`);
        assert.equal(second.status, first.status);
        assert.deepEqual(withoutPerResponse(second.headers), withoutPerResponse(first.headers));
        assert.ok(second.body.equals(first.body));
        assert.notEqual(second.headers['x-request-id'], first.headers['x-request-id']);
      }
      const notModified = await get(`${registry}${esc('@lane/pkg')}`, { accept: 'application/json', 'if-none-match': doc.headers.etag! });
      assert.equal(notModified.status, 304);
      assert.equal(notModified.headers['content-length'], undefined);
      assert.equal(notModified.body.length, 0);
    });

    it('logs each lane answer as one access line with the client’s request id', async () => {
      const url = `${registry}${esc('@lane/pkg')}`;
      await get(url);
      t.logs.length = 0;
      const r = await get(url, { 'x-request-id': 'trace-lane-1' });
      assert.equal(r.headers['x-request-id'], 'trace-lane-1');
      const logged = lines().filter((l) => l.msg === 'request');
      assert.equal(logged.length, 1);
      assert.equal(logged[0]!.reqId, 'trace-lane-1');
      assert.equal(logged[0]!.route, '/api/v4/projects/:id/packages/npm/*');
      assert.equal(logged[0]!.status, 200);
      assert.equal(logged[0]!.remoteAddress, '127.0.0.1');
      assert.equal(typeof logged[0]!.durationMs, 'number');
    });

    it('shows a publish, a dist-tag and an unpublish in the very next read', async () => {
      const url = `${registry}${esc('@lane/pkg')}`;
      const versions = async () => Object.keys((JSON.parse((await get(url, { accept: 'application/json' })).body.toString()) as { versions: object }).versions);
      assert.deepEqual(await versions(), ['1.0.0']);
      assert.deepEqual(await versions(), ['1.0.0']);
      await publish(registry, '@lane/pkg', '1.1.0');
      assert.deepEqual(await versions(), ['1.0.0', '1.1.0']);
      const missing = `${registry}${esc('@lane/later')}`;
      assert.equal((await get(missing)).status, 404);
      assert.equal((await get(missing)).status, 404);
      await publish(registry, '@lane/later', '0.1.0');
      assert.equal((await get(missing)).status, 200);
    });

    it('never answers a request that carries credentials, a query string or a cookie', async () => {
      // An anonymous tarball request to a private project is a 404 (remembered); the same URL with a token must get
      // the tarball, not that 404.
      const doc = await get(`${privateRegistry}${esc('@lane/secret')}`, { authorization: `Bearer ${ROOT_TOKEN}` });
      const secret = (JSON.parse(doc.body.toString()) as { versions: Record<string, { dist: { tarball: string } }> }).versions['1.0.0']!.dist.tarball.replace(
        'http://wharf.test',
        base,
      );
      assert.equal((await get(secret)).status, 404);
      assert.equal((await get(secret)).status, 404);
      t.logs.length = 0;
      assert.equal((await get(secret, { authorization: `Bearer ${ROOT_TOKEN}` })).status, 200);
      assert.equal((await get(secret, { 'private-token': ROOT_TOKEN })).status, 200);
      assert.equal((await get(`${secret}?private_token=${ROOT_TOKEN}`)).status, 200);
      assert.equal((await get(secret, { cookie: 'wharf_session=x' })).status, 404);
      assert.equal(hotLines().length, 0);
    });

    if (dialect === 'sqlite') {
      it('sees a commit by another process at once', async () => {
        const url = `${registry}${esc('@lane/pkg')}`;
        assert.equal((await get(url)).status, 200);
        assert.equal((await get(url)).status, 200);
        // Another process (here: a second connection) makes the project private.
        const other = new SQLite(path.join(t.deps.config.dataDir, 'wharf.db'));
        other.prepare("update projects set visibility = 'private' where full_path = ?").run(`lane-${dialect}/lib`);
        other.close();
        await nextTurn();
        assert.equal((await get(url)).status, 401);
      });
    }
  });
}

// Only SQLite gives the lane its change signal.
describe('hot lane: proxied packuments (sqlite)', () => {
  let t: TestApp;
  let base: string;
  let up: ProxyUpstream;
  const hot = (reqId: string | null) =>
    t.logs.flatMap((c) => c.split('\n').filter(Boolean)).some((l) => (JSON.parse(l) as { reqId?: string; hot?: boolean }).reqId === reqId && JSON.parse(l).hot === true);
  const get = async (url: string) => {
    const r = await fetch(url, { headers: { accept: 'application/vnd.npm.install-v1+json', 'accept-encoding': 'identity' } });
    const body = await r.text();
    return { status: r.status, etag: r.headers.get('etag'), body, fromLane: hot(r.headers.get('x-request-id')) };
  };

  before(async () => {
    t = await startApp('sqlite');
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    up = await new ProxyUpstream().start();
    up.publish('lane-proxied', '1.0.0');
    const r = await t.call('PUT', '/api/v4/application/settings', {
      token: ROOT_TOKEN,
      body: { npm_package_requests_forwarding: true, npm_package_requests_forwarding_url: up.url, npm_proxy_metadata_ttl: 1 },
    });
    assert.equal(r.status, 200, r.text);
  });
  after(async () => {
    await up.stop();
    await t.close();
  });

  it('replays a fresh proxied packument like a local one, and stops once it must be revalidated (the TTL)', async () => {
    const url = `${base}/api/v4/packages/npm/lane-proxied`;
    const first = await get(url);
    assert.equal(first.status, 200, first.body);
    // Its row is written just after the response (which empties the lane once).
    const stored = () => t.deps.database.db.selectFrom('npm_proxy_packuments').select('name').where('name', '=', 'lane-proxied').executeTakeFirst();
    for (let i = 0; i < 100 && !(await stored()); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    const second = await get(url);
    const third = await get(url);
    assert.equal(third.fromLane, true, 'a repeat within the TTL comes from the lane');
    assert.deepEqual([second.body, third.body, third.etag], [first.body, first.body, first.etag]);
    assert.equal(up.packumentRequests('lane-proxied'), 1);

    await new Promise((resolve) => setTimeout(resolve, 1100));
    const stale = await get(url);
    assert.equal(stale.fromLane, false, 'after the TTL the request reaches the proxy');
    assert.equal(stale.status, 200);
    assert.equal(up.packumentRequests('lane-proxied'), 2, 'and the proxy revalidates it with the upstream');
    const again = await get(url);
    const replayed = await get(url);
    assert.equal(replayed.fromLane, true, 'fresh again: replayed again');
    assert.deepEqual([again.status, replayed.body], [200, first.body]);
    assert.equal(up.packumentRequests('lane-proxied'), 2);
  });
});
