/**
 * The caching npm proxy (docs/npm-proxy.md) against a registry on loopback started here: packuments full and
 * abbreviated with tarball URLs rewritten to the endpoint asked, validators, freshness and revalidation,
 * stale-if-error, 404s remembered briefly, verified tarballs cached in the blob store, one upstream request for many
 * concurrent misses (also across two instances on PostgreSQL), local names and scopes never fetched, the deny
 * list, offline mode, redirect mode, and the settings.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { DIALECTS } from '../helpers/databases.js';
import { ROOT_TOKEN, startApp, startPeer, TestClock, type PeerApp, type TestApp } from '../helpers/app.js';
import { API, createGroup, createProject } from '../helpers/management.js';
import { esc, npmBase, published, sha512Sri } from '../helpers/npm.js';
import { ProxyUpstream } from '../helpers/proxy-upstream.js';

const CORGI = 'application/vnd.npm.install-v1+json';
const EXTERNAL = 'http://wharf.test';
const INSTANCE = `${API}/packages/npm`;
const SETTINGS = `${API}/application/settings`;

for (const dialect of DIALECTS) {
  describe(`npm proxy [${dialect}]`, () => {
    let t: TestApp;
    let up: ProxyUpstream;
    const clock = new TestClock();
    let groupId: number;
    let projectId: number;
    const groupBase = () => `${API}/groups/${groupId}/-/packages/npm`;

    const settings = async (body: Record<string, unknown>) => {
      const r = await t.call('PUT', SETTINGS, { token: ROOT_TOKEN, body });
      assert.equal(r.status, 200, r.text);
      return r;
    };
    const get = (url: string, headers: Record<string, string> = {}) => t.call('GET', url, { headers });
    /** The path part of a rewritten tarball URL, to request it through inject(). */
    const pathOf = (tarballUrl: string) => {
      assert.ok(tarballUrl.startsWith(EXTERNAL), tarballUrl);
      return tarballUrl.slice(EXTERNAL.length);
    };
    const raw = (url: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url, headers });

    before(async () => {
      t = await startApp(dialect, { clock });
      up = await new ProxyUpstream().start();
      groupId = (await createGroup(t, 'acme', { visibility: 'public' })).id;
      projectId = (await createProject(t, 'app', groupId, { visibility: 'public' })).id;
      await published(t, projectId, '@acme/local', '1.0.0');
      await published(t, projectId, 'local-only', '1.0.0');
      for (const name of ['left-pad', '@types/thing', 'local-only', '@acme/local', '@acme/ghost', 'denied-pkg', '@evil/x']) up.publish(name, '1.0.0');
      await settings({ npm_package_requests_forwarding: true, npm_package_requests_forwarding_url: up.url });
    });
    after(async () => {
      await up.stop();
      await t.close();
    });

    describe('settings', () => {
      it('defaults: proxy mode, TTL 300 s, online, no deny list, no size limit, no token (shown only as not set)', async () => {
        const r = await t.call('GET', SETTINGS, { token: ROOT_TOKEN });
        assert.equal(r.status, 200);
        assert.equal(r.body.npm_package_requests_forwarding_mode, 'proxy');
        assert.equal(r.body.npm_proxy_metadata_ttl, 300);
        assert.equal(r.body.npm_proxy_offline, false);
        assert.deepEqual(r.body.npm_proxy_deny_list, []);
        assert.equal(r.body.npm_proxy_max_cache_bytes, null);
        assert.equal(r.body.npm_proxy_upstream_token_set, false);
        assert.ok(!('npm_proxy_upstream_token' in r.body));
      });

      it('refuses invalid values with a 400 that names the setting, and changes nothing', async () => {
        for (const [key, value, message] of [
          ['npm_package_requests_forwarding_mode', 'mirror', 'must be one of redirect, proxy'],
          ['npm_proxy_metadata_ttl', -1, 'must be an integer from 0 to 86400'],
          ['npm_proxy_metadata_ttl', 'soon', 'must be an integer from 0 to 86400'],
          ['npm_proxy_offline', 'maybe', 'is not a boolean'],
          ['npm_proxy_deny_list', 42, 'must be an array of package names or @scope/* patterns'],
          ['npm_proxy_deny_list', ['ok-name', 'not a name'], '"not a name" is neither a package name nor an @scope/* pattern'],
          ['npm_proxy_upstream_token', 'has space', 'must be at most 4096 printable ASCII characters without spaces'],
          ['npm_proxy_upstream_token', 7, 'must be a string, or null for none'],
          ['npm_proxy_max_cache_bytes', 0, 'must be a positive integer, or null for no limit'],
        ] as const) {
          const r = await t.call('PUT', SETTINGS, { token: ROOT_TOKEN, body: { [key]: value } });
          assert.equal(r.status, 400, `${key}=${JSON.stringify(value)}`);
          assert.deepEqual(r.body, { message: { [key]: [message] } });
        }
        const now = await t.call('GET', SETTINGS, { token: ROOT_TOKEN });
        assert.equal(now.body.npm_package_requests_forwarding_mode, 'proxy');
        assert.deepEqual(now.body.npm_proxy_deny_list, []);
      });

      it('accepts a deny list as a comma-separated string too, trimmed and without duplicates', async () => {
        const r = await settings({ npm_proxy_deny_list: ' a-name, @scope/*,a-name ' });
        assert.deepEqual(r.body.npm_proxy_deny_list, ['a-name', '@scope/*']);
        await settings({ npm_proxy_deny_list: [] });
      });

      it('the upstream token is write-only: never in an answer, nor in the audit log; sent upstream as a Bearer token', async () => {
        const secret = 'upstream-secret-token-123';
        const put = await settings({ npm_proxy_upstream_token: secret });
        assert.equal(put.body.npm_proxy_upstream_token_set, true);
        assert.ok(!put.text.includes(secret));
        const shown = await t.call('GET', SETTINGS, { token: ROOT_TOKEN });
        assert.equal(shown.body.npm_proxy_upstream_token_set, true);
        assert.ok(!shown.text.includes(secret));
        const events = await t.deps.database.db.selectFrom('audit_events').selectAll().execute();
        assert.ok(events.some((e) => JSON.stringify(e).includes('npm_proxy_upstream_token')), 'the change is recorded');
        assert.ok(!JSON.stringify(events).includes(secret), 'but not the token');
        assert.ok(!t.logs.join('').includes(secret));

        up.publish('with-token', '1.0.0');
        assert.equal((await get(`${INSTANCE}/with-token`)).status, 200);
        const sent = up.requests.filter((r) => r.url === '/with-token');
        assert.equal(sent.length, 1);
        assert.equal(sent[0]!.headers.authorization, `Bearer ${secret}`);
        await settings({ npm_proxy_upstream_token: null });
        assert.equal((await t.call('GET', SETTINGS, { token: ROOT_TOKEN })).body.npm_proxy_upstream_token_set, false);
      });

      it('is for administrators only', async () => {
        assert.equal((await t.call('PUT', SETTINGS, { body: { npm_proxy_offline: true } })).status, 401);
      });
    });

    describe('packuments', () => {
      it('full packument at the instance endpoint: tarball URLs rewritten to it, time and modified kept, one upstream fetch', async () => {
        const r = await get(`${INSTANCE}/left-pad`, { accept: 'application/json' });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.headers['content-type'], 'application/json');
        assert.equal(r.headers['cache-control'], 'no-cache');
        assert.equal(r.body.name, 'left-pad');
        assert.equal(r.body.versions['1.0.0'].dist.tarball, `${EXTERNAL}/api/v4/packages/npm/left-pad/-/left-pad-1.0.0.tgz`);
        assert.equal(r.body.versions['1.0.0'].dist.integrity, sha512Sri(up.packages.get('left-pad')!.versions['1.0.0']!.tgz));
        assert.equal(r.body.time.modified, up.packages.get('left-pad')!.time.modified);
        assert.equal(r.body.time['1.0.0'], up.packages.get('left-pad')!.time['1.0.0']);
        assert.equal(r.body.readme, '# left-pad');
        assert.ok(!JSON.stringify(r.body).includes(up.url), 'no upstream URL is left');
        assert.equal(up.packumentRequests('left-pad'), 1);
      });

      it('abbreviated packument derived from the same cached document, with time; ETag and 304', async () => {
        const r = await get(`${INSTANCE}/left-pad`, { accept: CORGI });
        assert.equal(r.status, 200);
        assert.equal(r.headers['content-type'], CORGI);
        assert.deepEqual(Object.keys(r.body).sort(), ['dist-tags', 'modified', 'name', 'time', 'versions']);
        assert.equal(r.body.modified, up.packages.get('left-pad')!.time.modified);
        assert.equal(r.body.versions['1.0.0'].dist.tarball, `${EXTERNAL}/api/v4/packages/npm/left-pad/-/left-pad-1.0.0.tgz`);
        assert.equal(r.body.versions['1.0.0'].description, undefined);
        assert.equal(up.packumentRequests('left-pad'), 1, 'no second upstream request');
        const again = await get(`${INSTANCE}/left-pad`, { accept: CORGI, 'if-none-match': String(r.headers.etag) });
        assert.equal(again.status, 304);
        // Large enough to be worth compressing.
        up.publish('big-pkg', '1.0.0', { dependencies: Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`dependency-number-${i}`, '^1.0.0'])) });
        const plain = await raw(`${INSTANCE}/big-pkg`, { accept: CORGI });
        const gz = await raw(`${INSTANCE}/big-pkg`, { accept: CORGI, 'accept-encoding': 'gzip' });
        assert.equal(gz.headers['content-encoding'], 'gzip');
        assert.notEqual(gz.headers.etag, plain.headers.etag);
        assert.deepEqual(JSON.parse(gunzipSync(gz.rawPayload).toString()), JSON.parse(plain.body));
      });

      it('group and project endpoints rewrite to themselves; a scoped name works in every spelling', async () => {
        const g = await get(`${groupBase()}/${esc('@types/thing')}`);
        assert.equal(g.status, 200, g.text);
        assert.equal(g.body.versions['1.0.0'].dist.tarball, `${EXTERNAL}/api/v4/groups/${groupId}/-/packages/npm/@types/thing/-/thing-1.0.0.tgz`);
        const p = await get(`${npmBase(projectId)}/@types%2Fthing`, { accept: CORGI });
        assert.equal(p.status, 200, p.text);
        assert.equal(p.body.versions['1.0.0'].dist.tarball, `${EXTERNAL}/api/v4/projects/${projectId}/packages/npm/@types/thing/-/thing-1.0.0.tgz`);
        const i = await get(`${INSTANCE}/@types/thing`);
        assert.equal(i.body.versions['1.0.0'].dist.tarball, `${EXTERNAL}/api/v4/packages/npm/@types/thing/-/thing-1.0.0.tgz`);
        assert.equal(up.packumentRequests('@types/thing'), 1, 'one upstream fetch serves every endpoint');
      });

      it('after the TTL the packument is revalidated with the upstream validators (304 keeps the document)', async () => {
        up.publish('rev-pkg', '1.0.0');
        const first = await get(`${INSTANCE}/rev-pkg`);
        assert.equal(first.status, 200);
        assert.equal((await get(`${INSTANCE}/rev-pkg`)).status, 200);
        assert.equal(up.packumentRequests('rev-pkg'), 1, 'fresh: no revalidation');
        clock.advance(301_000);
        const revalidated = await get(`${INSTANCE}/rev-pkg`);
        assert.equal(revalidated.status, 200);
        assert.equal(revalidated.headers.etag, first.headers.etag);
        const requests = up.requests.filter((r) => r.url === '/rev-pkg');
        assert.equal(requests.length, 2);
        assert.ok(requests[1]!.headers['if-none-match'], 'conditional request');
        assert.equal(requests[1]!.headers['if-modified-since'], 'Mon, 01 Jan 2024 00:00:00 GMT');
        // A new upstream version appears after the next TTL.
        up.publish('rev-pkg', '1.1.0');
        assert.equal((await get(`${INSTANCE}/rev-pkg`)).body['dist-tags'].latest, '1.0.0', 'still fresh');
        clock.advance(301_000);
        const newer = await get(`${INSTANCE}/rev-pkg`);
        assert.equal(newer.body['dist-tags'].latest, '1.1.0');
        assert.notEqual(newer.headers.etag, first.headers.etag);
      });

      it('a TTL of 0 revalidates every time', async () => {
        await settings({ npm_proxy_metadata_ttl: 0 });
        try {
          up.publish('ttl0-pkg', '1.0.0');
          for (let i = 0; i < 3; i++) assert.equal((await get(`${INSTANCE}/ttl0-pkg`)).status, 200);
          assert.equal(up.packumentRequests('ttl0-pkg'), 3);
        } finally {
          await settings({ npm_proxy_metadata_ttl: 300 });
        }
      });

      it('stale-if-error: an upstream failure after the TTL serves the cached copy; with nothing cached it is a 502', async () => {
        up.publish('stale-pkg', '1.0.0');
        const first = await get(`${INSTANCE}/stale-pkg`);
        clock.advance(301_000);
        up.failWith = 500;
        try {
          const stale = await get(`${INSTANCE}/stale-pkg`);
          assert.equal(stale.status, 200);
          assert.equal(stale.headers.etag, first.headers.etag);
          const none = await get(`${INSTANCE}/never-fetched`);
          assert.equal(none.status, 502);
          assert.match(none.body.message, /^502 Bad Gateway - the npm upstream failed for never-fetched: the upstream answered 500/);
        } finally {
          up.failWith = undefined;
        }
        assert.equal((await get(`${INSTANCE}/stale-pkg`)).status, 200);
      });

      it('an upstream 404 is a 404 remembered for 60 s', async () => {
        const r = await get(`${INSTANCE}/nope-pkg`);
        assert.equal(r.status, 404);
        assert.deepEqual(r.body, { message: '404 Packages Not Found', error: 'Packages not found' });
        assert.equal((await get(`${INSTANCE}/nope-pkg`)).status, 404);
        assert.equal(up.packumentRequests('nope-pkg'), 1);
        up.publish('nope-pkg', '1.0.0');
        clock.advance(61_000);
        assert.equal((await get(`${INSTANCE}/nope-pkg`)).status, 200);
        assert.equal(up.packumentRequests('nope-pkg'), 2);
      });

      it('a hostile upstream: a document naming another package is refused and nothing is cached', async () => {
        up.publish('liar-pkg', '1.0.0');
        up.override = { name: 'someone-else' };
        try {
          const r = await get(`${INSTANCE}/liar-pkg`);
          assert.equal(r.status, 502);
          assert.match(r.body.message, /describes "someone-else", not liar-pkg/);
        } finally {
          up.override = undefined;
        }
        const rows = await t.deps.database.db.selectFrom('npm_proxy_packuments').selectAll().where('name', '=', 'liar-pkg').execute();
        assert.equal(rows.length, 0);
        assert.equal((await get(`${INSTANCE}/liar-pkg`)).status, 200);
      });

      it('versions whose tarball cannot be verified or routed are left out', async () => {
        up.publish('mixed-pkg', '1.0.0');
        up.publish('mixed-pkg', '2.0.0');
        up.override = undefined;
        const doc = up.document('mixed-pkg')!;
        // Serve a document where 2.0.0 has no integrity and no shasum.
        const versions = doc.versions as Record<string, { dist: Record<string, unknown> }>;
        delete versions['2.0.0']!.dist.integrity;
        delete versions['2.0.0']!.dist.shasum;
        up.override = { versions, 'dist-tags': { latest: '2.0.0' } };
        try {
          const r = await get(`${INSTANCE}/mixed-pkg`);
          assert.equal(r.status, 200, r.text);
          assert.deepEqual(Object.keys(r.body.versions), ['1.0.0']);
          assert.deepEqual(r.body['dist-tags'], {});
        } finally {
          up.override = undefined;
        }
      });
    });

    describe('tarballs', () => {
      it('fetched once, verified, then served from the blob store with its digest as ETag', async () => {
        const doc = await get(`${INSTANCE}/left-pad`);
        const url = pathOf(doc.body.versions['1.0.0'].dist.tarball);
        const tgz = up.packages.get('left-pad')!.versions['1.0.0']!.tgz;
        const first = await raw(url);
        assert.equal(first.statusCode, 200);
        assert.deepEqual(first.rawPayload, tgz);
        assert.equal(first.headers['content-type'], 'application/octet-stream');
        const second = await raw(url);
        assert.equal(second.statusCode, 200);
        assert.deepEqual(second.rawPayload, tgz);
        assert.match(String(second.headers.etag), /^"[0-9a-f]{64}"$/);
        assert.equal(Number(second.headers['content-length']), tgz.length);
        assert.equal((await raw(url, { 'if-none-match': String(second.headers.etag) })).statusCode, 304);
        assert.equal(up.tarballRequests('left-pad', '1.0.0'), 1);
        const row = await t.deps.database.db.selectFrom('npm_proxy_tarballs').selectAll().where('name', '=', 'left-pad').executeTakeFirstOrThrow();
        assert.equal(row.integrity, sha512Sri(tgz));
        assert.equal(Number(row.size), tgz.length);
      });

      it('at the group and project endpoints too, and without a packument request first (an install from a lockfile)', async () => {
        up.publish('lock-pkg', '1.0.0');
        const tgz = up.packages.get('lock-pkg')!.versions['1.0.0']!.tgz;
        const p = await raw(`${npmBase(projectId)}/lock-pkg/-/lock-pkg-1.0.0.tgz`);
        assert.equal(p.statusCode, 200, p.body);
        assert.deepEqual(p.rawPayload, tgz);
        const g = await raw(`${groupBase()}/lock-pkg/-/lock-pkg-1.0.0.tgz`);
        assert.equal(g.statusCode, 200);
        assert.deepEqual(g.rawPayload, tgz);
        assert.equal(up.tarballRequests('lock-pkg', '1.0.0'), 1);
        const scoped = await raw(`${INSTANCE}/@types/thing/-/thing-1.0.0.tgz`);
        assert.equal(scoped.statusCode, 200);
        assert.deepEqual(scoped.rawPayload, up.packages.get('@types/thing')!.versions['1.0.0']!.tgz);
      });

      it('a file the upstream does not list is a 404', async () => {
        const r = await raw(`${INSTANCE}/left-pad/-/left-pad-9.9.9.tgz`);
        assert.equal(r.statusCode, 404);
      });

      it('an integrity mismatch cuts the response short and caches nothing; the next request fetches again', async () => {
        up.publish('bad-pkg', '1.0.0');
        const good = up.packages.get('bad-pkg')!.versions['1.0.0']!.tgz;
        const path = up.tarballPath('bad-pkg', '1.0.0');
        const evil = Buffer.from(good);
        evil[evil.length - 10] = evil[evil.length - 10]! ^ 0xff;
        up.tampered.set(path, evil);
        let cut: Buffer | undefined;
        try {
          const r = await raw(`${INSTANCE}/bad-pkg/-/bad-pkg-1.0.0.tgz`);
          cut = r.rawPayload;
          // A tarball this small is one chunk, held back until verified: nothing was sent, so the client gets a
          // refusal that names the integrity failure (npm prints its `error`), never a 500.
          assert.equal(r.statusCode, 502);
          assert.match(JSON.parse(r.rawPayload.toString('utf8')).error, /^integrity check failed for bad-pkg/);
        } catch (err) {
          if (err instanceof assert.AssertionError) throw err;
          cut = Buffer.alloc(0);
        }
        assert.ok(cut.length < evil.length, `the client must not get the whole file (${cut.length} of ${evil.length} bytes)`);
        assert.ok(!cut.equals(evil));
        const rows = await t.deps.database.db.selectFrom('npm_proxy_tarballs').selectAll().where('name', '=', 'bad-pkg').execute();
        assert.equal(rows.length, 0, 'nothing cached');
        // The failed fetch settles just after the cut response (its blob upload is being discarded).
        await new Promise((resolve) => setTimeout(resolve, 100));
        // Again, two at once: the one that fetches is cut short, the one that waited for it gets a 502.
        up.delayMs = 50;
        const [a, b] = await Promise.allSettled([raw(`${INSTANCE}/bad-pkg/-/bad-pkg-1.0.0.tgz`), raw(`${INSTANCE}/bad-pkg/-/bad-pkg-1.0.0.tgz`)]);
        up.delayMs = 0;
        const statuses = [a, b].map((s) => (s.status === 'fulfilled' ? s.value.statusCode : 'aborted'));
        assert.ok(statuses.includes(502), `one waiter is told the upstream failed: ${statuses}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        up.tampered.clear();
        const fixed = await raw(`${INSTANCE}/bad-pkg/-/bad-pkg-1.0.0.tgz`);
        assert.equal(fixed.statusCode, 200);
        assert.deepEqual(fixed.rawPayload, good);
        assert.equal(up.tarballRequests('bad-pkg', '1.0.0'), 3);
      });

      it('wharf gc keeps the proxy cache', async () => {
        const before = up.tarballRequests('left-pad', '1.0.0');
        await t.deps.services.gc.run({ graceMs: 0 });
        const r = await raw(`${INSTANCE}/left-pad/-/left-pad-1.0.0.tgz`);
        assert.equal(r.statusCode, 200);
        assert.equal(up.tarballRequests('left-pad', '1.0.0'), before);
      });
    });

    describe('one upstream request for many concurrent misses', () => {
      it('50 concurrent requests for an uncached packument, then for an uncached tarball: one upstream request each', async () => {
        up.publish('burst-pkg', '1.0.0');
        const tgz = up.packages.get('burst-pkg')!.versions['1.0.0']!.tgz;
        up.delayMs = 100;
        try {
          const docs = await Promise.all(Array.from({ length: 50 }, (_, i) => get(i % 2 ? `${INSTANCE}/burst-pkg` : `${groupBase()}/burst-pkg`, { accept: i % 3 ? CORGI : 'application/json' })));
          assert.deepEqual(new Set(docs.map((d) => d.status)), new Set([200]));
          assert.equal(up.packumentRequests('burst-pkg'), 1);
          const files = await Promise.all(Array.from({ length: 50 }, () => raw(`${INSTANCE}/burst-pkg/-/burst-pkg-1.0.0.tgz`)));
          for (const f of files) {
            assert.equal(f.statusCode, 200);
            assert.deepEqual(f.rawPayload, tgz);
          }
          assert.equal(up.tarballRequests('burst-pkg', '1.0.0'), 1);
        } finally {
          up.delayMs = 0;
        }
      });

      it('takes fetch leases in the database only on PostgreSQL (SQLite belongs to one instance: the single flight suffices)', async () => {
        up.publish('leased-pkg', '1.0.0');
        up.delayMs = 150;
        try {
          const leasesNow = async () => (await t.deps.database.db.selectFrom('npm_proxy_leases').select('key').execute()).map((l) => l.key);
          const doc = get(`${INSTANCE}/leased-pkg`);
          await new Promise((resolve) => setTimeout(resolve, 75));
          const duringPackument = await leasesNow();
          assert.equal((await doc).status, 200);
          const file = raw(`${INSTANCE}/leased-pkg/-/leased-pkg-1.0.0.tgz`);
          await new Promise((resolve) => setTimeout(resolve, 75));
          const duringTarball = await leasesNow();
          assert.equal((await file).statusCode, 200);
          if (dialect === 'sqlite') {
            assert.deepEqual([duringPackument, duringTarball], [[], []]);
          } else {
            assert.deepEqual(duringPackument, [`p ${up.url} leased-pkg`]);
            assert.deepEqual(duringTarball, [`t ${up.url} leased-pkg leased-pkg-1.0.0.tgz`]);
          }
        } finally {
          up.delayMs = 0;
        }
      });

      it('serves a fetched packument before its blob and row are written, and fetches it once meanwhile', async () => {
        up.publish('slow-disk-pkg', '1.0.0');
        const blobs = t.deps.blobs as { put: (...args: unknown[]) => Promise<unknown> };
        const put = blobs.put;
        let release!: () => void;
        const stalled = new Promise<void>((resolve) => (release = resolve));
        // Where the response waited for the write, this lets it finish (and the assertions below fail) instead of hanging.
        const unstall = setTimeout(() => release(), 2000);
        blobs.put = async (...args) => {
          await stalled;
          return put.apply(t.deps.blobs, args);
        };
        const stored = () => t.deps.database.db.selectFrom('npm_proxy_packuments').select('name').where('name', '=', 'slow-disk-pkg').executeTakeFirst();
        try {
          const first = await get(`${INSTANCE}/slow-disk-pkg`, { accept: CORGI });
          assert.equal(first.status, 200, first.text);
          assert.equal(await stored(), undefined, 'not written yet');
          const second = await get(`${INSTANCE}/slow-disk-pkg`, { accept: CORGI });
          assert.equal(second.status, 200);
          assert.equal(second.headers.etag, first.headers.etag);
          const file = await raw(`${INSTANCE}/slow-disk-pkg/-/slow-disk-pkg-1.0.0.tgz`);
          assert.equal(file.statusCode, 200, 'its tarball is found through the row being written');
        } finally {
          clearTimeout(unstall);
          blobs.put = put;
          release();
        }
        for (let i = 0; i < 100 && !(await stored()); i++) await new Promise((resolve) => setTimeout(resolve, 10));
        assert.ok(await stored(), 'written once the blob is stored');
        assert.equal(up.packumentRequests('slow-disk-pkg'), 1);
        assert.equal((await get(`${INSTANCE}/slow-disk-pkg`, { accept: CORGI })).status, 200);
        assert.equal(up.packumentRequests('slow-disk-pkg'), 1);
      });
    });

    describe('local always wins', () => {
      it('a name the project holds is served locally and never fetched', async () => {
        const r = await get(`${npmBase(projectId)}/local-only`);
        assert.equal(r.status, 200);
        assert.deepEqual(Object.keys(r.body.versions), ['1.0.0']);
        assert.match(r.body.versions['1.0.0'].dist.tarball, /\/projects\/\d+\/packages\/npm\/local-only\/-\/local-only-1\.0\.0\.tgz$/);
        assert.equal((await raw(`${npmBase(projectId)}/local-only/-/local-only-9.9.9.tgz`)).statusCode, 404, 'nor a file of it the project lacks');
        assert.equal(up.packumentRequests('local-only'), 0);
        assert.equal(up.tarballRequests('local-only', '9.9.9'), 0);
      });

      it('a name some project holds is never fetched at an endpoint that does not hold it (an unscoped name at the instance endpoint, another project)', async () => {
        const other = (await createProject(t, 'other', groupId, { visibility: 'public' })).id;
        for (const url of [
          `${INSTANCE}/local-only`,
          `${INSTANCE}/local-only/-/local-only-1.0.0.tgz`,
          `${npmBase(other)}/local-only`,
          `${npmBase(other)}/local-only/-/local-only-1.0.0.tgz`,
        ]) {
          const r = await get(url);
          assert.equal(r.status, 404, url);
        }
        assert.equal(up.packumentRequests('local-only'), 0);
        assert.equal(up.tarballRequests('local-only', '1.0.0'), 0);
      });

      it('a name in a scope that is a top-level namespace is never fetched, existing or not, at any endpoint, in any case', async () => {
        assert.equal((await get(`${INSTANCE}/${esc('@acme/local')}`)).body.versions['9.9.9'], undefined);
        for (const url of [
          `${INSTANCE}/${esc('@acme/ghost')}`,
          `${INSTANCE}/${esc('@ACME/ghost')}`,
          `${groupBase()}/${esc('@acme/ghost')}`,
          `${npmBase(projectId)}/${esc('@acme/ghost')}`,
          `${INSTANCE}/@acme/ghost/-/ghost-1.0.0.tgz`,
          `${npmBase(projectId)}/@acme/ghost/-/ghost-1.0.0.tgz`,
        ]) {
          const r = await get(url);
          assert.equal(r.status, 404, url);
        }
        assert.equal(up.count((r) => r.url.toLowerCase().includes('acme')), 0, 'the upstream never heard of @acme');
      });

      it('the deny list: names and scopes are never fetched', async () => {
        await settings({ npm_proxy_deny_list: ['Denied-Pkg', '@evil/*'] });
        try {
          for (const url of [`${INSTANCE}/denied-pkg`, `${INSTANCE}/${esc('@evil/x')}`, `${INSTANCE}/denied-pkg/-/denied-pkg-1.0.0.tgz`, `${npmBase(projectId)}/${esc('@evil/x')}`]) {
            const r = await get(url);
            assert.equal(r.status, 404, url);
          }
          assert.equal(up.count((r) => r.url.includes('denied-pkg') || r.url.includes('evil')), 0);
        } finally {
          await settings({ npm_proxy_deny_list: [] });
        }
      });
    });

    describe('modes', () => {
      it('offline: cached packuments and tarballs are served, anything else is a 404 that says offline; nothing is fetched', async () => {
        await settings({ npm_proxy_offline: true });
        const before = up.requests.length;
        try {
          clock.advance(3600_000);
          assert.equal((await get(`${INSTANCE}/left-pad`)).status, 200, 'stale but cached');
          assert.equal((await raw(`${INSTANCE}/left-pad/-/left-pad-1.0.0.tgz`)).statusCode, 200);
          const miss = await get(`${INSTANCE}/never-cached`);
          assert.equal(miss.status, 404);
          assert.equal(miss.body.message, '404 Not Found - the npm proxy is offline and never-cached is not cached');
          assert.equal((await raw(`${INSTANCE}/rev-pkg/-/rev-pkg-1.0.0.tgz`)).statusCode, 404);
          assert.equal(up.requests.length, before);
        } finally {
          await settings({ npm_proxy_offline: false });
        }
      });

      it('redirect mode answers as GitLab does (302), forwarding off answers 404', async () => {
        await settings({ npm_package_requests_forwarding_mode: 'redirect' });
        try {
          const r = await get(`${INSTANCE}/left-pad`);
          assert.equal(r.status, 302);
          assert.equal(r.headers.location, `${up.url}/left-pad`);
          assert.equal((await get(`${npmBase(projectId)}/@types%2fthing`)).headers.location, `${up.url}/@types/thing`);
        } finally {
          await settings({ npm_package_requests_forwarding_mode: 'proxy' });
        }
        await settings({ npm_package_requests_forwarding: false });
        try {
          assert.equal((await get(`${INSTANCE}/left-pad`)).status, 404);
          assert.equal((await raw(`${INSTANCE}/left-pad/-/left-pad-1.0.0.tgz`)).statusCode, 404);
        } finally {
          await settings({ npm_package_requests_forwarding: true });
        }
      });

      it('a cached tarball is served with the upstream stopped', async () => {
        await up.stop();
        const r = await raw(`${INSTANCE}/left-pad/-/left-pad-1.0.0.tgz`);
        assert.equal(r.statusCode, 200);
        assert.deepEqual(r.rawPayload, up.packages.get('left-pad')!.versions['1.0.0']!.tgz);
        clock.advance(3600_000);
        assert.equal((await get(`${INSTANCE}/left-pad`)).status, 200, 'stale-if-error with the upstream gone');
        const unknown = await get(`${INSTANCE}/unknown-while-down`);
        assert.equal(unknown.status, 502);
      });
    });
  });
}

if (DIALECTS.includes('postgres')) {
  describe('npm proxy: two instances on one PostgreSQL and one blob store', () => {
    let a: TestApp;
    let b: PeerApp;
    let up: ProxyUpstream;
    const clock = new TestClock();
    before(async () => {
      a = await startApp('postgres', { clock });
      b = await startPeer(a, { clock });
      up = await new ProxyUpstream().start();
      const r = await a.call('PUT', SETTINGS, { token: ROOT_TOKEN, body: { npm_package_requests_forwarding: true, npm_package_requests_forwarding_url: up.url } });
      assert.equal(r.status, 200, r.text);
    });
    after(async () => {
      await up.stop();
      await b.close();
      await a.close();
    });

    it('concurrent misses on both instances download the packument and the tarball from the upstream once', async () => {
      up.publish('shared-pkg', '1.0.0');
      const tgz = up.packages.get('shared-pkg')!.versions['1.0.0']!.tgz;
      up.delayMs = 200;
      try {
        const docs = await Promise.all([
          ...Array.from({ length: 5 }, () => a.app.inject({ method: 'GET', url: `${INSTANCE}/shared-pkg` })),
          ...Array.from({ length: 5 }, () => b.app.inject({ method: 'GET', url: `${INSTANCE}/shared-pkg` })),
        ]);
        for (const d of docs) assert.equal(d.statusCode, 200, d.body);
        assert.equal(up.packumentRequests('shared-pkg'), 1);
        const files = await Promise.all([
          ...Array.from({ length: 5 }, () => a.app.inject({ method: 'GET', url: `${INSTANCE}/shared-pkg/-/shared-pkg-1.0.0.tgz` })),
          ...Array.from({ length: 5 }, () => b.app.inject({ method: 'GET', url: `${INSTANCE}/shared-pkg/-/shared-pkg-1.0.0.tgz` })),
        ]);
        for (const f of files) {
          assert.equal(f.statusCode, 200, f.body);
          assert.deepEqual(f.rawPayload, tgz);
        }
        assert.equal(up.tarballRequests('shared-pkg', '1.0.0'), 1);
      } finally {
        up.delayMs = 0;
      }
    });
  });
}
