/**
 * Operating the npm proxy's cache (docs/npm-proxy.md#operating-the-cache): hit and miss counts, the administrator
 * API (list, stats, purge one name or everything; refused to everyone else; purges audited), and `wharf gc`'s
 * least-recently-used eviction down to `npm_proxy_max_cache_bytes` (dry run, leases, blobs, refetch afterwards).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, TestClock, type TestApp } from '../helpers/app.js';
import { API, assertPagination, createGroup, createProject, userWithToken } from '../helpers/management.js';
import { ProxyUpstream } from '../helpers/proxy-upstream.js';

const INSTANCE = `${API}/packages/npm`;
const SETTINGS = `${API}/application/settings`;
const CACHE = `${API}/npm_proxy/cache`;
const MINUTE = 60_000;

for (const dialect of DIALECTS) {
  describe(`npm proxy cache operations [${dialect}]`, () => {
    let t: TestApp;
    let up: ProxyUpstream;
    // Ahead of the real time: gc compares blob modification times (real) with this clock for its grace period.
    const clock = new TestClock('2030-01-01T00:00:00.000Z');
    let userToken: string;
    let deployToken: string;

    const settings = async (body: Record<string, unknown>) => {
      const r = await t.call('PUT', SETTINGS, { token: ROOT_TOKEN, body });
      assert.equal(r.status, 200, r.text);
    };
    const admin = (method: string, url: string) => t.call(method, url, { token: ROOT_TOKEN });
    // With a credential: anonymous repeats may be answered by the hot lane (SQLite), which counts no hits.
    const headers = { authorization: `Bearer ${ROOT_TOKEN}` };
    const packument = async (name: string) => {
      const r = await t.app.inject({ method: 'GET', url: `${INSTANCE}/${name.replace('/', '%2f')}`, headers });
      assert.equal(r.statusCode, 200, r.body);
      // A fetched packument is served before its row is written (just after the response).
      for (let i = 0; i < 100; i++) {
        const row = await t.deps.database.db.selectFrom('npm_proxy_packuments').select('name').where('name', '=', name).executeTakeFirst();
        if (row) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    const tarball = async (name: string, version = '1.0.0') => {
      const file = `${name.slice(name.lastIndexOf('/') + 1)}-${version}.tgz`;
      const r = await t.app.inject({ method: 'GET', url: `${INSTANCE}/${name}/-/${file}`, headers });
      assert.equal(r.statusCode, 200, r.body);
      // A live download's row is written once the blob is stored, just after the response ended.
      for (let i = 0; i < 100; i++) {
        const row = await t.deps.database.db.selectFrom('npm_proxy_tarballs').select('name').where('name', '=', name).where('file_name', '=', file).executeTakeFirst();
        if (row) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return r.rawPayload;
    };
    const rows = async () => ({
      packuments: await t.deps.database.db.selectFrom('npm_proxy_packuments').selectAll().orderBy('name').execute(),
      tarballs: await t.deps.database.db.selectFrom('npm_proxy_tarballs').selectAll().orderBy('name').execute(),
    });
    const events = () => t.deps.database.db.selectFrom('audit_events').selectAll().where('event_name', '=', 'npm_proxy_cache_purged').orderBy('id').execute();

    before(async () => {
      t = await startApp(dialect, { clock });
      up = await new ProxyUpstream().start();
      const group = await createGroup(t, 'ops', { visibility: 'public' });
      const project = await createProject(t, 'app', group.id, { visibility: 'public' });
      userToken = (await userWithToken(t, 'not-admin')).token;
      const dt = await t.call('POST', `${API}/projects/${project.id}/deploy_tokens`, { token: ROOT_TOKEN, body: { name: 'dt', scopes: ['read_package_registry'] } });
      assert.equal(dt.status, 201, dt.text);
      deployToken = dt.body.token;
      for (const name of ['left-pad', 'right-pad', '@types/thing', 'old-a', 'old-b', 'old-c']) up.publish(name, '1.0.0');
      await settings({ npm_package_requests_forwarding: true, npm_package_requests_forwarding_url: up.url, npm_proxy_metadata_ttl: 86_400 });
    });
    after(async () => {
      await up.stop();
      await t.close();
    });

    describe('the administrator API', () => {
      it('refuses anonymous callers (401), non-administrators (403) and deploy tokens (401), and changes nothing', async () => {
        await packument('left-pad');
        const routes = [
          ['GET', CACHE],
          ['GET', `${CACHE}/stats`],
          ['DELETE', `${CACHE}/left-pad`],
          ['DELETE', CACHE],
        ] as const;
        for (const [method, url] of routes) {
          assert.equal((await t.call(method, url)).status, 401, `anonymous ${method} ${url}`);
          assert.equal((await t.call(method, url, { token: userToken })).status, 403, `user ${method} ${url}`);
          assert.equal((await t.call(method, url, { headers: { 'deploy-token': deployToken } })).status, 401, `deploy token ${method} ${url}`);
        }
        assert.equal((await rows()).packuments.length, 1, 'nothing purged');
        assert.equal((await events()).length, 0);
      });

      it('counts misses when it stores what the upstream sent, and hits in batches', async () => {
        await packument('left-pad'); // a hit, pending
        clock.advance(6 * MINUTE);
        await packument('left-pad'); // a hit, and the batch is written (more than 5 minutes since the last write)
        await tarball('left-pad'); // a miss: the download
        await tarball('left-pad'); // a hit, pending
        clock.advance(11 * MINUTE);
        await tarball('left-pad'); // written (more than 10 minutes)
        await new Promise((resolve) => setTimeout(resolve, 50)); // the batch is written in the background
        let now = await rows();
        assert.deepEqual([now.packuments[0]!.hits, now.packuments[0]!.misses].map(Number), [2, 1]);
        assert.deepEqual([now.tarballs[0]!.hits, now.tarballs[0]!.misses].map(Number), [2, 1]);
        assert.equal(now.tarballs[0]!.last_used_at, clock.now().toISOString(), 'the write moves last_used_at');

        // A revalidation (here a 304) is an upstream request: a miss, not a hit.
        await settings({ npm_proxy_metadata_ttl: 0 });
        const before = up.packumentRequests('left-pad');
        await packument('left-pad');
        assert.equal(up.packumentRequests('left-pad'), before + 1);
        await settings({ npm_proxy_metadata_ttl: 86_400 });
        now = await rows();
        assert.deepEqual([now.packuments[0]!.hits, now.packuments[0]!.misses].map(Number), [2, 2]);

        const listed = await admin('GET', CACHE);
        assert.equal(listed.status, 200, listed.text);
        const entry = listed.body.find((e: { name: string }) => e.name === 'left-pad');
        assert.equal(entry.hits, 4);
        assert.equal(entry.misses, 3);
      });

      it('lists cached names with versions, bytes, counts and dates, filtered and paginated', async () => {
        await packument('right-pad');
        const tgz = await tarball('@types/thing');
        const all = await admin('GET', CACHE);
        assert.equal(all.status, 200);
        assert.deepEqual(
          all.body.map((e: { name: string }) => e.name),
          ['@types/thing', 'left-pad', 'right-pad'],
        );
        const thing = all.body[0];
        const stored = (await rows()).packuments.find((p) => p.name === '@types/thing')!;
        assert.deepEqual(thing, {
          name: '@types/thing',
          upstream: up.url,
          status: 200,
          versions: ['1.0.0'],
          tarballs: 1,
          bytes: Number(stored.size) + tgz.length,
          packument_bytes: Number(stored.size),
          tarball_bytes: tgz.length,
          hits: 0,
          misses: 2,
          fetched_at: stored.fetched_at,
          last_used_at: clock.now().toISOString(),
        });
        const right = all.body[2];
        assert.deepEqual([right.versions, right.tarballs, right.tarball_bytes], [[], 0, 0], 'a packument without tarballs');

        const page = await admin('GET', `${CACHE}?per_page=1&page=2`);
        assert.deepEqual(page.body.map((e: { name: string }) => e.name), ['left-pad']);
        assertPagination(page, { page: 2, perPage: 1, total: 3, totalPages: 3, next: 3, prev: 1 });
        const pads = await admin('GET', `${CACHE}?search=PAD`);
        assert.deepEqual(pads.body.map((e: { name: string }) => e.name), ['left-pad', 'right-pad']);
        assert.equal(pads.headers['x-total'], '2');
        // LIKE's wildcards are plain characters in a search.
        assert.deepEqual((await admin('GET', `${CACHE}?search=_`)).body, []);
      });

      it('sums the whole cache, with the size limit', async () => {
        const list = (await admin('GET', CACHE)).body as { bytes: number; hits: number; misses: number; tarballs: number }[];
        const stats = await admin('GET', `${CACHE}/stats`);
        assert.equal(stats.status, 200, stats.text);
        assert.deepEqual(stats.body, {
          packuments: 3,
          not_found: 0,
          tarballs: 2,
          bytes: list.reduce((n, e) => n + e.bytes, 0),
          packument_bytes: stats.body.bytes - stats.body.tarball_bytes,
          tarball_bytes: stats.body.tarball_bytes,
          hits: list.reduce((n, e) => n + e.hits, 0),
          misses: list.reduce((n, e) => n + e.misses, 0),
          max_cache_bytes: null,
        });
        assert.ok(stats.body.tarball_bytes > 0);
        await settings({ npm_proxy_max_cache_bytes: 123456 });
        assert.equal((await admin('GET', `${CACHE}/stats`)).body.max_cache_bytes, 123456);
        await settings({ npm_proxy_max_cache_bytes: null });
      });

      it('purges one name (URL-encoded), audited; the next request fetches it from the upstream again', async () => {
        const bad = await admin('DELETE', `${CACHE}/Not%20A%20Name`);
        assert.equal(bad.status, 400, bad.text);
        assert.match(bad.text, /not a valid npm package name/);
        const unknown = await admin('DELETE', `${CACHE}/never-cached`);
        assert.equal(unknown.status, 404, unknown.text);
        assert.equal((await events()).length, 0, 'refusals record nothing');

        const r = await admin('DELETE', `${CACHE}/%40types%2Fthing`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.name, '@types/thing');
        assert.equal(r.body.packuments, 1);
        assert.equal(r.body.tarballs, 1);
        assert.ok(r.body.bytes > 0);
        const now = await rows();
        assert.ok(!now.packuments.some((p) => p.name === '@types/thing'));
        assert.ok(!now.tarballs.some((p) => p.name === '@types/thing'));
        assert.ok(now.packuments.some((p) => p.name === 'left-pad'), 'other names stay');
        const [event] = await events();
        assert.equal(event!.author_name, 'root');
        assert.equal(event!.entity_type, 'Gitlab::Audit::InstanceScope');
        assert.equal(event!.target_type, 'NpmProxyCache');
        assert.equal(event!.target_details, '@types/thing');
        assert.match(JSON.parse(event!.details).custom_message, /Purged @types\/thing from the npm proxy cache/);
        assert.equal((await admin('GET', `${API}/audit_events?entity_type=Gitlab::Audit::InstanceScope`)).body[0].event_name, 'npm_proxy_cache_purged');

        const docs = up.packumentRequests('@types/thing');
        const files = up.tarballRequests('@types/thing', '1.0.0');
        await packument('@types/thing');
        await tarball('@types/thing');
        assert.equal(up.packumentRequests('@types/thing'), docs + 1);
        assert.equal(up.tarballRequests('@types/thing', '1.0.0'), files + 1);
        assert.equal((await admin('DELETE', `${CACHE}/%40types%2Fthing`)).status, 200);
      });

      it('purges everything, audited; requests then refetch', async () => {
        const r = await admin('DELETE', CACHE);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual([r.body.name, r.body.packuments, r.body.tarballs], [null, 2, 1]);
        const stats = (await admin('GET', `${CACHE}/stats`)).body;
        assert.deepEqual([stats.packuments, stats.tarballs, stats.bytes], [0, 0, 0]);
        assert.equal((await events()).at(-1)!.target_details, '*');
        const before = up.tarballRequests('left-pad', '1.0.0');
        await tarball('left-pad');
        assert.equal(up.tarballRequests('left-pad', '1.0.0'), before + 1);
        assert.equal((await admin('DELETE', CACHE)).status, 200);
      });
    });

    describe('wharf gc evicts down to npm_proxy_max_cache_bytes', () => {
      const tarballRow = async (name: string) => (await rows()).tarballs.find((r) => r.name === name);
      const packumentRow = async (name: string) => (await rows()).packuments.find((r) => r.name === name);
      const blobExists = async (sha: string) => (await t.deps.blobs.head(sha)) !== undefined;

      it('evicts nothing without a limit, or under it', async () => {
        for (const name of ['old-a', 'old-b', 'old-c']) {
          await packument(name);
          await tarball(name);
          clock.advance(20 * MINUTE);
        }
        const r = await t.deps.services.gc.run({ graceMs: 0 });
        assert.deepEqual([r.proxyTarballsEvicted, r.proxyPackumentsEvicted, r.proxyBytesEvicted], [0, 0, 0]);
        const stats = (await admin('GET', `${CACHE}/stats`)).body;
        await settings({ npm_proxy_max_cache_bytes: stats.bytes });
        const at = await t.deps.services.gc.run({ graceMs: 0 });
        assert.equal(at.proxyTarballsEvicted, 0);
        assert.equal((await rows()).tarballs.length, 3);
      });

      it('least recently used first (by last_used_at), a dry run first; the blob goes, and the file is fetched again', async () => {
        // old-a was fetched first, but is used again now (more than the flush interval later, so the use is written).
        await tarball('old-a');
        await new Promise((resolve) => setTimeout(resolve, 50));
        const b = (await tarballRow('old-b'))!;
        const stats = (await admin('GET', `${CACHE}/stats`)).body;
        await settings({ npm_proxy_max_cache_bytes: stats.bytes - 1 });

        const dry = await t.deps.services.gc.run({ graceMs: 0, dryRun: true });
        assert.deepEqual([dry.proxyTarballsEvicted, dry.proxyPackumentsEvicted, dry.proxyBytesEvicted], [1, 0, Number(b.size)]);
        assert.equal((await rows()).tarballs.length, 3, 'a dry run deletes nothing');

        const run = await t.deps.services.gc.run({ graceMs: 0 });
        assert.deepEqual([run.proxyTarballsEvicted, run.proxyPackumentsEvicted, run.proxyBytesEvicted], [1, 0, Number(b.size)]);
        assert.equal(await tarballRow('old-b'), undefined, 'old-b was the least recently used');
        assert.ok(await tarballRow('old-a'));
        assert.ok(await tarballRow('old-c'));
        assert.ok(await packumentRow('old-b'), 'its packument stays while the cache is under the limit');
        assert.equal(await blobExists(b.blob_sha256), false, "the same run's sweep deleted the blob");
        assert.ok(run.bytesFreed >= Number(b.size));

        const before = up.tarballRequests('old-b', '1.0.0');
        await tarball('old-b');
        assert.equal(up.tarballRequests('old-b', '1.0.0'), before + 1);
      });

      it("a packument goes only after its name's tarballs; a file whose fetch holds a lease stays", async () => {
        // old-c's download is in flight somewhere (its lease is held).
        const c = (await tarballRow('old-c'))!;
        await t.deps.database.db
          .insertInto('npm_proxy_leases')
          .values({ key: `t ${up.url} old-c ${c.file_name}`, owner: 'another-instance', expires_at: new Date(clock.now().getTime() + MINUTE).toISOString() })
          .execute();
        await settings({ npm_proxy_max_cache_bytes: 1 });
        const run = await t.deps.services.gc.run({ graceMs: 0 });
        const now = await rows();
        assert.deepEqual(now.tarballs.map((r) => r.name), ['old-c'], 'every tarball but the leased one');
        assert.deepEqual(now.packuments.map((r) => r.name), ['old-c'], "every packument but old-c's, which a tarball still needs");
        assert.equal(run.proxyTarballsEvicted, 2);
        assert.equal(run.proxyPackumentsEvicted, 2, 'old-a, old-b');
        await t.deps.database.db.deleteFrom('npm_proxy_leases').execute();
        await settings({ npm_proxy_max_cache_bytes: null });
      });
    });
  });
}
