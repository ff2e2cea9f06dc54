/** The admin CLI against a real data directory, as an operator would use it before and after starting the server. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { runWharf, startWharf } from '../helpers/process.js';
import { ProxyUpstream } from '../helpers/proxy-upstream.js';

describe('wharf CLI', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  before(async () => {
    db = await createTestDatabase('sqlite');
    env = { WHARF_DATA_DIR: db.dataDir };
  });
  after(async () => db.drop());

  const ok = (args: string[], input?: string) => {
    const r = runWharf(args, env, input);
    assert.equal(r.status, 0, `wharf ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };

  it('has --help on every command', () => {
    for (const cmd of [[], ['serve'], ['migrate'], ['user', 'create'], ['user', 'list'], ['user', 'set-password'], ['token', 'create'], ['token', 'list'], ['token', 'revoke'], ['group', 'create'], ['project', 'create'], ['gc'], ['npm-proxy', 'list'], ['npm-proxy', 'stats'], ['npm-proxy', 'purge'], ['signing-keys', 'list'], ['signing-keys', 'rotate']]) {
      const r = runWharf([...cmd, '--help'], env);
      assert.equal(r.status, 0, cmd.join(' '));
      assert.match(r.stdout, /Usage: wharf/);
    }
  });

  it('migrates an empty database, then has nothing to do', () => {
    assert.match(ok(['migrate']), /applied: 001-identity/);
    assert.match(ok(['migrate']), /up to date/);
  });

  it('sets up users, groups, projects and tokens that the server then honours', async () => {
    const first = ok(['user', 'create', '--username', 'alice', '--email', 'alice@example.com', '--password', 'correct-horse']);
    // The first administrative command on an empty database creates root and shows its token once.
    assert.match(first, /WHARF ROOT TOKEN/);
    assert.match(first, /"username": "alice"/);
    assert.match(ok(['user', 'list']), /alice@example.com/);
    ok(['group', 'create', '--path', 'acme', '--visibility', 'private']);
    ok(['group', 'create', '--path', 'acme/platform']);
    const project = JSON.parse(ok(['project', 'create', '--path', 'acme/platform/web', '--package-registry-access-level', 'private'])) as { id: number; path_with_namespace: string };
    assert.equal(project.path_with_namespace, 'acme/platform/web');
    const created = JSON.parse(ok(['token', 'create', '--user', 'alice', '--name', 'laptop', '--scopes', 'read_api', '--expires-at', 'never'])) as { id: number; token: string };
    assert.match(created.token, /^whpat-/);
    assert.match(ok(['token', 'list', '--user', 'alice']), /laptop/);
    ok(['user', 'set-password', 'alice'], 'a-new-password\n');

    const server = await startWharf(env);
    try {
      const me = await fetch(`${server.url}/api/v4/user`, { headers: { 'private-token': created.token } });
      assert.equal(me.status, 200);
      assert.equal(((await me.json()) as { username: string }).username, 'alice');
      // Alice is no member of the private project.
      assert.equal((await fetch(`${server.url}/api/v4/projects/acme%2Fplatform%2Fweb`, { headers: { 'private-token': created.token } })).status, 404);
      // Warm the server's identity cache, revoke from another process, and the very next request is refused.
      assert.equal((await fetch(`${server.url}/api/v4/user`, { headers: { 'private-token': created.token } })).status, 200);
      ok(['token', 'revoke', String(created.id)]);
      assert.equal((await fetch(`${server.url}/api/v4/user`, { headers: { 'private-token': created.token } })).status, 401);
    } finally {
      await server.stop();
    }
  });

  it('a running server answers from what the CLI changed in another process, at once', async () => {
    // The server remembers lookups until the database changes; a commit by another process must end that at once.
    const root = JSON.parse(ok(['token', 'create', '--user', 'root', '--name', 'e2e', '--scopes', 'api'])) as { token: string };
    const server = await startWharf(env);
    try {
      const packument = () =>
        fetch(`${server.url}/api/v4/projects/acme%2Fplatform%2Flate/packages/npm/@acme%2fthing`, { headers: { authorization: `Bearer ${root.token}` } });
      const group = () => fetch(`${server.url}/api/v4/groups/acme%2Fplatform%2Fteam/packages`, { headers: { 'private-token': root.token } });
      for (let i = 0; i < 3; i++) {
        const r = await packument();
        assert.equal(r.status, 404);
        assert.match(await r.text(), /Project Not Found/i);
        assert.equal((await group()).status, 404);
      }
      ok(['project', 'create', '--path', 'acme/platform/late']);
      ok(['group', 'create', '--path', 'acme/platform/team']);
      const after = await packument();
      assert.equal(after.status, 404);
      assert.match(await after.text(), /Packages Not Found/i, 'the project now exists');
      assert.equal((await group()).status, 200);
    } finally {
      await server.stop();
    }
  });

  it('lists and rotates the npm signing keys; the server lists the same keys', async () => {
    const before = JSON.parse(ok(['signing-keys', 'list'])) as { keys: Array<{ keyid: string; expires: string | null }> };
    assert.equal(before.keys.length, 1);
    assert.equal(before.keys[0]!.expires, null);
    const refused = runWharf(['signing-keys', 'rotate', '--overlap-hours', '-1'], env);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /--overlap-hours must be a whole number/);
    const rotated = JSON.parse(ok(['signing-keys', 'rotate', '--overlap-hours', '2'])) as { keyid: string; expired: Array<{ keyid: string; expires: string }> };
    assert.deepEqual(rotated.expired.map((e) => e.keyid), [before.keys[0]!.keyid]);
    const inTwoHours = Date.parse(rotated.expired[0]!.expires) - Date.now();
    assert.ok(inTwoHours > 7_100_000 && inTwoHours <= 7_200_000, `${inTwoHours}`);
    const server = await startWharf(env);
    try {
      const r = await fetch(`${server.url}/api/v4/packages/npm/-/npm/v1/keys`);
      assert.equal(r.status, 200);
      const { keys } = (await r.json()) as { keys: Array<{ keyid: string; expires: string | null }> };
      assert.deepEqual(keys.map((k) => [k.keyid, k.expires]), [
        [before.keys[0]!.keyid, rotated.expired[0]!.expires],
        [rotated.keyid, null],
      ]);
    } finally {
      await server.stop();
    }
  });

  it('collects garbage, with a dry run first', () => {
    const dry = JSON.parse(ok(['gc', '--dry-run', '--grace', '0'])) as Record<string, unknown>;
    assert.equal(dry.dryRun, true);
    assert.equal(typeof dry.blobsDeleted, 'number');
    const real = JSON.parse(ok(['gc'])) as Record<string, unknown>;
    assert.equal(real.dryRun, false);
    assert.equal(runWharf(['gc', '--grace', 'soon'], env).status, 1);
  });

  it("lists, sums and purges the npm proxy's cache", async () => {
    const up = await new ProxyUpstream().start();
    const root = JSON.parse(ok(['token', 'create', '--user', 'root', '--name', 'proxy', '--scopes', 'api'])) as { token: string };
    const server = await startWharf(env);
    try {
      up.publish('left-pad', '1.0.0');
      up.publish('@types/thing', '1.0.0');
      const put = await fetch(`${server.url}/api/v4/application/settings`, {
        method: 'PUT',
        headers: { 'private-token': root.token, 'content-type': 'application/json' },
        body: JSON.stringify({ npm_package_requests_forwarding: true, npm_package_requests_forwarding_url: up.url }),
      });
      assert.equal(put.status, 200);
      for (const path of ['left-pad', 'left-pad/-/left-pad-1.0.0.tgz', '@types%2fthing', '@types/thing/-/thing-1.0.0.tgz']) {
        const r = await fetch(`${server.url}/api/v4/packages/npm/${path}`);
        assert.equal(r.status, 200, path);
        await r.arrayBuffer();
      }
      // The rows of live downloads are written just after their responses end.
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      await server.stop();
      await up.stop();
    }
    const stats = JSON.parse(ok(['npm-proxy', 'stats'])) as Record<string, number | null>;
    assert.equal(stats.packuments, 2);
    assert.equal(stats.tarballs, 2);
    assert.equal(stats.misses, 4);
    assert.equal(stats.max_cache_bytes, null);
    const lines = ok(['npm-proxy', 'list', '--search', 'pad']).trim().split('\n');
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0]!) as { name: string; versions: string[]; tarballs: number; bytes: number };
    assert.deepEqual([entry.name, entry.versions, entry.tarballs], ['left-pad', ['1.0.0'], 1]);
    assert.ok(entry.bytes > 0);

    const purged = JSON.parse(ok(['npm-proxy', 'purge', '@types/thing'])) as Record<string, unknown>;
    assert.deepEqual([purged.name, purged.packuments, purged.tarballs], ['@types/thing', 1, 1]);
    const unknown = runWharf(['npm-proxy', 'purge', '@types/thing'], env);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /404 Cached package Not Found/);
    assert.match(runWharf(['npm-proxy', 'purge', 'Not A Name'], env).stderr, /not a valid npm package name/);
    for (const args of [['npm-proxy', 'purge'], ['npm-proxy', 'purge', 'left-pad', '--all']]) {
      const r = runWharf(args, env);
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, /give either a package name or --all/);
    }
    const gc = JSON.parse(ok(['gc', '--dry-run'])) as Record<string, unknown>;
    assert.deepEqual([gc.proxyTarballsEvicted, gc.proxyPackumentsEvicted, gc.proxyBytesEvicted], [0, 0, 0]);
    const all = JSON.parse(ok(['npm-proxy', 'purge', '--all'])) as Record<string, unknown>;
    assert.deepEqual([all.name, all.packuments, all.tarballs], [null, 1, 1]);
    assert.equal((JSON.parse(ok(['npm-proxy', 'stats'])) as { bytes: number }).bytes, 0);
    assert.equal(ok(['npm-proxy', 'list']), '');
  });

  it('explains what is wrong and exits non-zero', () => {
    const dup = runWharf(['user', 'create', '--username', 'alice', '--email', 'other@example.com'], env);
    assert.equal(dup.status, 1);
    assert.match(dup.stderr, /Username has already been taken/);
    const bad = runWharf(['group', 'create', '--path', 'admin'], env);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /reserved name/);
    const missing = runWharf(['token', 'create', '--user', 'nobody', '--name', 'x'], env);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no user named "nobody"/);
    const vis = runWharf(['project', 'create', '--path', 'acme/x', '--visibility', 'secret'], env);
    assert.notEqual(vis.status, 0);
    assert.match(vis.stderr, /Allowed choices are public, internal, private/);
  });
});
