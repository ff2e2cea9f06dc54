/**
 * End-to-end material for the real npm, pnpm and yarn binaries: a Wharf on 127.0.0.1 (port 0; composed after the
 * port is known, because packuments embed absolute tarball URLs built from `WHARF_EXTERNAL_URL`), a private group
 * `acme` with a project and a Maintainer, child processes with a clean environment and temporary caches, and the
 * client configuration exactly as docs/npm.md tells users to write it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT_TOKEN, startApp, type TestApp } from './app.js';

export interface Registry {
  t: TestApp;
  /** `http://127.0.0.1:<port>` */
  base: string;
  /** A scratch directory removed by `close()`. */
  work: string;
  groupId: number;
  projectId: number;
  /** An `api` PAT of a Maintainer of the project. */
  token: string;
  username: string;
  password: string;
  /** The three registry URLs of docs/npm.md, each with its trailing slash. */
  urls: Record<Level, string>;
  close(): Promise<void>;
}

export type Level = 'project' | 'group' | 'instance';
export const LEVELS: readonly Level[] = ['project', 'group', 'instance'];

export async function startRegistry(prefix: string, env: Record<string, string> = {}): Promise<Registry> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const t = await startApp('sqlite', { env: { WHARF_EXTERNAL_URL: base, ...env } });
  server.on('request', t.app.routing);
  const api = async (url: string, body: unknown) => {
    const r = await t.call('POST', `/api/v4${url}`, { token: ROOT_TOKEN, body });
    assert.equal(r.status, 201, `${url}: ${r.text}`);
    return r.body;
  };
  const group = await api('/groups', { name: 'Acme', path: 'acme', visibility: 'private' });
  const project = await api('/projects', { name: 'widgets', namespace_id: group.id, visibility: 'private' });
  const username = 'maria';
  const password = 'password123';
  const user = await api('/users', { username, name: 'Maria', email: 'maria@example.com', password });
  await api(`/projects/${project.id}/members`, { user_id: user.id, access_level: 40 });
  const token = (await api(`/users/${user.id}/personal_access_tokens`, { name: 'npm', scopes: ['api'] })).token;
  const work = mkdtempSync(path.join(tmpdir(), prefix));
  return {
    t,
    base,
    work,
    groupId: group.id,
    projectId: project.id,
    token,
    username,
    password,
    urls: {
      project: `${base}/api/v4/projects/${project.id}/packages/npm/`,
      group: `${base}/api/v4/groups/${group.id}/-/packages/npm/`,
      instance: `${base}/api/v4/packages/npm/`,
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await t.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** `//host/path/` of a URL: the key npm, pnpm and yarn 1 look credentials up by. */
export const nerfDart = (url: string): string => url.replace(/^https?:/, '');

/**
 * The `.npmrc` of docs/npm.md for a scope on one endpoint: the scope's registry with its trailing slash and the
 * token under that registry's nerf dart. At group and instance level the tarballs are served by the project
 * endpoint, so the token is also given for `/api/v4/projects/` (pnpm and yarn 1 match credentials by the tarball's
 * own URL; npm would fall back to the registry's token on the same host anyway).
 */
export function npmrcFor(scope: string, registry: string, token: string, level: Level, base: string): string {
  const lines = [`@${scope}:registry=${registry}`, `${nerfDart(registry)}:_authToken=${token}`];
  if (level !== 'project') lines.push(`${nerfDart(base)}/api/v4/projects/:_authToken=${token}`);
  return `${lines.join('\n')}\n`;
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment a client runs in: ours minus inherited npm/yarn/pnpm settings, HOME in the sandbox. */
export function cleanEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|yarn_|berry_|pnpm_)/i.test(k)) env[k] = v;
  return { ...env, HOME: home, NO_COLOR: '1', ...extra };
}

export function run(program: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 90_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${program} ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export async function ok(r: Promise<Run>, what: string): Promise<string> {
  const done = await r;
  assert.equal(done.code, 0, `${what} failed:\n${done.stdout}\n${done.stderr}`);
  return done.stdout;
}

/** A fresh consumer project directory with a package.json. */
export function consumer(dir: string, files: Record<string, string> = {}): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2));
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
  return dir;
}

/** `require(name)` in `dir` by a separate node process, its export as JSON. */
export async function requireIn(dir: string, name: string): Promise<unknown> {
  const out = await ok(run(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(name)})))`], dir, process.env), `require(${name})`);
  return JSON.parse(out);
}
