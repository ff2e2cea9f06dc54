/**
 * The real pnpm 10 (the `pnpm` dev dependency) against a real Wharf on loopback: `pnpm publish` of a scoped
 * package from a directory (pnpm 10 hands publishing to npm), then `pnpm add` into a fresh project through the
 * project, the group and the instance endpoint, each configured with the `.npmrc` docs/npm.md gives, and
 * `require()` of the installed package. The group is private, so every request must carry the token — pnpm
 * matches credentials by the tarball's own URL, which at group and instance level is the project endpoint's.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanEnv, consumer, LEVELS, nerfDart, npmrcFor, ok, requireIn, run, startRegistry, type Registry } from '../helpers/npm-e2e.js';

// The package's only export (`.`) is its package.json; the binary sits beside it.
const PNPM = path.join(path.dirname(createRequire(import.meta.url).resolve('pnpm')), 'bin/pnpm.cjs');
const NAME = '@acme/pnpm-widget';

describe('pnpm 10 against Wharf (project, group and instance endpoints)', () => {
  let r: Registry;
  const pnpm = (args: string[], cwd: string) =>
    run(
      process.execPath,
      [PNPM, ...args],
      cwd,
      // Temporary store and caches (pnpm's and, for `pnpm publish`, npm's), and no update check.
      cleanEnv(r.work, {
        npm_config_store_dir: path.join(r.work, 'store'),
        npm_config_cache_dir: path.join(r.work, 'pnpm-cache'),
        npm_config_cache: path.join(r.work, 'npm-cache'),
        npm_config_update_notifier: 'false',
      }),
    );

  before(async () => {
    r = await startRegistry('wharf-pnpm-e2e-');
  });
  after(async () => r?.close());

  it('pnpm --version is the pinned 10.x', async () => {
    const out = await ok(run(process.execPath, [PNPM, '--version'], r.work, cleanEnv(r.work)), 'pnpm --version');
    assert.match(out.trim(), /^10\.\d+\.\d+$/);
  });

  it('publishes a scoped package with pnpm publish', async () => {
    const dir = path.join(r.work, 'pkg');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: NAME, version: '1.0.0', main: 'index.js', license: 'MIT' }, null, 2));
    writeFileSync(path.join(dir, 'index.js'), 'module.exports = { from: "pnpm", answer: 42 };\n');
    const rc = npmrcFor('acme', r.urls.project, r.token, 'project', r.base);
    writeFileSync(path.join(dir, '.npmrc'), rc);
    // pnpm 10 packs, copies this .npmrc next to the tarball in a temporary directory and runs `npm publish` there;
    // npm reads it only if no parent of that directory holds a package.json. The user config (HOME is the
    // sandbox) makes the test independent of what else lives in the machine's temporary directory.
    const userRc = path.join(r.work, '.npmrc');
    writeFileSync(userRc, rc);
    try {
      await ok(pnpm(['publish', '--no-git-checks'], dir), 'pnpm publish');
    } finally {
      // The installs below must be configured by their own .npmrc alone.
      rmSync(userRc, { force: true });
    }
    const doc = await r.t.call('GET', `/api/v4/projects/${r.projectId}/packages/npm/@acme%2fpnpm-widget`, { token: r.token });
    assert.equal(doc.status, 200, doc.text);
    assert.ok(doc.body.versions['1.0.0']);
  });

  for (const level of LEVELS) {
    it(`installs through the ${level} endpoint with pnpm add and require()s it`, async () => {
      const app = consumer(path.join(r.work, `consumer-${level}`), { '.npmrc': npmrcFor('acme', r.urls[level], r.token, level, r.base) });
      await ok(pnpm(['add', `${NAME}@1.0.0`], app), `pnpm add (${level})`);
      assert.deepEqual(await requireIn(app, NAME), { from: 'pnpm', answer: 42 });
      const lock = readFileSync(path.join(app, 'pnpm-lock.yaml'), 'utf8');
      assert.match(lock, /@acme\/pnpm-widget@1\.0\.0/);
      assert.match(lock, /integrity: sha512-/);
    });
  }

  it('without the /api/v4/projects/ line, a group-level install of a private package gets no token for the tarball', async () => {
    const app = consumer(path.join(r.work, 'consumer-group-bare'), { '.npmrc': `@acme:registry=${r.urls.group}\n${nerfDart(r.urls.group)}:_authToken=${r.token}\n` });
    const done = await run(
      process.execPath,
      [PNPM, 'add', `${NAME}@1.0.0`],
      app,
      cleanEnv(r.work, { npm_config_store_dir: path.join(r.work, 'store-bare'), npm_config_cache_dir: path.join(r.work, 'cache-bare'), npm_config_update_notifier: 'false' }),
    );
    assert.notEqual(done.code, 0);
    assert.match(`${done.stdout}${done.stderr}`, /404/);
  });
});
