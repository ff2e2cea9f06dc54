/**
 * The loopback npm registry the proxy tests and the bench use (`test/helpers/fake-upstream.ts`): its documents
 * are what a real registry serves (the real clients are run against it in test/e2e/npm-proxy.test.ts), its
 * tarballs match their integrity, it revalidates with ETags, and its switches (stop/start, tamper) do what the
 * proxy tests rely on.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import semver from 'semver';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';

const ABBREVIATED = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';
const esc = (name: string) => name.replace('/', '%2f');

describe('the fake upstream npm registry', () => {
  let up: FakeUpstream;
  before(async () => {
    up = await startFakeUpstream({ extra: [{ name: '@acme/bait', versions: [{ version: '9.9.9' }] }] });
  });
  after(async () => up.close());

  it('generates a tree of at least 15 packages, scoped and unscoped, three levels deep, every range resolvable', () => {
    assert.ok(up.treeNames.length >= 15, `${up.treeNames.length} packages`);
    assert.ok(up.treeNames.some((n) => n.startsWith('@')) && up.treeNames.some((n) => !n.startsWith('@')));
    assert.ok(!up.treeNames.includes('@acme/bait'), 'extras are not part of the tree');
    let depth = 0;
    const walk = (name: string, range: string, d: number) => {
      depth = Math.max(depth, d);
      const version = up.resolve(name, range);
      for (const [dep, r] of Object.entries(up.packument(name).versions[version]!.dependencies ?? {})) walk(dep, r, d + 1);
    };
    for (const [n, r] of Object.entries(up.rootDependencies)) walk(n, r, 1);
    assert.equal(depth, 3);
    for (const name of up.treeNames) assert.ok(Object.keys(up.packument(name).versions).length >= 3, name);
  });

  it('serves a full packument a registry client accepts: versions, dist-tags, time, modified, absolute tarball URLs', async () => {
    const r = await fetch(`${up.url}/${esc('@fx/beta')}`, { headers: { accept: 'application/json' } });
    assert.equal(r.status, 200);
    const doc = (await r.json()) as ReturnType<FakeUpstream['packument']>;
    assert.equal(doc.name, '@fx/beta');
    assert.equal(doc['dist-tags'].latest, '2.0.0');
    assert.ok(doc.time.created && doc.time.modified && doc.modified);
    for (const [v, m] of Object.entries(doc.versions)) {
      assert.ok(semver.valid(v));
      assert.equal(m.version, v);
      assert.ok(doc.time[v], `time of ${v}`);
      assert.equal(m.dist.tarball, `${up.url}/@fx/beta/-/beta-${v}.tgz`);
      assert.match(m.dist.integrity, /^sha512-/);
      assert.match(m.dist.shasum, /^[0-9a-f]{40}$/);
    }
  });

  it('serves tarballs whose bytes match the packument integrity (sha512) and shasum (sha1), with package/package.json inside', async () => {
    const doc = up.packument('fx-alpha');
    const m = doc.versions['1.2.3']!;
    const bytes = Buffer.from(await (await fetch(m.dist.tarball)).arrayBuffer());
    assert.equal(`sha512-${createHash('sha512').update(bytes).digest('base64')}`, m.dist.integrity);
    assert.equal(createHash('sha1').update(bytes).digest('hex'), m.dist.shasum);
    const tar = gunzipSync(bytes);
    assert.equal(tar.subarray(0, 20).toString('utf8').replace(/\0+$/, ''), 'package/package.json');
    assert.match(tar.toString('utf8'), /"name": "fx-alpha"/);
  });

  it('derives the abbreviated packument, answers 304 to a matching If-None-Match, and gzips on request', async () => {
    const r = await fetch(`${up.url}/fx-zeta`, { headers: { accept: ABBREVIATED } });
    assert.equal(r.headers.get('content-type'), 'application/vnd.npm.install-v1+json');
    const etag = r.headers.get('etag')!;
    const doc = (await r.json()) as Record<string, any>;
    assert.ok(doc.modified);
    assert.equal(doc.time, undefined);
    assert.equal(doc.readme, undefined);
    const again = await fetch(`${up.url}/fx-zeta`, { headers: { accept: ABBREVIATED, 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get('etag'), etag);
    // The full document has another ETag, so a full request with the abbreviated one's validator is a 200.
    assert.equal((await fetch(`${up.url}/fx-zeta`, { headers: { accept: 'application/json', 'if-none-match': etag } })).status, 200);
    const raw = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
      import('node:http').then(({ get }) =>
        get(`${up.url}/fx-zeta`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
        }).on('error', reject),
      );
    });
    assert.equal(raw.encoding, 'gzip');
    assert.equal(JSON.parse(gunzipSync(raw.body).toString('utf8')).name, 'fx-zeta');
  });

  it('logs requests by name, serves forged bytes for a tampered tarball, and goes down and up on the same port', async () => {
    up.clearLog();
    const m = up.packument('fx-mu').versions['1.0.0']!;
    up.tamper('fx-mu', '1.0.0');
    const forged = Buffer.from(await (await fetch(m.dist.tarball)).arrayBuffer());
    assert.notEqual(`sha512-${createHash('sha512').update(forged).digest('base64')}`, m.dist.integrity);
    up.untamper();
    const genuine = Buffer.from(await (await fetch(m.dist.tarball)).arrayBuffer());
    assert.deepEqual(genuine, up.tarball('fx-mu', '1.0.0'));
    assert.equal(up.tarballRequests('fx-mu', '1.0.0').length, 2);
    assert.equal(up.requestsFor('fx-mu').length, 2);
    assert.equal(up.requestsFor('fx-m').length, 0);

    const port = up.port;
    await up.stop();
    await assert.rejects(fetch(`${up.url}/fx-mu`));
    await up.start();
    assert.equal(up.port, port);
    assert.equal((await fetch(`${up.url}/fx-mu`)).status, 200);
  });

  it('answers both audit endpoints and logs the decoded body, gzip or plain', async () => {
    up.clearLog();
    const bulk = await fetch(`${up.url}/-/npm/v1/security/advisories/bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ 'fx-theta': ['1.0.0'], 'fx-mu': ['1.2.3'] })),
    });
    const advisories = (await bulk.json()) as Record<string, { id: number; vulnerable_versions: string }[]>;
    assert.deepEqual(Object.keys(advisories), ['fx-theta']);
    assert.equal(advisories['fx-theta']![0]!.vulnerable_versions, '<1.2.0');
    const quick = await fetch(`${up.url}/-/npm/v1/security/audits/quick`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', version: '1.0.0', requires: { 'fx-theta': '^1.0.0' }, dependencies: { 'fx-theta': { version: '1.1.0' } } }),
    });
    const report = (await quick.json()) as { advisories: object; metadata: { vulnerabilities: { moderate: number } } };
    assert.equal(report.metadata.vulnerabilities.moderate, 1);
    assert.deepEqual(
      up.auditRequests().map((e) => e.body),
      [{ 'fx-theta': ['1.0.0'], 'fx-mu': ['1.2.3'] }, { name: 'x', version: '1.0.0', requires: { 'fx-theta': '^1.0.0' }, dependencies: { 'fx-theta': { version: '1.1.0' } } }],
    );
  });
});
