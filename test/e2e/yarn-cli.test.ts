/**
 * The real Yarn Berry (4, from the `@yarnpkg/cli-dist` dev dependency) against a real Wharf on loopback:
 * `yarn npm publish`, `yarn npm info`, `yarn npm tag add/list/remove`, and `yarn add` into fresh projects, through
 * the project, the group and the instance endpoint, that then `require()` the package — configured as docs/npm.md
 * tells users to.
 *
 * Yarn 4 quarantines versions younger than `npmMinimalAgeGate` (a day by default) by their `time` entry; the test
 * turns the gate off for the scope, and Wharf's complete `time` map is what makes the gate work at all.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';

const YARN = createRequire(import.meta.url).resolve('@yarnpkg/cli-dist/bin/yarn.js');

/**
 * The `.yarnrc.yml` of docs/npm.md: the scope installs from `registry` (project, group or instance endpoint) and
 * publishes to the project endpoint. Yarn sends the scope's token to tarball URLs too, wherever they point.
 * `npmMinimalAgeGate: 0` turns off Yarn 4's quarantine of versions younger than a day.
 */
const yarnrcFor = (registry: string, publishRegistry: string, token: string): string =>
  [
    'npmScopes:',
    '  acme:',
    `    npmRegistryServer: "${registry}"`,
    `    npmPublishRegistry: "${publishRegistry}"`,
    `    npmAuthToken: "${token}"`,
    '    npmAlwaysAuth: true',
    '    npmMinimalAgeGate: 0',
    'unsafeHttpWhitelist:',
    '  - "127.0.0.1"',
    'enableTelemetry: false',
    'enableGlobalCache: false',
    'nodeLinker: node-modules',
    '',
  ].join('\n');

describe('Yarn Berry against Wharf (project, group and instance endpoints)', () => {
  let t: TestApp;
  let server: Server;
  let work: string;
  let yarnrc: string;
  let urls: Record<'project' | 'group' | 'instance', string>;
  let yarnrcOf: (level: 'project' | 'group' | 'instance') => string;
  const name = '@acme/gadget';

  const run = (args: string[], cwd: string, program = YARN): Promise<{ code: number | null; out: string }> =>
    new Promise((resolve, reject) => {
      const env: NodeJS.ProcessEnv = {};
      for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|yarn_|berry_)/i.test(k)) env[k] = v;
      // HOME points into the sandbox so no user-level .yarnrc.yml takes part.
      Object.assign(env, { HOME: work, YARN_ENABLE_TELEMETRY: '0', YARN_ENABLE_IMMUTABLE_INSTALLS: 'false', NO_COLOR: '1' });
      const child = spawn(process.execPath, [program, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`yarn ${args.join(' ')} timed out\n${out}`));
      }, 120_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
    });
  const yarn = async (args: string[], cwd: string): Promise<string> => {
    const r = await run(args, cwd);
    assert.equal(r.code, 0, `yarn ${args.join(' ')} failed:\n${r.out}`);
    return r.out;
  };
  /** A Yarn project directory: the shared `.yarnrc.yml`, a package.json and an (empty) lockfile. */
  const project = (dir: string, manifest: Record<string, unknown>, rc = yarnrc) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
    writeFileSync(path.join(dir, '.yarnrc.yml'), rc);
    writeFileSync(path.join(dir, 'yarn.lock'), '');
  };

  before(async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t = await startApp('sqlite', { env: { WHARF_EXTERNAL_URL: base } });
    server.on('request', t.app.routing);
    const api = async (url: string, body: unknown) => {
      const r = await t.call('POST', `/api/v4${url}`, { token: ROOT_TOKEN, body });
      assert.equal(r.status, 201, r.text);
      return r.body;
    };
    const group = await api('/groups', { name: 'Acme', path: 'acme', visibility: 'private' });
    const proj = await api('/projects', { name: 'gadgets', namespace_id: group.id, visibility: 'private' });
    const user = await api('/users', { username: 'yuki', name: 'Yuki', email: 'yuki@example.com', password: 'password123' });
    // Maintainer: removing a dist-tag needs `destroy_package` (docs/design/gitlab-compatibility.md#matrix-dist-tag-writes).
    await api(`/projects/${proj.id}/members`, { user_id: user.id, access_level: 40 });
    const token = (await api(`/users/${user.id}/personal_access_tokens`, { name: 'yarn', scopes: ['api'] })).token;
    const registry = `${base}/api/v4/projects/${proj.id}/packages/npm/`;
    work = mkdtempSync(path.join(tmpdir(), 'wharf-yarn-e2e-'));
    urls = {
      project: registry,
      group: `${base}/api/v4/groups/${group.id}/-/packages/npm/`,
      instance: `${base}/api/v4/packages/npm/`,
    };
    yarnrc = yarnrcFor(registry, registry, token);
    yarnrcOf = (level) => yarnrcFor(urls[level], registry, token);
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await t?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('publishes with `yarn npm publish` (scoped, default access restricted) and reads it back with `yarn npm info`', async () => {
    const dir = path.join(work, 'gadget');
    project(dir, { name, version: '1.0.0', main: 'index.js', license: 'MIT' });
    writeFileSync(path.join(dir, 'index.js'), 'module.exports = { gadget: true };\n');
    await yarn(['install'], dir);
    assert.match(await yarn(['npm', 'publish'], dir), /Package archive published/);
    const info = JSON.parse((await yarn(['npm', 'info', name, '--json'], dir)).trim().split('\n').pop()!);
    assert.equal(info.name, name);
    assert.deepEqual(info.versions, ['1.0.0']);
    assert.equal(info['dist-tags'].latest, '1.0.0');
    assert.ok(info.time['1.0.0'], 'a publish time for every version');
  });

  it('adds, lists and removes dist-tags with `yarn npm tag`', async () => {
    const dir = path.join(work, 'gadget');
    await yarn(['npm', 'tag', 'add', `${name}@1.0.0`, 'stable'], dir);
    const list = await yarn(['npm', 'tag', 'list', name], dir);
    assert.match(list, /@acme\/gadget@stable → 1\.0\.0/);
    assert.match(list, /@acme\/gadget@latest → 1\.0\.0/);
    await yarn(['npm', 'tag', 'remove', name, 'stable'], dir);
    assert.doesNotMatch(await yarn(['npm', 'tag', 'list', name], dir), /stable/);
  });

  it('installs into a fresh project with `yarn add`, and the package can be required', async () => {
    const app = path.join(work, 'consumer');
    project(app, { name: 'consumer', version: '1.0.0', private: true });
    await yarn(['add', `${name}@1.0.0`], app);
    const required = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(name)})))`], { cwd: app });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`require failed with ${code}`))));
    });
    assert.deepEqual(JSON.parse(required), { gadget: true });
  });

  for (const level of ['group', 'instance'] as const) {
    it(`installs through the ${level} endpoint with \`yarn add\`, and the package can be required`, async () => {
      const app = path.join(work, `consumer-${level}`);
      project(app, { name: 'consumer', version: '1.0.0', private: true }, yarnrcOf(level));
      await yarn(['add', `${name}@1.0.0`], app);
      const required = await new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(name)})))`], { cwd: app });
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`require failed with ${code}`))));
      });
      assert.deepEqual(JSON.parse(required), { gadget: true });
    });
  }
});
