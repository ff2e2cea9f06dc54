/**
 * The real `npm` CLI against a real Wharf on loopback: publish a scoped package from a directory, view it,
 * install it into a fresh project and `require()` it, move dist-tags, deprecate and undeprecate — with the
 * `.npmrc` a GitLab user writes (scope registry with trailing slash, nerf-darted `_authToken`).
 *
 * The server listens on port 0 first and Wharf is composed afterwards with the port it got, because tarball URLs
 * in packuments are absolute and built from `WHARF_EXTERNAL_URL` (exactly as in production behind a proxy).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT_TOKEN, startApp, type TestApp } from '../helpers/app.js';

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

describe('the npm CLI against Wharf (project endpoint)', () => {
  let t: TestApp;
  let server: Server;
  let base: string;
  let work: string;
  let registry: string;
  let npmrc: string;
  let token: string;
  const name = '@acme/widget';

  const npm = (args: string[], cwd: string, timeoutMs = 120_000): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn('npm', [...args, '--userconfig', npmrc, '--globalconfig', path.join(work, 'global-npmrc'), '--cache', path.join(work, 'cache')], {
        cwd,
        env: cleanEnv({ npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', NO_COLOR: '1' }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`npm ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
      }, timeoutMs);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  const ok = async (args: string[], cwd: string): Promise<string> => {
    const r = await npm(args, cwd);
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
});
