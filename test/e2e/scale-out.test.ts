/**
 * Two real `wharf serve` processes (A and B) on one PostgreSQL schema and one S3 bucket (s3rver on loopback), each
 * with its own data directory, behind an imagined load balancer: whatever one instance writes, the other serves at
 * once, uniqueness holds across them, and killing one in the middle of a publish leaves nothing half-visible.
 *
 * Both share `WHARF_EXTERNAL_URL`, as instances behind one load balancer must: packuments and index.yaml embed
 * absolute URLs, and the tests rewrite that origin to the instance they want to ask.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { createTestDatabase, PG_URL, type TestDatabase } from '../helpers/databases.js';
import { buildChart, multipart, basic } from '../helpers/helm.js';
import { packageTgz, publishBody } from '../helpers/npm.js';
import { startWharf, type WharfProcess } from '../helpers/process.js';
import { startS3, type TestS3 } from '../helpers/s3.js';

const ROOT = 'wharf-scale-out-root-token-0123456789';
const EXTERNAL = 'http://registry.scale-out.test';
const NAME = '@acme/widget';
const ESC = '@acme%2fwidget';
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Res {
  status: number;
  text: string;
  body: any;
  raw: Buffer;
}

async function call(base: string, method: string, url: string, options: { body?: unknown; raw?: Buffer; headers?: Record<string, string> } = {}): Promise<Res> {
  const headers: Record<string, string> = { authorization: `Bearer ${ROOT}`, ...options.headers };
  let payload: Buffer | string | undefined = options.raw;
  if (options.body !== undefined) {
    payload = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const r = await fetch(`${base}${url}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  const raw = Buffer.from(await r.arrayBuffer());
  const text = raw.toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: r.status, text, body, raw };
}

describe('scale-out: two Wharf processes on one PostgreSQL and one S3 bucket', { skip: !PG_URL && 'WHARF_TEST_DATABASE_URL not set (needs PostgreSQL)', timeout: 120_000 }, () => {
  let db: TestDatabase;
  let s3: TestS3;
  let a: WharfProcess;
  let b: WharfProcess;
  let bDataDir: string;
  let pid: number;
  const npm = (id: number) => `/api/v4/projects/${id}/packages/npm`;
  /** The instance's own address in place of the shared external URL. */
  const via = (proc: WharfProcess, url: string) => url.replace(EXTERNAL, proc.url);

  const publish = (proc: WharfProcess, version: string, extra: Record<string, unknown> = {}) => {
    const { body, tgz } = publishBody(NAME, version, { extra, registry: `${EXTERNAL}${npm(pid)}/` });
    return call(proc.url, 'PUT', `${npm(pid)}/${ESC}`, { body, headers: { 'npm-command': 'publish' } }).then((r) => ({ ...r, tgz }));
  };
  const packument = async (proc: WharfProcess) => {
    const r = await call(proc.url, 'GET', `${npm(pid)}/${ESC}`);
    assert.equal(r.status, 200, r.text);
    return r.body as { versions: Record<string, any>; 'dist-tags': Record<string, string> };
  };

  before(async () => {
    db = await createTestDatabase('postgres');
    s3 = await startS3();
    bDataDir = mkdtempSync(path.join(tmpdir(), 'wharf-scale-b-'));
    const env = { ...s3.env, WHARF_DATABASE_URL: db.databaseUrl!, WHARF_ROOT_TOKEN: ROOT, WHARF_EXTERNAL_URL: EXTERNAL, WHARF_GC_INTERVAL: '0' };
    // Separate data directories: nothing on local disk may be shared between the instances.
    [a, b] = await Promise.all([startWharf({ ...env, WHARF_DATA_DIR: db.dataDir }), startWharf({ ...env, WHARF_DATA_DIR: bDataDir })]);
    const group = await call(a.url, 'POST', '/api/v4/groups', { body: { name: 'acme', path: 'acme', visibility: 'public' } });
    assert.equal(group.status, 201, group.text);
    const project = await call(b.url, 'POST', '/api/v4/projects', { body: { name: 'lib', namespace_id: group.body.id, visibility: 'public' } });
    assert.equal(project.status, 201, project.text);
    pid = project.body.id;
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await s3?.close();
    await db?.drop();
    if (bDataDir) rmSync(bDataDir, { recursive: true, force: true });
  });

  it('a publish through A is installable through B at once (packument and tarball bytes)', async () => {
    const r = await publish(a, '1.0.0');
    assert.equal(r.status, 200, r.text);
    const doc = await packument(b);
    assert.equal(doc['dist-tags'].latest, '1.0.0');
    const dist = doc.versions['1.0.0'].dist;
    assert.equal(dist.integrity, `sha512-${createHash('sha512').update(r.tgz).digest('base64')}`);
    const tarball = await call(b.url, 'GET', new URL(via(b, dist.tarball)).pathname);
    assert.equal(tarball.status, 200, tarball.text);
    assert.equal(sha256(tarball.raw), sha256(r.tgz), 'B serves the exact bytes published through A');
  });

  it('40 concurrent publishes of distinct versions, split across A and B, all land', async () => {
    const versions = Array.from({ length: 40 }, (_, i) => `2.0.${i}`);
    const results = await Promise.all(versions.map((v, i) => publish(i % 2 === 0 ? a : b, v)));
    for (const [i, r] of results.entries()) assert.equal(r.status, 200, `${versions[i]}: ${r.text}`);
    for (const proc of [a, b]) {
      const doc = await packument(proc);
      const listed = Object.keys(doc.versions);
      for (const v of versions) assert.ok(listed.includes(v), `${v} missing through ${proc === a ? 'A' : 'B'}`);
      assert.equal(listed.length, 41);
    }
    const listing = await call(a.url, 'GET', `/api/v4/projects/${pid}/packages?package_type=npm&per_page=100`);
    assert.equal(listing.status, 200, listing.text);
    assert.equal((listing.body as unknown[]).length, 41);
  });

  it('the same version published through A and B at once: exactly one 200, the other 403 "Package already exists."', async () => {
    for (let round = 0; round < 5; round++) {
      const version = `3.0.${round}`;
      // Different contents, so the loser is a conflicting publish and not an idempotent retry of the winner.
      const [ra, rb] = await Promise.all([publish(a, version, { description: 'from A' }), publish(b, version, { description: 'from B' })]);
      const statuses = [ra.status, rb.status].sort();
      assert.deepEqual(statuses, [200, 403], `round ${round}: A ${ra.status} ${ra.text} / B ${rb.status} ${rb.text}`);
      const loser = ra.status === 403 ? ra : rb;
      const winner = ra.status === 200 ? ra : rb;
      assert.equal(loser.body.message, 'Package already exists.');
      for (const proc of [a, b]) {
        const v = (await packument(proc)).versions[version];
        assert.equal(v.dist.shasum, createHash('sha1').update(winner.tgz).digest('hex'), 'both instances show the winner');
      }
    }
  });

  it('a dist-tag moved through B is seen through A at once', async () => {
    const moved = await call(b.url, 'PUT', `${npm(pid)}/-/package/${ESC}/dist-tags/next`, { body: '"2.0.7"' });
    assert.equal(moved.status, 204, moved.text);
    assert.equal((await packument(a))['dist-tags'].next, '2.0.7');
    const tags = await call(a.url, 'GET', `${npm(pid)}/-/package/${ESC}/dist-tags`);
    assert.equal(tags.body.next, '2.0.7');
    const again = await call(b.url, 'PUT', `${npm(pid)}/-/package/${ESC}/dist-tags/next`, { body: '"2.0.8"' });
    assert.equal(again.status, 204, again.text);
    assert.equal((await packument(a))['dist-tags'].next, '2.0.8');
  });

  it('a Helm chart uploaded through A is in B’s index.yaml at once, and B serves its bytes', async () => {
    const helm = `/api/v4/projects/${pid}/packages/helm`;
    // Warm B's cached index first, so the test proves the cache is validated rather than merely empty.
    const warm = await call(b.url, 'GET', `${helm}/stable/index.yaml`, { headers: { authorization: basic('root', ROOT) } });
    assert.equal(warm.status, 200, warm.text);
    const chart = buildChart('scaled', '0.1.0');
    const { payload, contentType } = multipart([{ field: 'chart', filename: 'scaled-0.1.0.tgz', content: chart }]);
    const up = await call(a.url, 'POST', `${helm}/api/stable/charts`, { raw: payload, headers: { 'content-type': contentType, authorization: basic('root', ROOT) } });
    assert.equal(up.status, 201, up.text);
    const index = await call(b.url, 'GET', `${helm}/stable/index.yaml`, { headers: { authorization: basic('root', ROOT) } });
    assert.equal(index.status, 200, index.text);
    const entries = (YAML.parse(index.text) as { entries: Record<string, Array<{ version: string; digest: string; urls: string[] }>> }).entries;
    const entry = entries.scaled?.find((e) => e.version === '0.1.0');
    assert.ok(entry, index.text);
    assert.equal(entry.digest, sha256(chart));
    const url = new URL(entry.urls[0]!, `${b.url}${helm}/stable/index.yaml`);
    const dl = await call(b.url, 'GET', url.pathname, { headers: { authorization: basic('root', ROOT) } });
    assert.equal(dl.status, 200, dl.text);
    assert.equal(sha256(dl.raw), sha256(chart));
  });

  it('killing A (SIGKILL) in the middle of a large publish leaves no half-visible version, and B keeps serving', async () => {
    const version = '9.9.9';
    // ~18 MiB of random bytes (base64, so ~24 MiB gzipped): a publish body of ~32 MiB that A is still reading, decoding and storing
    // when it dies.
    const heavy = publishBody(NAME, version, {
      registry: `${EXTERNAL}${npm(pid)}/`,
      tgz: packageTgz({ name: NAME, version, description: 'big' }, { 'blob.bin': randomBytes(18 * 1024 * 1024).toString('base64') }),
    });
    const payload = Buffer.from(JSON.stringify(heavy.body));
    const target = new URL(`${a.url}${npm(pid)}/${ESC}`);

    const outcome = await new Promise<string>((resolve) => {
      const req = http.request(
        { method: 'PUT', host: target.hostname, port: target.port, path: target.pathname, headers: { authorization: `Bearer ${ROOT}`, 'content-type': 'application/json', 'content-length': payload.length, 'npm-command': 'publish' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(`answered ${res.statusCode}`));
        },
      );
      req.on('error', (err) => resolve(`connection lost: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      // Hand A all but the last megabyte, then kill it once it holds most of the upload.
      const cut = payload.length - 1024 * 1024;
      req.write(payload.subarray(0, cut), () => {
        a.child.kill('SIGKILL');
        req.end(payload.subarray(cut));
      });
    });
    assert.match(outcome, /connection lost/, 'A must have died before answering');
    await new Promise<void>((resolve) => (a.child.exitCode !== null || a.child.signalCode !== null ? resolve() : a.child.once('exit', () => resolve())));
    assert.equal(a.child.signalCode, 'SIGKILL');

    // B keeps serving, and nothing of the killed publish is visible through it.
    assert.equal((await call(b.url, 'GET', '/-/readiness')).status, 200);
    const doc = await packument(b);
    assert.equal(doc.versions[version], undefined, 'the killed publish must not be visible');
    assert.equal(Object.keys(doc.versions).length, 46);
    const missing = await call(b.url, 'GET', `${npm(pid)}/${NAME}/-/widget-${version}.tgz`);
    assert.equal(missing.status, 404, missing.text);

    // The version is free: publishing it again through B works and is complete.
    const again = await call(b.url, 'PUT', `${npm(pid)}/${ESC}`, { body: heavy.body, headers: { 'npm-command': 'publish' } });
    assert.equal(again.status, 200, again.text);
    const after = (await packument(b)).versions[version];
    assert.ok(after);
    const tarball = await call(b.url, 'GET', new URL(via(b, after.dist.tarball)).pathname);
    assert.equal(tarball.status, 200);
    assert.equal(sha256(tarball.raw), sha256(heavy.tgz));
  });
});
