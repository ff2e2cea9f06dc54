/**
 * npm test material made in memory: tar archives written byte by byte (so hostile ones — `../` paths, absolute
 * paths, links, huge `package.json` — can be made at all; real packers refuse to), gzipped tarballs, and publish
 * bodies shaped exactly as libnpmpublish builds them (docs/design/client-protocols.md#publish-body).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { ROOT_TOKEN, type CallResult, type TestApp } from './app.js';

export interface TarEntry {
  path: string;
  content?: string | Buffer;
  /** ustar type flag: '0' file, '1' hard link, '2' symlink, '5' directory, '3' char device. */
  type?: '0' | '1' | '2' | '3' | '5';
  linkpath?: string;
  /** Override the size written in the header (to make truncated or lying archives). */
  size?: number;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(e: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  let name = e.path;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  h.write(name, 0, 100, 'utf8');
  h.write(octal(e.type === '5' ? 0o755 : 0o644, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(1_700_000_000, 12), 136);
  h.write('        ', 148);
  h.write(e.type ?? '0', 156);
  if (e.linkpath) h.write(e.linkpath, 157, 100, 'utf8');
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

/** An uncompressed tar stream with the two zero blocks that end an archive. */
export function makeTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = typeof e.content === 'string' ? Buffer.from(e.content) : (e.content ?? Buffer.alloc(0));
    parts.push(header(e, e.size ?? data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export const makeTgz = (entries: TarEntry[]): Buffer => gzipSync(makeTar(entries), { level: 9 });

export type Manifest = Record<string, unknown> & { name: string; version: string };

/** A well-formed package tarball: `package/package.json` plus an `index.js`. */
export function packageTgz(manifest: Manifest, files: Record<string, string> = { 'index.js': 'module.exports = 42;\n' }): Buffer {
  return makeTgz([
    { path: 'package/package.json', content: JSON.stringify(manifest, null, 2) },
    ...Object.entries(files).map(([p, content]) => ({ path: `package/${p}`, content })),
  ]);
}

export const sha1Hex = (b: Buffer): string => createHash('sha1').update(b).digest('hex');
export const sha512Sri = (b: Buffer): string => `sha512-${createHash('sha512').update(b).digest('base64')}`;

export interface PublishOptions {
  tag?: string;
  readme?: string;
  /** Extra fields of the version object (and so of the tarball's package.json unless `tgz` is given). */
  extra?: Record<string, unknown>;
  tgz?: Buffer;
  registry?: string;
}

/** The body `npm publish` sends for one version (libnpmpublish `buildMetadata`). */
export function publishBody(name: string, version: string, opts: PublishOptions = {}): { body: Record<string, any>; tgz: Buffer } {
  const manifest: Manifest = { name, version, description: `${name} for tests`, main: 'index.js', ...opts.extra };
  const tgz = opts.tgz ?? packageTgz(manifest);
  const registry = opts.registry ?? 'http://wharf.test/api/v4/projects/1/packages/npm/';
  const tarballName = `${name}-${version}.tgz`;
  const body = {
    _id: name,
    name,
    description: manifest.description,
    'dist-tags': { [opts.tag ?? 'latest']: version },
    versions: {
      [version]: {
        ...manifest,
        ...(opts.readme !== undefined ? { readme: opts.readme, readmeFilename: 'README.md' } : {}),
        _id: `${name}@${version}`,
        _nodeVersion: '20.20.2',
        _npmVersion: '11.19.1',
        dist: {
          integrity: sha512Sri(tgz),
          shasum: sha1Hex(tgz),
          tarball: `${registry.replace(/^https:/, 'http:')}${name}/-/${tarballName}`,
        },
      },
    },
    access: null,
    _attachments: {
      [tarballName]: { content_type: 'application/octet-stream', data: tgz.toString('base64'), length: tgz.length },
    },
  };
  return { body, tgz };
}

/** `@scope/name` → `@scope%2fname`, as npm escapes it (only the first `/`, lower-case). */
export const esc = (name: string): string => name.replace('/', '%2f');

// --- a small GitLab world to run the npm matrices in -------------------------------------------------------


export const bearer = (token: string | undefined): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});

export type Visibility = 'public' | 'internal' | 'private';
export type Role = 'guest' | 'reporter' | 'developer' | 'maintainer';
export const ROLE_LEVEL: Record<Role, number> = { guest: 10, reporter: 20, developer: 30, maintainer: 40 };

export interface NpmWorld {
  /** A project per visibility, each in a group of the same visibility; `everyone` is private with the package
   *  registry open to anyone; `dotted` is a public project whose path contains a dot. */
  project: Record<Visibility | 'everyone' | 'dotted', number>;
  /** The root namespace path of each project (its npm scope under the naming convention). */
  scope: Record<Visibility | 'everyone' | 'dotted', string>;
  dottedPath: string;
  /** PATs (`api`) of users holding that role on every group; `outsider` is a member of nothing. */
  token: Record<Role | 'outsider' | 'readApi' | 'deployRead' | 'deployWrite' | 'revoked', string>;
}

async function created(r: CallResult, what: string): Promise<any> {
  assert.equal(r.status, 201, `${what}: ${r.status} ${r.text}`);
  return r.body;
}

export async function createNpmWorld(t: TestApp): Promise<NpmWorld> {
  const post = async (url: string, body: unknown) => created(await t.call('POST', `/api/v4${url}`, { token: ROOT_TOKEN, body }), url);
  const groups: Record<Visibility, any> = {
    public: await post('/groups', { name: 'pubgrp', path: 'pubgrp', visibility: 'public' }),
    internal: await post('/groups', { name: 'intgrp', path: 'intgrp', visibility: 'internal' }),
    private: await post('/groups', { name: 'privgrp', path: 'privgrp', visibility: 'private' }),
  };
  const project = {} as NpmWorld['project'];
  for (const v of ['public', 'internal', 'private'] as const) {
    project[v] = (await post('/projects', { name: `${v}-lib`, namespace_id: groups[v].id, visibility: v })).id;
  }
  project.everyone = (await post('/projects', { name: 'everyone', namespace_id: groups.private.id, visibility: 'private', package_registry_access_level: 'public' })).id;
  const dotted = await post('/projects', { name: 'my.lib', path: 'my.lib', namespace_id: groups.public.id, visibility: 'public' });
  project.dotted = dotted.id;

  const token = {} as NpmWorld['token'];
  for (const role of ['guest', 'reporter', 'developer', 'maintainer', 'outsider'] as const) {
    const user = await post('/users', { username: role, name: role, email: `${role}@example.com`, password: 'password123' });
    token[role] = (await post(`/users/${user.id}/personal_access_tokens`, { name: 'npm', scopes: ['api'] })).token;
    if (role !== 'outsider') {
      for (const g of Object.values(groups)) await post(`/groups/${g.id}/members`, { user_id: user.id, access_level: ROLE_LEVEL[role] });
    }
    if (role === 'developer') {
      token.readApi = (await post(`/users/${user.id}/personal_access_tokens`, { name: 'ro', scopes: ['read_api'] })).token;
      const revoked = await post(`/users/${user.id}/personal_access_tokens`, { name: 'gone', scopes: ['api'] });
      token.revoked = revoked.token;
      assert.equal((await t.call('DELETE', `/api/v4/personal_access_tokens/${revoked.id}`, { token: ROOT_TOKEN })).status, 204);
    }
  }
  token.deployRead = (await post(`/projects/${project.private}/deploy_tokens`, { name: 'read', scopes: ['read_package_registry'] })).token;
  token.deployWrite = (await post(`/projects/${project.private}/deploy_tokens`, { name: 'write', scopes: ['write_package_registry'] })).token;
  return {
    project,
    scope: { public: 'pubgrp', internal: 'intgrp', private: 'privgrp', everyone: 'privgrp', dotted: 'pubgrp' },
    dottedPath: dotted.path_with_namespace ?? 'pubgrp/my.lib',
    token,
  };
}

export const npmBase = (projectId: number | string): string => `/api/v4/projects/${projectId}/packages/npm`;

/** PUTs a publish body the way npm does (Bearer token, `npm-command: publish`); `null` sends no token. */
export function publish(t: TestApp, projectId: number | string, body: unknown, token: string | null = ROOT_TOKEN, urlName?: string): Promise<CallResult> {
  const name = urlName ?? (body as { name?: string })?.name ?? 'x';
  return t.call('PUT', `${npmBase(projectId)}/${esc(name)}`, { headers: { ...bearer(token ?? undefined), 'npm-command': 'publish' }, body: body as object });
}

/** Publishes a fresh version and insists it worked. */
export async function published(t: TestApp, projectId: number, name: string, version: string, opts: PublishOptions = {}): Promise<{ tgz: Buffer }> {
  const { body, tgz } = publishBody(name, version, opts);
  const r = await publish(t, projectId, body);
  assert.equal(r.status, 200, `publish ${name}@${version}: ${r.text}`);
  return { tgz };
}

const PACKAGE_TABLES = ['packages', 'package_files', 'npm_metadata', 'package_tags', 'package_documents'] as const;

/** Rows of every package table, the documents' revisions, and the stored blobs: what a refused write must not touch. */
export async function packageState(t: TestApp): Promise<Record<string, unknown>> {
  const db = t.deps.database.db;
  const out: Record<string, unknown> = {};
  for (const table of PACKAGE_TABLES) {
    const r = await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    out[table] = Number(r.n);
  }
  out.revisions = (await db.selectFrom('package_documents').select(['package_name', 'revision']).orderBy('package_name').execute()).map(
    (r) => `${r.package_name}@${r.revision}`,
  );
  const blobs: string[] = [];
  for await (const b of t.deps.blobs.list()) blobs.push(b);
  out.blobs = blobs.sort();
  return out;
}

/** Runs a request that must be refused with a 4xx, and proves it stored nothing. */
export async function refusedWithNothingStored(t: TestApp, request: () => Promise<CallResult>): Promise<CallResult> {
  const before = await packageState(t);
  const r = await request();
  assert.ok(r.status >= 400 && r.status < 500, `expected a 4xx, got ${r.status} ${r.text}`);
  assert.deepEqual(await packageState(t), before, `the refused request (${r.status} ${r.text}) stored something`);
  return r;
}
