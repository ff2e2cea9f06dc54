/**
 * What npm, pnpm and yarn read from the project endpoint, on SQLite and PostgreSQL: the full and abbreviated
 * packuments (docs/design/gitlab-compatibility.md#packument-shape, docs/design/client-protocols.md#packuments), `latest` chosen as GitLab does, validators and 304s, gzip,
 * the three spellings of a scoped name, route precedence, and tarball downloads.
 */
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/databases.js';
import { bearer, createNpmWorld, esc, npmBase, publish, publishBody, published, sha1Hex, sha512Sri, type NpmWorld } from '../helpers/npm.js';

const NAME = '@pubgrp/kit';
const CORGI = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';

for (const dialect of DIALECTS) {
  describe(`npm packuments and tarballs [${dialect}]`, () => {
    let t: TestApp;
    let w: NpmWorld;
    let pid: number;
    const tgz: Record<string, Buffer> = {};
    const url = (rest: string) => `${npmBase(pid)}/${rest}`;
    const get = (rest: string, headers: Record<string, string> = {}) => t.call('GET', url(rest), { headers });

    before(async () => {
      t = await startApp(dialect);
      w = await createNpmWorld(t);
      pid = w.project.public;
      const extra = {
        os: ['linux'],
        cpu: ['x64'],
        optionalDependencies: { fsevents: '^2.0.0' },
        peerDependenciesMeta: { react: { optional: true } },
        dependencies: { 'left-pad': '^1.3.0' },
        scripts: { test: 'node test.js' },
        license: 'MIT',
      };
      tgz['1.0.0'] = (await published(t, pid, NAME, '1.0.0', { extra, readme: '# kit 1.0.0' })).tgz;
      tgz['2.0.0-beta.1'] = (await published(t, pid, NAME, '2.0.0-beta.1', { tag: 'beta', readme: '# kit beta' })).tgz;
      tgz['1.5.0'] = (await published(t, pid, NAME, '1.5.0', { tag: 'latest', readme: '# kit 1.5.0' })).tgz;
    });
    after(async () => t.close());

    it('serves the full packument: GitLab’s keys first, then time, _rev, maintainers and the latest readme', async () => {
      const r = await get(esc(NAME));
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/json');
      const doc = r.body;
      assert.deepEqual(Object.keys(doc).slice(0, 3), ['name', 'versions', 'dist-tags']);
      assert.equal(doc.name, NAME);
      assert.equal(doc._id, NAME);
      assert.match(doc._rev, /^\d+-[0-9a-f]{16}$/);
      assert.deepEqual(doc['dist-tags'], { latest: '1.5.0', beta: '2.0.0-beta.1' });
      assert.deepEqual(Object.keys(doc.versions).sort(), ['1.0.0', '1.5.0', '2.0.0-beta.1']);
      assert.deepEqual(Object.keys(doc.time).sort(), ['1.0.0', '1.5.0', '2.0.0-beta.1', 'created', 'modified']);
      assert.ok(doc.time.created <= doc.time['1.5.0'] && doc.time['1.5.0'] <= doc.time.modified);
      assert.deepEqual(doc.maintainers, [{ name: 'root' }]);
      assert.equal(doc.readme, '# kit 1.5.0', 'the readme of the version tagged latest');
      const v = doc.versions['1.0.0'];
      // Published fields pass through (GitLab's whitelist would drop os/cpu/optionalDependencies and change resolution).
      assert.deepEqual(v.os, ['linux']);
      assert.deepEqual(v.cpu, ['x64']);
      assert.deepEqual(v.optionalDependencies, { fsevents: '^2.0.0' });
      assert.deepEqual(v.scripts, { test: 'node test.js' });
      assert.equal(v.readme, undefined, 'readmes are not repeated per version');
      assert.deepEqual(v.dist, {
        integrity: sha512Sri(tgz['1.0.0']!),
        shasum: sha1Hex(tgz['1.0.0']!),
        fileCount: 2,
        unpackedSize: v.dist.unpackedSize,
        tarball: `http://wharf.test/api/v4/projects/${pid}/packages/npm/@pubgrp/kit/-/@pubgrp/kit-1.0.0.tgz`,
        // The registry's signature made at publish (npm-signatures.test.ts verifies it).
        signatures: [{ keyid: v.dist.signatures[0].keyid, sig: v.dist.signatures[0].sig }],
      });
      assert.ok(v.dist.unpackedSize > 0);
    });

    it('serves the abbreviated packument for npm’s install Accept header', async () => {
      const r = await get(esc(NAME), { accept: CORGI });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/vnd.npm.install-v1+json');
      const doc = r.body;
      assert.deepEqual(Object.keys(doc), ['name', 'modified', 'dist-tags', 'versions', 'time']);
      const v = doc.versions['1.0.0'];
      assert.deepEqual(Object.keys(v).sort(), ['_npmUser', 'cpu', 'dependencies', 'dist', 'name', 'optionalDependencies', 'os', 'peerDependenciesMeta', 'version']);
      assert.equal(doc.modified, (await get(esc(NAME))).body.time.modified);
      // pnpm's "full" Accept and no Accept at all get the full document.
      assert.equal((await get(esc(NAME), { accept: 'application/json; q=1.0, */*' })).headers['content-type'], 'application/json');
      assert.equal((await get(esc(NAME), { accept: '*/*' })).headers['content-type'], 'application/json');
    });

    it('answers the same document for @scope%2fname, @scope%2Fname and @scope/name', async () => {
      const a = await get('@pubgrp%2fkit');
      const b = await get('@pubgrp%2Fkit');
      const c = await get('@pubgrp/kit');
      assert.equal(a.status, 200);
      assert.equal(b.text, a.text);
      assert.equal(c.text, a.text);
      // A double-encoded slash is a different (and non-existent) name, never decoded twice.
      assert.equal((await get('@pubgrp%252fkit')).status, 404);
    });

    it('adds latest as the highest version when no latest tag exists', async () => {
      await published(t, pid, '@pubgrp/untagged', '1.2.0', { tag: 'stable' });
      await published(t, pid, '@pubgrp/untagged', '3.0.0-rc.1', { tag: 'next' });
      await published(t, pid, '@pubgrp/untagged', '2.9.0', { tag: 'stable' });
      const doc = (await get(esc('@pubgrp/untagged'))).body;
      assert.deepEqual(doc['dist-tags'], { stable: '2.9.0', next: '3.0.0-rc.1', latest: '3.0.0-rc.1' });
      assert.deepEqual((await get(`-/package/${esc('@pubgrp/untagged')}/dist-tags`)).body, doc['dist-tags']);
    });

    it('validates with a strong ETag: 304 on If-None-Match, a new ETag after every write', async () => {
      const first = await get(esc(NAME));
      const etag = String(first.headers.etag);
      assert.match(etag, /^"[^"]+"$/);
      assert.equal(first.headers['cache-control'], 'no-cache');
      assert.equal(first.headers.vary, 'Accept, Accept-Encoding');
      assert.ok(first.headers['last-modified']);
      const again = await get(esc(NAME), { 'if-none-match': etag });
      assert.equal(again.status, 304);
      assert.equal(again.text, '');
      assert.equal(again.headers.etag, etag);
      assert.equal((await get(esc(NAME), { 'if-none-match': `W/${etag}` })).status, 304, 'weak comparison');
      // The abbreviated document is another representation with its own validator.
      const corgi = await get(esc(NAME), { accept: CORGI });
      assert.notEqual(corgi.headers.etag, etag);
      assert.equal((await get(esc(NAME), { accept: CORGI, 'if-none-match': etag })).status, 200);
      // If-Modified-Since alone never yields a 304 (one-second resolution cannot see two writes in a second).
      assert.equal((await get(esc(NAME), { 'if-modified-since': String(first.headers['last-modified']) })).status, 200);

      const tag = await t.call('PUT', url(`-/package/${esc(NAME)}/dist-tags/stable`), { token: ROOT_TOKEN, body: '"1.0.0"' });
      assert.equal(tag.status, 204, tag.text);
      const changed = await get(esc(NAME), { 'if-none-match': etag });
      assert.equal(changed.status, 200);
      assert.notEqual(changed.headers.etag, etag);
      assert.equal(changed.body['dist-tags'].stable, '1.0.0');
      assert.notEqual(changed.body._rev, first.body._rev);
      assert.ok(changed.body.time.modified >= first.body.time.modified);
    });

    it('rebuilds from the database when another process changed it (no stale per-process cache)', async () => {
      const before = await get(esc(NAME));
      // Change the stored revision behind the service's back, as a second Wharf process would.
      await t.deps.database.db.transaction().execute(async (trx) => {
        await trx.deleteFrom('package_tags').where('project_id', '=', pid).where('tag', '=', 'stable').execute();
        await trx
          .updateTable('package_documents')
          .set((eb) => ({ revision: eb('revision', '+', 1) }))
          .where('project_id', '=', pid)
          .where('package_name', '=', NAME)
          .execute();
      });
      const after = await get(esc(NAME));
      assert.notEqual(after.headers.etag, before.headers.etag);
      assert.equal(after.body['dist-tags'].stable, undefined);
    });

    it('gzips large documents for clients that accept it, with their own validator', async () => {
      await published(t, pid, '@pubgrp/big', '1.0.0', { readme: `# big\n${'lorem ipsum dolor sit amet '.repeat(400)}` });
      const res = await t.app.inject({ method: 'GET', url: url(esc('@pubgrp/big')), headers: { 'accept-encoding': 'gzip, deflate' } });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-encoding'], 'gzip');
      assert.match(String(res.headers.etag), /-gz"$/);
      const doc = JSON.parse(gunzipSync(res.rawPayload).toString('utf8'));
      assert.equal(doc.name, '@pubgrp/big');
      const plain = await t.app.inject({ method: 'GET', url: url(esc('@pubgrp/big')) });
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.ok(plain.rawPayload.length > res.rawPayload.length);
      assert.equal(
        (await t.app.inject({ method: 'GET', url: url(esc('@pubgrp/big')), headers: { 'accept-encoding': 'gzip', 'if-none-match': String(res.headers.etag) } })).statusCode,
        304,
      );
    });

    it('answers HEAD on packuments and tarballs with the headers and lengths of GET', async () => {
      const head = await t.app.inject({ method: 'HEAD', url: url(esc(NAME)) });
      const full = await t.app.inject({ method: 'GET', url: url(esc(NAME)) });
      assert.equal(head.statusCode, 200);
      assert.equal(head.body, '');
      assert.equal(head.headers['content-length'], full.headers['content-length']);
      const tarHead = await t.app.inject({ method: 'HEAD', url: url(`${NAME}/-/${NAME}-1.0.0.tgz`) });
      assert.equal(tarHead.statusCode, 200);
      assert.equal(Number(tarHead.headers['content-length']), tgz['1.0.0']!.length);
      assert.equal(tarHead.rawPayload.length, 0);
    });

    describe('tarballs', () => {
      it('streams the exact bytes with exact length, an attachment name and an immutable cache policy', async () => {
        for (const path of [`${NAME}/-/${NAME}-1.0.0.tgz`, `${esc(NAME)}/-/${esc(NAME)}-1.0.0.tgz`, `@pubgrp%2Fkit/-/@pubgrp%2Fkit-1.0.0.tgz`]) {
          const r = await t.app.inject({ method: 'GET', url: url(path) });
          assert.equal(r.statusCode, 200, path);
          assert.ok(r.rawPayload.equals(tgz['1.0.0']!), path);
          assert.equal(r.headers['content-type'], 'application/octet-stream');
          assert.equal(r.headers['content-length'], String(tgz['1.0.0']!.length));
          assert.equal(r.headers['content-encoding'], undefined);
          assert.equal(r.headers['content-disposition'], 'attachment; filename="kit-1.0.0.tgz"');
          assert.equal(r.headers['cache-control'], 'max-age=31536000, immutable');
        }
        const r = await t.app.inject({ method: 'GET', url: url(`${NAME}/-/${NAME}-1.0.0.tgz`) });
        const etag = String(r.headers.etag);
        const cond = await t.app.inject({ method: 'GET', url: url(`${NAME}/-/${NAME}-1.0.0.tgz`), headers: { 'if-none-match': etag } });
        assert.equal(cond.statusCode, 304);
      });
      it('404 for a file name that does not exist, or belongs to another package name', async () => {
        for (const path of [`${NAME}/-/${NAME}-9.9.9.tgz`, `${NAME}/-/kit-1.0.0.tgz`, `@pubgrp/other/-/${NAME}-1.0.0.tgz`]) {
          const r = await t.call('GET', url(path));
          assert.equal(r.status, 404, path);
          assert.deepEqual(r.body, { message: '404 Not found', error: 'Package file not found' });
        }
      });
      it('refuses path traversal in either part', async () => {
        const a = await t.call('GET', url(`..%2f..%2fsecret/-/x.tgz`));
        assert.equal(a.status, 400);
        assert.deepEqual(a.body, { error: 'package_name should be a valid file path' });
        const b = await t.call('GET', url(`${NAME}/-/..%2f..%2fx.tgz`));
        assert.equal(b.status, 400);
      });
    });

    describe('route precedence and shapes GitLab does not route', () => {
      it('`-/package/…/dist-tags` is the dist-tags route, not a package called "-/package/…"', async () => {
        const r = await get(`-/package/${esc(NAME)}/dist-tags`);
        assert.equal(r.status, 200);
        assert.equal(r.body.latest, '1.5.0');
        assert.equal((await get(`-/package/${NAME}/dist-tags`)).status, 200, 'a literal slash works here too');
      });
      it('`-/v1/search`, `-/whoami`, `-/ping` are routed before the packument glob (GitLab: 404 through the glob)', async () => {
        const search = await get('-/v1/search?text=kit&size=20');
        assert.equal(search.status, 200, search.text);
        assert.ok(Array.isArray(search.body.objects));
        assert.equal((await get('-/whoami')).status, 401, 'anonymous whoami');
        const ping = await get('-/ping?write=true');
        assert.equal(ping.status, 200);
        assert.deepEqual(ping.body, {});
      });
      it('publish needs one path segment: a literal slash → 404 {"error":"404 Not Found"}; `-rev` paths are unpublish', async () => {
        const body = publishBody(NAME, '9.0.0').body;
        const literal = await t.call('PUT', url(NAME), { headers: bearer(ROOT_TOKEN), body });
        assert.equal(literal.status, 404);
        assert.deepEqual(literal.body, { error: '404 Not Found' });
        // A stale `_rev` is a conflict, never a publish (the unpublish flow is covered in npm-unpublish.test.ts).
        const rev = await t.call('PUT', url(`${esc(NAME)}/-rev/3-abc`), { headers: bearer(ROOT_TOKEN), body });
        assert.equal(rev.status, 409, rev.text);
        assert.equal((await t.call('DELETE', url(`${esc(NAME)}/-rev/3-abc`), { headers: bearer(ROOT_TOKEN) })).status, 409);
        // And the encoded form publishes.
        assert.equal((await publish(t, pid, body)).status, 200);
      });
      it('a blank name → 400 "Package Name" not given', async () => {
        const r = await get('%20');
        assert.equal(r.status, 400);
        assert.deepEqual(r.body, { message: '400 Bad request - "Package Name" not given', error: '"Package Name" not given' });
      });
      it('the registry root itself is no route', async () => {
        assert.deepEqual((await get('')).body, { error: '404 Not Found' });
      });
      it('the tarball URL in the packument is what a client downloads (numeric id, even when asked by path)', async () => {
        const byPath = (await t.call('GET', `${npmBase(encodeURIComponent('pubgrp/public-lib'))}/${esc(NAME)}`)).body;
        const own = (await get(esc(NAME))).body;
        assert.deepEqual(byPath.versions, own.versions);
        const tarball = new URL(own.versions['1.5.0'].dist.tarball);
        assert.equal(tarball.origin, 'http://wharf.test');
        const dl = await t.app.inject({ method: 'GET', url: tarball.pathname });
        assert.equal(dl.statusCode, 200);
        assert.ok(dl.rawPayload.equals(tgz['1.5.0']!));
      });
    });
  });
}
