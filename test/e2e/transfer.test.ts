/**
 * `wharf transfer` as an operator runs it: a single-node install (SQLite + files) populated through a real server,
 * stopped, moved into PostgreSQL + an S3 bucket (s3rver on loopback), and then served from there: every npm
 * package installs with the same bytes, every chart is in its index with the same digest, old tokens still work,
 * ids (and so URLs) are unchanged, and new rows get fresh ids. Re-running resumes an interrupted transfer, copying
 * only what is missing, and refuses a finished one or a target that is not empty.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { renameSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { createTestDatabase, PG_URL, type TestDatabase } from '../helpers/databases.js';
import { basic, buildChart, multipart } from '../helpers/helm.js';
import { publishBody } from '../helpers/npm.js';
import { runWharf, runWharfAsync, startWharf, type WharfProcess } from '../helpers/process.js';
import { startS3, type TestS3 } from '../helpers/s3.js';

const ROOT = 'wharf-transfer-root-token-0123456789';
const EXTERNAL = 'http://registry.transfer.test';
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Res {
  status: number;
  text: string;
  body: any;
  raw: Buffer;
}

async function call(base: string, method: string, url: string, options: { token?: string; body?: unknown; raw?: Buffer; headers?: Record<string, string> } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers };
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

const npm = (pid: number) => `/api/v4/projects/${pid}/packages/npm`;
const helm = (pid: number) => `/api/v4/projects/${pid}/packages/helm`;

interface Published {
  pid: number;
  name: string;
  versions: Record<string, string>;
  distTags: Record<string, string>;
}
interface Uploaded {
  pid: number;
  channel: string;
  name: string;
  version: string;
  sha256: string;
}

describe('wharf transfer: SQLite + files → PostgreSQL + S3', { skip: !PG_URL && 'WHARF_TEST_DATABASE_URL not set (needs PostgreSQL)', timeout: 120_000 }, () => {
  let source: TestDatabase;
  let target: TestDatabase;
  let occupied: TestDatabase;
  let s3: TestS3;
  const tokens: Record<string, string> = { root: ROOT };
  const ids: Record<string, number> = {};
  const packages: Published[] = [];
  const charts: Uploaded[] = [];
  let transferArgs: string[];
  const sourceEnv = () => ({ WHARF_DATA_DIR: source.dataDir, WHARF_EXTERNAL_URL: EXTERNAL });
  /** The transfer's own environment: the source's settings, and the target bucket's credentials. */
  const transferEnv = () => ({ ...sourceEnv(), WHARF_TO_S3_ACCESS_KEY_ID: s3.env.WHARF_S3_ACCESS_KEY_ID!, WHARF_TO_S3_SECRET_ACCESS_KEY: s3.env.WHARF_S3_SECRET_ACCESS_KEY! });

  before(async () => {
    [source, target, occupied, s3] = await Promise.all([createTestDatabase('sqlite'), createTestDatabase('postgres'), createTestDatabase('postgres'), startS3()]);
    transferArgs = [
      'transfer',
      '--to-database', target.databaseUrl!,
      '--to-blob-store', 's3',
      '--to-s3-bucket', s3.bucket,
      '--to-s3-endpoint', s3.endpoint,
      '--to-s3-region', 'us-east-1',
      '--to-s3-force-path-style',
    ];

    // --- populate a single-node install through a real server ---------------------------------------------
    const server = await startWharf({ ...sourceEnv(), WHARF_ROOT_TOKEN: ROOT });
    const u = server.url;
    const ok = (r: Res, status: number, what: string) => {
      assert.equal(r.status, status, `${what}: ${r.text}`);
      return r.body;
    };
    const alice = ok(await call(u, 'POST', '/api/v4/users', { token: ROOT, body: { username: 'alice', name: 'Alice', email: 'alice@example.com', password: 'password123' } }), 201, 'user');
    ids.alice = alice.id;
    tokens.alice = ok(await call(u, 'POST', `/api/v4/users/${alice.id}/personal_access_tokens`, { token: ROOT, body: { name: 'ci', scopes: ['api'] } }), 201, 'pat').token;
    const acme = ok(await call(u, 'POST', '/api/v4/groups', { token: ROOT, body: { name: 'acme', path: 'acme', visibility: 'public' } }), 201, 'group');
    const platform = ok(await call(u, 'POST', '/api/v4/groups', { token: ROOT, body: { name: 'platform', path: 'platform', parent_id: acme.id, visibility: 'private' } }), 201, 'subgroup');
    ok(await call(u, 'POST', `/api/v4/groups/${platform.id}/members`, { token: ROOT, body: { user_id: alice.id, access_level: 30 } }), 201, 'member');
    ids.lib = ok(await call(u, 'POST', '/api/v4/projects', { token: ROOT, body: { name: 'lib', namespace_id: acme.id, visibility: 'public' } }), 201, 'project').id;
    ids.tools = ok(await call(u, 'POST', '/api/v4/projects', { token: ROOT, body: { name: 'tools', namespace_id: platform.id, visibility: 'private' } }), 201, 'project').id;
    tokens.deploy = ok(await call(u, 'POST', `/api/v4/projects/${ids.tools}/deploy_tokens`, { token: ROOT, body: { name: 'read', scopes: ['read_package_registry'] } }), 201, 'deploy token').token;
    ok(await call(u, 'PUT', '/api/v4/application/settings', { token: ROOT, body: { helm_max_packages_count: 100 } }), 200, 'settings');

    const publish = async (pid: number, token: string, name: string, version: string) => {
      const { body, tgz } = publishBody(name, version, { registry: `${EXTERNAL}${npm(pid)}/` });
      ok(await call(u, 'PUT', `${npm(pid)}/${name.replace('/', '%2f')}`, { token, body, headers: { 'npm-command': 'publish' } }), 200, `publish ${name}@${version}`);
      let p = packages.find((x) => x.name === name);
      if (!p) packages.push((p = { pid, name, versions: {}, distTags: {} }));
      p.versions[version] = sha256(tgz);
    };
    await publish(ids.lib!, ROOT, '@acme/left', '1.0.0');
    await publish(ids.lib!, ROOT, '@acme/left', '1.1.0');
    await publish(ids.lib!, ROOT, '@acme/right', '0.1.0');
    await publish(ids.tools!, tokens.alice!, '@acme/secret', '2.0.0');
    await publish(ids.tools!, tokens.alice!, '@acme/secret', '2.1.0');
    ok(await call(u, 'PUT', `${npm(ids.lib!)}/-/package/@acme%2fleft/dist-tags/stable`, { token: ROOT, body: '"1.0.0"' }), 204, 'dist-tag');
    ok(await call(u, 'PUT', `${npm(ids.tools!)}/-/package/@acme%2fsecret/dist-tags/legacy`, { token: tokens.alice!, body: '"2.0.0"' }), 204, 'dist-tag');
    for (const p of packages) p.distTags = ok(await call(u, 'GET', `${npm(p.pid)}/-/package/${p.name.replace('/', '%2f')}/dist-tags`, { token: ROOT }), 200, 'tags');

    const upload = async (pid: number, channel: string, name: string, version: string) => {
      const chart = buildChart(name, version);
      const { payload, contentType } = multipart([{ field: 'chart', filename: `${name}-${version}.tgz`, content: chart }]);
      ok(await call(u, 'POST', `${helm(pid)}/api/${channel}/charts`, { raw: payload, headers: { 'content-type': contentType, authorization: basic('root', ROOT) } }), 201, `chart ${name}`);
      charts.push({ pid, channel, name, version, sha256: sha256(chart) });
    };
    await upload(ids.lib!, 'stable', 'web', '1.0.0');
    await upload(ids.lib!, 'stable', 'web', '1.1.0');
    await upload(ids.tools!, 'beta', 'worker', '0.3.0');
    assert.equal(await server.stop(), 0);
  });

  after(async () => {
    await s3?.close();
    await Promise.all([source?.drop(), target?.drop(), occupied?.drop()]);
  });

  it('refuses a target database that is not empty', async () => {
    // Any CLI command on an empty database creates root, as a server started there too early would.
    const bootstrapped = runWharf(['user', 'list'], { WHARF_DATABASE_URL: occupied.databaseUrl!, WHARF_DATA_DIR: occupied.dataDir });
    assert.equal(bootstrapped.status, 0, bootstrapped.stderr);
    const args = transferArgs.map((a) => (a === target.databaseUrl ? occupied.databaseUrl! : a));
    const r = await runWharfAsync(args, transferEnv());
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /is not empty \(rows in [^)]*users/);
  });

  it('an interrupted transfer (a source blob unreadable) resumes on the next run, copying only what is missing', async () => {
    // Hide one of the source's blobs: the first run copies every other blob, then stops before copying any row.
    const hidden = charts[0]!.sha256;
    const file = path.join(source.dataDir, 'blobs', 'sha256', hidden.slice(0, 2), hidden.slice(2, 4), hidden);
    renameSync(file, `${file}.away`);
    const first = await runWharfAsync(transferArgs, transferEnv());
    renameSync(`${file}.away`, file);
    assert.equal(first.status, 1, first.stdout);
    assert.match(first.stderr, new RegExp(`missing from its blob store: ${hidden}`));

    const second = await runWharfAsync(transferArgs, transferEnv());
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stderr, /resuming the unfinished transfer/);
    const report = JSON.parse(second.stdout) as { resumed: boolean; blobs: Record<string, number>; rows: Record<string, { source: number; inserted: number }> };
    const blobCount = packages.reduce((n, p) => n + Object.keys(p.versions).length, 0) + charts.length;
    assert.equal(report.resumed, true);
    assert.deepEqual(report.blobs, { referenced: blobCount, copied: 1, alreadyPresent: blobCount - 1, verified: blobCount });
    for (const [table, r] of Object.entries(report.rows)) assert.equal(r.inserted, r.source, `${table}: every row copied`);
    assert.equal(report.rows.packages!.source, blobCount);

    const third = await runWharfAsync(transferArgs, transferEnv());
    assert.equal(third.status, 1);
    assert.match(third.stderr, /already holds a finished transfer/);
  });

  describe('a server on the target', () => {
    let w: WharfProcess;
    before(async () => {
      // No WHARF_ROOT_TOKEN: root's token must work because its digest was transferred, not because it was re-added.
      w = await startWharf({ ...s3.env, WHARF_DATABASE_URL: target.databaseUrl!, WHARF_DATA_DIR: target.dataDir, WHARF_EXTERNAL_URL: EXTERNAL });
    });
    after(async () => w?.stop());

    it('keeps users, tokens, ids, members, deploy tokens and settings', async () => {
      assert.doesNotMatch(w.stdout(), /WHARF ROOT TOKEN/);
      assert.equal((await call(w.url, 'GET', '/api/v4/user', { token: ROOT })).body.username, 'root');
      assert.equal((await call(w.url, 'GET', '/api/v4/user', { token: tokens.alice! })).body.id, ids.alice);
      assert.equal((await call(w.url, 'GET', `/api/v4/projects/${ids.tools}`, { token: tokens.alice! })).body.path_with_namespace, 'acme/platform/tools');
      assert.equal((await call(w.url, 'GET', `/api/v4/projects/${ids.lib}`, { token: ROOT })).body.path_with_namespace, 'acme/lib');
      const settings = await call(w.url, 'GET', '/api/v4/application/settings', { token: ROOT });
      assert.equal(settings.body.helm_max_packages_count, 100);
      assert.equal(settings.body.wharf_transfer_progress, undefined, 'the progress marker is not an application setting');
    });

    it('serves every npm package: packument, dist-tags and tarball bytes', async () => {
      for (const p of packages) {
        const token = p.pid === ids.tools ? tokens.alice! : ROOT;
        const doc = await call(w.url, 'GET', `${npm(p.pid)}/${p.name.replace('/', '%2f')}`, { token });
        assert.equal(doc.status, 200, doc.text);
        assert.deepEqual(doc.body['dist-tags'], p.distTags);
        assert.deepEqual(Object.keys(doc.body.versions).sort(), Object.keys(p.versions).sort());
        for (const [version, digest] of Object.entries(p.versions)) {
          const url = new URL(doc.body.versions[version].dist.tarball.replace(EXTERNAL, w.url));
          const tgz = await call(w.url, 'GET', url.pathname, { token });
          assert.equal(tgz.status, 200, `${p.name}@${version}: ${tgz.text}`);
          assert.equal(sha256(tgz.raw), digest, `${p.name}@${version} bytes`);
        }
      }
      // The private project's deploy token still reads it.
      const viaDeploy = await call(w.url, 'GET', `${npm(ids.tools!)}/@acme%2fsecret`, { token: tokens.deploy! });
      assert.equal(viaDeploy.status, 200, viaDeploy.text);
    });

    it('serves every chart in its channel’s index.yaml with the same digest and bytes', async () => {
      for (const c of charts) {
        const auth = { authorization: basic('root', ROOT) };
        const index = await call(w.url, 'GET', `${helm(c.pid)}/${c.channel}/index.yaml`, { headers: auth });
        assert.equal(index.status, 200, index.text);
        const entry = (YAML.parse(index.text).entries[c.name] as Array<{ version: string; digest: string; urls: string[] }>).find((e) => e.version === c.version);
        assert.ok(entry, `${c.name} ${c.version} in ${c.channel}`);
        assert.equal(entry.digest, c.sha256);
        const dl = await call(w.url, 'GET', new URL(entry.urls[0]!, `${w.url}${helm(c.pid)}/${c.channel}/index.yaml`).pathname, { headers: auth });
        assert.equal(dl.status, 200);
        assert.equal(sha256(dl.raw), c.sha256);
      }
    });

    it('gives new rows fresh ids after the copied ones (sequences were moved)', async () => {
      const project = await call(w.url, 'POST', '/api/v4/projects', { token: ROOT, body: { name: 'after', namespace_id: (await call(w.url, 'GET', '/api/v4/groups/acme', { token: ROOT })).body.id } });
      assert.equal(project.status, 201, project.text);
      assert.ok(project.body.id > ids.tools!);
      const { body } = publishBody('@acme/left', '1.2.0', { registry: `${EXTERNAL}${npm(ids.lib!)}/` });
      const r = await call(w.url, 'PUT', `${npm(ids.lib!)}/@acme%2fleft`, { token: ROOT, body, headers: { 'npm-command': 'publish' } });
      assert.equal(r.status, 200, r.text);
      const user = await call(w.url, 'POST', '/api/v4/users', { token: ROOT, body: { username: 'bob', name: 'Bob', email: 'bob@example.com', password: 'password123' } });
      assert.equal(user.status, 201, user.text);
      assert.ok(user.body.id > ids.alice!);
    });
  });
});
