/**
 * The real Yarn classic (1.x, the `yarn` dev dependency) against a real Wharf on loopback: `yarn add` of a
 * private scoped package into a fresh project through the project, the group and the instance endpoint, each
 * with the `.npmrc` docs/npm.md gives (Yarn 1 reads npm's `.npmrc`), then `require()` of it. Yarn 1 sends the
 * token to a tarball URL only when that URL lies under a configured registry path, hence the `/api/v4/projects/`
 * line of the group and instance configuration; the test also shows what happens without it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { published } from '../helpers/npm.js';
import { cleanEnv, consumer, LEVELS, nerfDart, npmrcFor, ok, requireIn, run, startRegistry, type Registry } from '../helpers/npm-e2e.js';

const YARN1 = createRequire(import.meta.url).resolve('yarn/bin/yarn.js');
const NAME = '@acme/classic-widget';

describe('Yarn classic (1.x) against Wharf (project, group and instance endpoints)', () => {
  let r: Registry;
  const yarn = (args: string[], cwd: string, cache = 'yarn-cache') =>
    run(process.execPath, [YARN1, ...args, '--cache-folder', path.join(r.work, cache), '--non-interactive', '--no-progress'], cwd, cleanEnv(r.work, { YARN_IGNORE_PATH: '1' }));

  before(async () => {
    r = await startRegistry('wharf-yarn1-e2e-');
    await published(r.t, r.projectId, NAME, '1.0.0', { extra: { description: 'for yarn 1' } });
  });
  after(async () => r?.close());

  it('yarn --version is 1.x', async () => {
    assert.match((await ok(run(process.execPath, [YARN1, '--version'], r.work, cleanEnv(r.work)), 'yarn --version')).trim(), /^1\.\d+\.\d+$/);
  });

  for (const level of LEVELS) {
    it(`installs through the ${level} endpoint with yarn add and require()s it`, async () => {
      const app = consumer(path.join(r.work, `consumer-${level}`), { '.npmrc': npmrcFor('acme', r.urls[level], r.token, level, r.base) });
      await ok(yarn(['add', `${NAME}@1.0.0`], app), `yarn add (${level})`);
      // The test package's index.js is `module.exports = 42;`.
      assert.equal(await requireIn(app, NAME), 42);
      const lock = readFileSync(path.join(app, 'yarn.lock'), 'utf8');
      assert.match(lock, new RegExp(`resolved "${r.base}/api/v4/projects/${r.projectId}/packages/npm/@acme/classic-widget/-/@acme/classic-widget-1\\.0\\.0\\.tgz#[0-9a-f]{40}"`));
      assert.match(lock, /integrity sha512-/);
    });
  }

  it('publishes a scoped package from a real directory with yarn publish, then installs and require()s it', async () => {
    const npmrc = npmrcFor('acme', r.urls.project, r.token, 'project', r.base);
    const pkg = consumer(path.join(r.work, 'yarn1-publisher'), {
      'package.json': JSON.stringify({ name: '@acme/yarn1-published', version: '3.1.4', main: 'index.js', license: 'MIT' }),
      'index.js': 'module.exports = "published by yarn 1";\n',
      '.npmrc': npmrc,
    });
    await ok(yarn(['publish', '--new-version', '3.1.4', '--no-git-tag-version'], pkg), 'yarn publish');
    const app = consumer(path.join(r.work, 'consumer-yarn1-published'), { '.npmrc': npmrc });
    await ok(yarn(['add', '@acme/yarn1-published@3.1.4'], app, 'yarn-cache-published'), 'yarn add (published by yarn 1)');
    assert.equal(await requireIn(app, '@acme/yarn1-published'), 'published by yarn 1');
  });

  it('without the /api/v4/projects/ line, a group-level install of a private package cannot fetch the tarball', async () => {
    const app = consumer(path.join(r.work, 'consumer-group-bare'), {
      '.npmrc': `@acme:registry=${r.urls.group}\n${nerfDart(r.urls.group)}:_authToken=${r.token}\n`,
    });
    // A cache of its own: the tarball must really be fetched.
    const done = await yarn(['add', `${NAME}@1.0.0`], app, 'yarn-cache-bare');
    assert.notEqual(done.code, 0, `${done.stdout}\n${done.stderr}`);
    assert.match(`${done.stdout}\n${done.stderr}`, /404|Not Found/);
  });
});
