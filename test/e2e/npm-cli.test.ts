/**
 * The real `npm` CLI against a real Wharf on loopback: publish a scoped package from a directory, view it,
 * install it into a fresh project and `require()` it (through the project, the group and the instance endpoint),
 * move dist-tags, deprecate and undeprecate, whoami, search, `npm login --auth-type=legacy`, and unpublish a
 * version and then the package — with the `.npmrc` docs/npm.md tells users to write (scope registry with trailing
 * slash, nerf-darted `_authToken`).
 *
 * The server listens on port 0 first and Wharf is composed afterwards with the port it got, because tarball URLs
 * in packuments are absolute and built from `WHARF_EXTERNAL_URL` (exactly as in production behind a proxy).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';
import { nerfDart, npmrcFor, type Level } from '../helpers/npm-e2e.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment npm runs in: ours, minus any `npm_*` settings inherited from an `npm test` parent. */
const cleanEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
};

describe('the npm CLI against Wharf (project, group and instance endpoints)', () => {
  let t: TestApp;
  let server: Server;
  let base: string;
  let work: string;
  let registry: string;
  let npmrc: string;
  let token: string;
  let groupId: number;
  let projectId: number;
  const name = '@acme/widget';

  const npm = (args: string[], cwd: string, options: { userconfig?: string; input?: string; env?: Record<string, string> } = {}, timeoutMs = 120_000): Promise<Run> =>
    new Promise((resolve, reject) => {
      const userconfig = options.userconfig ?? npmrc;
      const child = spawn('npm', [...args, '--userconfig', userconfig, '--globalconfig', path.join(work, 'global-npmrc'), '--cache', path.join(work, 'cache')], {
        cwd,
        env: cleanEnv({ HOME: work, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', NO_COLOR: '1', ...options.env }),
        stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      // Prompted answers are written one at a time, each when its prompt appears: npm reads every prompt with a
      // fresh readline, which would swallow all buffered lines at the first one.
      const answers = options.input === undefined ? [] : options.input.split('\n').filter((l) => l !== '');
      const answer = (text: string) => {
        if (answers.length > 0 && /(Username|Password|username|password): *$/.test(text)) {
          const next = answers.shift()!;
          child.stdin!.write(`${next}\n`);
          if (answers.length === 0) child.stdin!.end();
        }
      };
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (c: Buffer) => {
        stdout += c.toString();
        answer(stdout);
      });
      child.stderr!.on('data', (c: Buffer) => {
        stderr += c.toString();
        answer(stderr);
      });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`npm ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
      }, timeoutMs);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  const ok = async (args: string[], cwd: string, options: { userconfig?: string; input?: string; env?: Record<string, string> } = {}): Promise<string> => {
    const r = await npm(args, cwd, options);
    assert.equal(r.code, 0, `npm ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };

  const api = async (method: string, url: string, body: unknown) => {
    const r = await t.call(method, `/api/v4${url}`, { token: ROOT_TOKEN, body });
    assert.equal(r.status, 201, `${url}: ${r.text}`);
    return r.body;
  };

  const writePackage = (dir: string, version: string, extra: Record<string, unknown> = {}) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version, main: 'index.js', license: 'MIT', ...extra }, null, 2));
    writeFileSync(path.join(dir, 'index.js'), `module.exports = { answer: 42, version: ${JSON.stringify(version)} };\n`);
    writeFileSync(path.join(dir, 'README.md'), `# widget ${version}\n`);
  };

  before(async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    base = `http://127.0.0.1:${port}`;
    t = await startApp('sqlite', { env: { WHARF_EXTERNAL_URL: base } });
    server.on('request', t.app.routing);

    const group = await api('POST', '/groups', { name: 'Acme', path: 'acme', visibility: 'private' });
    const project = await api('POST', '/projects', { name: 'widgets', namespace_id: group.id, visibility: 'private' });
    groupId = group.id;
    projectId = project.id;
    const user = await api('POST', '/users', { username: 'maria', name: 'Maria', email: 'maria@example.com', password: 'password123' });
    await api('POST', `/projects/${project.id}/members`, { user_id: user.id, access_level: 40 });
    token = (await api('POST', `/users/${user.id}/personal_access_tokens`, { name: 'npm', scopes: ['api'] })).token;

    work = mkdtempSync(path.join(tmpdir(), 'wharf-npm-e2e-'));
    registry = `${base}/api/v4/projects/${project.id}/packages/npm/`;
    npmrc = path.join(work, 'npmrc');
    writeFileSync(path.join(work, 'global-npmrc'), '');
    // Exactly what the GitLab docs tell users to write: the scope's registry with its trailing slash, and the
    // token under the registry's nerf dart.
    writeFileSync(npmrc, `@acme:registry=${registry}\n${registry.replace(/^https?:/, '')}:_authToken=${token}\n`);
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await t?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('publishes a scoped package from a directory and shows it with npm view', async () => {
    const dir = path.join(work, 'widget-1.0.0');
    writePackage(dir, '1.0.0');
    const out = await ok(['publish'], dir);
    assert.match(out, /\+ @acme\/widget@1\.0\.0/);

    const view = JSON.parse(await ok(['view', name, '--json'], work));
    assert.equal(view.name, name);
    assert.equal(view.version, '1.0.0');
    assert.equal(view['dist-tags'].latest, '1.0.0');
    assert.match(view.dist.integrity, /^sha512-/);
    assert.equal(view.dist.tarball, `${base}/api/v4/projects/${registry.match(/projects\/(\d+)/)![1]}/packages/npm/${name}/-/${name}-1.0.0.tgz`);
    assert.equal(view._npmUser, 'maria');
  });

  it('refuses to publish the same version twice', async () => {
    const dir = path.join(work, 'widget-1.0.0');
    const r = await npm(['publish'], dir);
    assert.notEqual(r.code, 0);
    // npm's own pre-check or Wharf's 403 — either way the version stays as first published.
    assert.match(r.stderr, /cannot publish over|Package already exists|E403/);
  });

  it('publishes a package with bin, dependencies, an install script and binding.gyp unchanged (the packument is built from the tarball)', async () => {
    const dir = path.join(work, 'native-1.0.0');
    mkdirSync(dir, { recursive: true });
    const manifest = {
      name: '@acme/native',
      version: '1.0.0',
      bin: 'cli.js',
      dependencies: { '@acme/widget': '^1.0.0' },
      optionalDependencies: { '@acme/missing': '1.0.0' },
      engines: { node: '>=18' },
      os: ['linux', 'darwin'],
      scripts: { postinstall: 'node cli.js', test: 'node --test' },
      bundleDependencies: false,
    };
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
    writeFileSync(path.join(dir, 'cli.js'), '#!/usr/bin/env node\n');
    writeFileSync(path.join(dir, 'binding.gyp'), '{"targets":[]}\n');
    await ok(['publish', '--ignore-scripts'], dir);

    const full = JSON.parse(await ok(['view', '@acme/native@1.0.0', '--json'], work));
    assert.deepEqual(full.bin, { native: 'cli.js' });
    assert.deepEqual(full.dependencies, manifest.dependencies);
    assert.deepEqual(full.optionalDependencies, manifest.optionalDependencies);
    assert.deepEqual(full.engines, manifest.engines);
    assert.deepEqual(full.os, manifest.os);
    // npm adds the node-gyp build for binding.gyp (there is no install or preinstall script); so does Wharf.
    assert.deepEqual(full.scripts, { ...manifest.scripts, install: 'node-gyp rebuild' });
    assert.equal(full.gypfile, true);
    assert.equal(full.bundleDependencies, undefined);
    const abbreviated = await fetch(`${registry}${encodeURIComponent('@acme/native').replace('%40', '@')}`, {
      headers: { accept: 'application/vnd.npm.install-v1+json', authorization: `Bearer ${token}` },
    });
    assert.equal(abbreviated.status, 200);
    assert.equal(((await abbreviated.json()) as any).versions['1.0.0'].hasInstallScript, true);
  });

  it('installs the package into a fresh project and require()s it', async () => {
    const dir = path.join(work, 'widget-1.1.0');
    writePackage(dir, '1.1.0');
    await ok(['publish', '--tag', 'beta'], dir);

    const app = path.join(work, 'consumer');
    mkdirSync(app, { recursive: true });
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    await ok(['install', `${name}@1.0.0`], app);
    const required = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(name)})))`], { cwd: app });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`require failed: ${code}`))));
    });
    assert.deepEqual(JSON.parse(required), { answer: 42, version: '1.0.0' });
    const lock = JSON.parse(readFileSync(path.join(app, 'package-lock.json'), 'utf8'));
    const entry = lock.packages[`node_modules/${name}`];
    assert.match(entry.resolved, new RegExp(`^${base}/api/v4/projects/\\d+/packages/npm/@acme/widget/-/@acme/widget-1\\.0\\.0\\.tgz$`));
    assert.match(entry.integrity, /^sha512-/);

    // A clean reinstall from the lockfile alone (what CI runs).
    rmSync(path.join(app, 'node_modules'), { recursive: true, force: true });
    await ok(['ci'], app);
  });

  it('lists, adds and removes dist-tags', async () => {
    const ls = await ok(['dist-tag', 'ls', name], work);
    assert.match(ls, /^latest: 1\.0\.0$/m);
    assert.match(ls, /^beta: 1\.1\.0$/m);

    await ok(['dist-tag', 'add', `${name}@1.1.0`, 'stable'], work);
    assert.match(await ok(['dist-tag', 'ls', name], work), /^stable: 1\.1\.0$/m);
    await ok(['dist-tag', 'add', `${name}@1.1.0`, 'latest'], work);
    assert.equal((await ok(['view', name, 'version'], work)).trim(), '1.1.0');

    await ok(['dist-tag', 'rm', name, 'stable'], work);
    assert.doesNotMatch(await ok(['dist-tag', 'ls', name], work), /stable/);
  });

  it('deprecates and undeprecates a version', async () => {
    await ok(['deprecate', `${name}@1.0.0`, 'use 1.1.0 instead'], work);
    assert.equal((await ok(['view', `${name}@1.0.0`, 'deprecated'], work)).trim(), 'use 1.1.0 instead');
    assert.equal((await ok(['view', `${name}@1.1.0`, 'deprecated'], work)).trim(), '');

    await ok(['undeprecate', `${name}@1.0.0`], work);
    assert.equal((await ok(['view', `${name}@1.0.0`, 'deprecated'], work)).trim(), '');
  });

  /** A consumer configured only by its own `.npmrc` (docs/npm.md), with an empty user config. */
  const installThrough = async (level: Level, registryUrl: string) => {
    const app = path.join(work, `consumer-${level}`);
    mkdirSync(app, { recursive: true });
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    writeFileSync(path.join(app, '.npmrc'), npmrcFor('acme', registryUrl, token, level, base));
    const empty = path.join(work, 'empty-npmrc');
    writeFileSync(empty, '');
    await ok(['install', `${name}@1.1.0`], app, { userconfig: empty });
    const required = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(name)})))`], { cwd: app });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`require failed: ${code}`))));
    });
    assert.deepEqual(JSON.parse(required), { answer: 42, version: '1.1.0' });
  };

  it('installs through the group endpoint', async () => installThrough('group', `${base}/api/v4/groups/${groupId}/-/packages/npm/`));
  it('installs through the instance endpoint', async () => installThrough('instance', `${base}/api/v4/packages/npm/`));

  it('whoami names the token’s user; ping answers', async () => {
    assert.equal((await ok(['whoami', '--registry', registry], work)).trim(), 'maria');
    const ping = await npm(['ping', '--registry', registry], work);
    assert.equal(ping.code, 0, ping.stderr);
    assert.match(ping.stderr, /PONG/);
  });

  it('search finds the package (npm search asks the default registry, so it is given)', async () => {
    const results = JSON.parse(await ok(['search', 'widget', '--json', '--registry', registry], work)) as Array<{ name: string; version: string }>;
    assert.deepEqual(
      results.map((r) => r.name),
      [name],
    );
    assert.equal(results[0]!.version, '1.1.0');
    const text = await ok(['search', 'widget', '--registry', registry], work);
    assert.match(text, /@acme\/widget/);
  });

  it('npm login --auth-type=legacy stores a new token that works', async () => {
    const loginrc = path.join(work, 'login-npmrc');
    writeFileSync(loginrc, `@acme:registry=${registry}\n`);
    const out = await npm(['login', '--auth-type=legacy', '--registry', registry, '--scope', '@acme'], work, { userconfig: loginrc, input: 'maria\npassword123\n' });
    assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
    const rc = readFileSync(loginrc, 'utf8');
    const m = new RegExp(`^${nerfDart(registry).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:_authToken=(whpat-\\S+)$`, 'm').exec(rc);
    assert.ok(m, rc);
    assert.notEqual(m[1], token);
    assert.equal((await ok(['whoami', '--registry', registry], work, { userconfig: loginrc })).trim(), 'maria');
    // The default (web) login is answered 404, so npm falls back to the same user name and password prompt.
    const webrc = path.join(work, 'web-npmrc');
    writeFileSync(webrc, '');
    const web = await npm(['login', '--registry', registry], work, { userconfig: webrc, input: 'maria\npassword123\n' });
    assert.equal(web.code, 0, `${web.stdout}\n${web.stderr}`);
    assert.match(readFileSync(webrc, 'utf8'), /:_authToken=whpat-/);
    // A wrong password is refused.
    const bad = await npm(['login', '--auth-type=legacy', '--registry', registry], work, { userconfig: path.join(work, 'bad-npmrc'), input: 'maria\nwrong-password\n' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /401|Incorrect username or password/);
  });

  it('a package protection rule stops npm publish with its message, and only for the names it matches', async () => {
    const rule = await api('POST', `/projects/${projectId}/packages/protection/rules`, {
      package_name_pattern: '@acme/guarded-*',
      package_type: 'npm',
      minimum_access_level_for_push: 'owner',
    });
    const dir = path.join(work, 'guarded');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: '@acme/guarded-cli', version: '1.0.0', license: 'MIT' }));
    const refused = await npm(['publish'], dir);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /E403/);
    assert.match(refused.stderr, /Package protected\./);
    // maria is a Maintainer: with the rule gone she publishes.
    assert.equal((await t.call('DELETE', `/api/v4/projects/${projectId}/packages/protection/rules/${rule.id}`, { token: ROOT_TOKEN })).status, 204);
    assert.match(await ok(['publish'], dir), /\+ @acme\/guarded-cli@1\.0\.0/);
  });

  it('npm logout revokes the token on the server and removes it from .npmrc', async () => {
    const rc = path.join(work, 'logout-npmrc');
    writeFileSync(rc, '');
    const login = await npm(['login', '--auth-type=legacy', '--registry', registry], work, { userconfig: rc, input: 'maria\npassword123\n' });
    assert.equal(login.code, 0, `${login.stdout}\n${login.stderr}`);
    const issued = /:_authToken=(whpat-\S+)$/m.exec(readFileSync(rc, 'utf8'))?.[1];
    assert.ok(issued);
    const out = await npm(['logout', '--registry', registry], work, { userconfig: rc });
    assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
    // npm deletes a user config that logging out left empty.
    assert.doesNotMatch(existsSync(rc) ? readFileSync(rc, 'utf8') : '', /_authToken/);
    const after = await t.call('GET', '/api/v4/user', { headers: { authorization: `Bearer ${issued}` } });
    assert.equal(after.status, 401, 'the token was revoked, not only forgotten locally');
  });

  it('unpublishes one version, then the whole package', async () => {
    await ok(['unpublish', `${name}@1.0.0`], work);
    const versions = JSON.parse(await ok(['view', name, 'versions', '--json'], work));
    assert.deepEqual([versions].flat(), ['1.1.0']);
    const tarball = await t.call('GET', `/api/v4/projects/${projectId}/packages/npm/${name}/-/${name}-1.0.0.tgz`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(tarball.status, 404, 'the unpublished version is gone');

    await ok(['unpublish', name, '--force'], work);
    const gone = await npm(['view', name], work);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /E404/);
  });

  it('publishes from CI: a deploy token in an environment variable, read by the project .npmrc', async () => {
    const deploy = await api('POST', `/projects/${projectId}/deploy_tokens`, { name: 'ci', scopes: ['write_package_registry'] });
    const dir = path.join(work, 'ci-widget');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: '@acme/ci-widget', version: '1.0.0', main: 'index.js' }));
    writeFileSync(path.join(dir, 'index.js'), 'module.exports = "ci";\n');
    // Literally `${NPM_TOKEN}`: npm expands it from the environment when it reads the file.
    writeFileSync(path.join(dir, '.npmrc'), `@acme:registry=${registry}\n${nerfDart(registry)}:_authToken=\${NPM_TOKEN}\n`);
    const empty = path.join(work, 'ci-user-npmrc');
    writeFileSync(empty, '');
    assert.match(await ok(['publish'], dir, { userconfig: empty, env: { NPM_TOKEN: deploy.token } }), /\+ @acme\/ci-widget@1\.0\.0/);
    const doc = await t.call('GET', `/api/v4/projects/${projectId}/packages/npm/@acme%2fci-widget`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(doc.status, 200);
    assert.equal(doc.body.versions['1.0.0']._npmUser.name, deploy.username);
  });
});
