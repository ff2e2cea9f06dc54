/**
 * Helm test kit: the real chart fixtures, archives the tests build (well-formed and hostile), multipart bodies as
 * curl and `helm cm-push` send them, and a small emulation of what helm and cm-push do on the wire, following Helm's
 * and cm-push's Go code. The real helm 3 and 4 binaries (test/helpers/helm-binary.ts) check the same paths end to end;
 * the emulation stays for the cm-push plugin, which has no binary here, and for fast request-level assertions.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Header, Parser, type ReadEntry } from 'tar';
import YAML from 'yaml';
import type { TestApp } from './app.js';

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'helm');
export const fixture = (rel: string): Buffer => readFileSync(path.join(FIXTURES, rel));
export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export const basic = (user: string, secret: string): string => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

// --- archives ------------------------------------------------------------------------------------------------

export interface TarEntry {
  path: string;
  content?: Buffer | string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'FIFO';
  linkpath?: string;
  /** Header size when it must differ from the content (a lying header). */
  size?: number;
}

/** A tar stream with exactly these entries and headers, whatever they say. */
export function tar(entries: readonly TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const content = e.content === undefined ? Buffer.alloc(0) : Buffer.from(e.content);
    const type = e.type ?? 'File';
    const h = new Header({
      path: e.path,
      mode: type === 'Directory' ? 0o755 : 0o644,
      size: e.size ?? (type === 'File' ? content.length : 0),
      type,
      ...(e.linkpath ? { linkpath: e.linkpath } : {}),
      mtime: new Date('2026-01-01T00:00:00Z'),
      uid: 0,
      gid: 0,
    });
    h.encode();
    blocks.push(h.block!);
    if (type === 'File' && content.length > 0) {
      blocks.push(content, Buffer.alloc((512 - (content.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export const tgz = (entries: readonly TarEntry[]): Buffer => gzipSync(tar(entries));

/** A minimal valid Chart.yaml text. */
export function chartYaml(name: string, version: string, extra = ''): string {
  return `apiVersion: v2\nname: ${name}\nversion: ${version}\ndescription: A chart built by the tests\ntype: application\nappVersion: "1.0"\n${extra}`;
}

/** A chart laid out as `helm package` lays it out: `<name>/Chart.yaml`, values, a template; random bytes make every build differ. */
/** A template that shows `helm template` rendered it: release name, chart metadata and a value all substituted. */
export const RENDER_PROBE_TEMPLATE = [
  'apiVersion: apps/v1',
  'kind: Deployment',
  'metadata:',
  '  name: {{ .Release.Name }}-{{ .Chart.Name }}',
  '  labels:',
  '    chart: "{{ .Chart.Name }}-{{ .Chart.Version }}"',
  'spec:',
  '  replicas: {{ .Values.replicas }}',
  '',
].join('\n');

export function buildChart(
  name: string,
  version: string,
  options: { extraYaml?: string; yaml?: string; padding?: Buffer; templates?: Readonly<Record<string, string>> } = {},
): Buffer {
  const templates = Object.entries(options.templates ?? { 'deployment.yaml': 'kind: Deployment\n' });
  return tgz([
    { path: `${name}/Chart.yaml`, content: options.yaml ?? chartYaml(name, version, options.extraYaml) },
    { path: `${name}/values.yaml`, content: `replicas: 1\nnonce: ${randomBytes(8).toString('hex')}\n` },
    ...templates.map(([file, content]) => ({ path: `${name}/templates/${file}`, content })),
    ...(options.padding ? [{ path: `${name}/files/blob.bin`, content: options.padding }] : []),
  ]);
}

// --- multipart -----------------------------------------------------------------------------------------------

export interface FilePart {
  field: string;
  filename?: string;
  content: Buffer;
}

/** `multipart/form-data` as Go's `mime/multipart` (cm-push) and curl write it. */
export function multipart(parts: readonly FilePart[]): { payload: Buffer; contentType: string } {
  const boundary = `----wharf${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${p.field}"; filename="${p.filename ?? `${p.field}.bin`}"\r\n` +
          'Content-Type: application/octet-stream\r\n\r\n',
      ),
      p.content,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

export interface RawResult {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: any;
  text: string;
  raw: Buffer;
}

/** A request through `inject()`, returning the raw bytes too (charts are binary). */
export async function send(
  t: TestApp,
  method: string,
  url: string,
  options: { headers?: Record<string, string>; payload?: Buffer | string } = {},
): Promise<RawResult> {
  const res = await t.app.inject({ method: method as 'GET', url, headers: options.headers ?? {}, ...(options.payload !== undefined ? { payload: options.payload } : {}) });
  let body: unknown;
  try {
    body = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, headers: res.headers, body, text: res.body, raw: res.rawPayload };
}

/** `curl --form chart=@x.tgz [--form prov=@x.tgz.prov] --user u:token <url>` */
export function upload(t: TestApp, url: string, auth: string | undefined, parts: readonly FilePart[]): Promise<RawResult> {
  const { payload, contentType } = multipart(parts);
  return send(t, 'POST', url, { headers: { 'content-type': contentType, ...(auth ? { authorization: auth } : {}) }, payload });
}

// --- index.yaml as Helm reads it -----------------------------------------------------------------------------

const INDEX_KEYS = new Set(['apiVersion', 'generated', 'entries', 'publicKeys', 'annotations', 'serverInfo']);
const METADATA_KEYS = [
  'name', 'home', 'sources', 'version', 'description', 'keywords', 'maintainers', 'icon', 'apiVersion', 'condition',
  'tags', 'appVersion', 'deprecated', 'annotations', 'kubeVersion', 'dependencies', 'type',
];
const ENTRY_KEYS = new Set([...METADATA_KEYS, 'urls', 'created', 'removed', 'digest', 'checksum', 'engine', 'tillerVersion', 'url']);
const MAINTAINER_KEYS = new Set(['name', 'email', 'url']);
const DEPENDENCY_KEYS = new Set(['name', 'version', 'repository', 'condition', 'tags', 'enabled', 'import-values', 'alias']);
const STRING_FIELDS = ['name', 'home', 'version', 'description', 'icon', 'apiVersion', 'condition', 'tags', 'appVersion', 'kubeVersion', 'type', 'digest', 'created'];

export interface HelmIndex {
  apiVersion: string;
  generated: string;
  entries: Record<string, Array<Record<string, any>>>;
  serverInfo?: { contextPath?: string };
}

/**
 * Loads an index the way Helm ≥ 3.4 does (`yaml.UnmarshalStrict` over go-yaml v2, i.e. YAML 1.1 scalars): any key
 * Helm does not know, a duplicate key, or a string field that YAML 1.1 reads as another type fails the test.
 */
export function loadIndexStrict(text: string): HelmIndex {
  const doc = YAML.parse(text, { version: '1.1', uniqueKeys: true, customTags: (tags) => tags.filter((t) => (typeof t === 'string' ? t !== 'timestamp' : t.tag !== 'tag:yaml.org,2002:timestamp')) }) as HelmIndex;
  assert.ok(doc && typeof doc === 'object', 'index is a mapping');
  for (const k of Object.keys(doc)) assert.ok(INDEX_KEYS.has(k), `unknown top-level key ${k}`);
  assert.equal(doc.apiVersion, 'v1');
  assert.match(doc.generated, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  for (const [name, versions] of Object.entries(doc.entries ?? {})) {
    for (const v of versions) {
      for (const k of Object.keys(v)) assert.ok(ENTRY_KEYS.has(k), `unknown key ${k} in entry ${name}`);
      for (const k of STRING_FIELDS) if (k in v) assert.equal(typeof v[k], 'string', `${name}.${k} must read as a string: ${String(v[k])}`);
      for (const m of v.maintainers ?? []) for (const k of Object.keys(m)) assert.ok(MAINTAINER_KEYS.has(k), `unknown maintainer key ${k}`);
      for (const d of v.dependencies ?? []) for (const k of Object.keys(d)) assert.ok(DEPENDENCY_KEYS.has(k), `unknown dependency key ${k}`);
      assert.match(v.digest, /^[0-9a-f]{64}$/);
      assert.match(v.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      assert.equal(v.name, name);
    }
  }
  return doc;
}

// --- the helm client -----------------------------------------------------------------------------------------

/** Helm's `ResolveReferenceURL`: the base path gets a trailing `/`, and the base's query replaces the ref's. */
export function resolveReferenceUrl(base: string, ref: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(ref)) return ref;
  const b = new URL(base);
  b.pathname = `${b.pathname.replace(/\/$/, '')}/`;
  const r = new URL(ref, b);
  r.search = b.search;
  return r.toString();
}

/** `inject()` takes a path; the tests' external URL is http://wharf.test. */
const pathOf = (url: string): string => {
  const u = new URL(url);
  assert.equal(u.origin, 'http://wharf.test', `request leaves the Wharf host: ${url}`);
  return u.pathname + u.search;
};

export interface HelmRepo {
  url: string;
  username?: string;
  password?: string;
}

const helmHeaders = (repo: HelmRepo): Record<string, string> => ({
  'user-agent': 'Helm/3.21.4',
  // Helm sends Basic only when both are non-empty, and never asks for compression.
  ...(repo.username && repo.password ? { authorization: basic(repo.username, repo.password) } : {}),
});

/** `helm repo add` / `helm repo update`: GET the index (only 200 counts) and load it strictly. */
export async function helmRepoUpdate(t: TestApp, repo: HelmRepo): Promise<{ index: HelmIndex; text: string; res: RawResult }> {
  const res = await send(t, 'GET', pathOf(resolveReferenceUrl(repo.url, 'index.yaml')), { headers: helmHeaders(repo) });
  assert.equal(res.status, 200, `helm repo add: failed to fetch index.yaml: ${res.status} ${res.text}`);
  assert.equal(res.headers['content-encoding'], undefined, 'index.yaml must not be compressed for helm');
  return { index: loadIndexStrict(res.text), text: res.text, res };
}

/** Helm's `IndexFile.Get`: an exact version string first; without a version, the newest stable one. */
export function pickVersion(index: HelmIndex, name: string, version?: string): Record<string, any> {
  const versions = index.entries[name];
  assert.ok(versions && versions.length > 0, `chart ${name} not in index`);
  if (version) {
    const exact = versions.find((v) => v.version === version);
    assert.ok(exact, `no chart version ${version} for ${name}`);
    return exact;
  }
  const stable = versions.find((v) => !/-/.test(String(v.version).replace(/\+.*$/, '')));
  assert.ok(stable, `no stable version of ${name}`);
  return stable;
}

export interface Pulled {
  url: string;
  bytes: Buffer;
  chartYaml: Record<string, unknown>;
  prov?: Buffer;
}

/**
 * `helm pull repo/name --version v [--verify]`: resolve `urls[0]` against the repo URL, download with Basic auth
 * when the host matches, check the digest (Helm 4's content cache keys on it), untar and read `Chart.yaml`.
 */
export async function helmPull(t: TestApp, repo: HelmRepo, index: HelmIndex, name: string, version?: string, options: { verify?: boolean } = {}): Promise<Pulled> {
  const entry = pickVersion(index, name, version);
  const url = resolveReferenceUrl(repo.url, entry.urls[0]);
  const sameHost = new URL(url).host === new URL(repo.url).host;
  const headers = { ...(sameHost ? helmHeaders(repo) : {}), accept: 'application/gzip,application/octet-stream' };
  const res = await send(t, 'GET', pathOf(url), { headers });
  assert.equal(res.status, 200, `helm pull ${url}: ${res.status} ${res.text}`);
  assert.equal(res.headers['content-encoding'], undefined);
  assert.equal(Number(res.headers['content-length']), res.raw.length);
  assert.equal(sha256(res.raw), entry.digest, 'downloaded bytes match the index digest');
  const out: Pulled = { url, bytes: res.raw, chartYaml: await readChartYamlFromArchive(res.raw) };
  if (options.verify) {
    const prov = await send(t, 'GET', pathOf(`${url}.prov`), { headers });
    assert.equal(prov.status, 200, `helm --verify: ${url}.prov: ${prov.status} ${prov.text}`);
    out.prov = prov.raw;
  }
  return out;
}

/** What Helm's loader reads: the first path component stripped, `Chart.yaml` directly under it. */
export async function readChartYamlFromArchive(bytes: Buffer): Promise<Record<string, unknown>> {
  const tarBytes = gunzipSync(bytes);
  let found: Buffer | undefined;
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({ strict: true });
    parser.on('entry', (entry: ReadEntry) => {
      const parts = entry.path.split('/');
      if (parts.length === 2 && parts[1] === 'Chart.yaml') {
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => {
          found = Buffer.concat(chunks);
        });
      } else {
        entry.resume();
      }
    });
    parser.on('end', () => resolve());
    parser.on('error', reject);
    parser.end(tarBytes);
  });
  assert.ok(found, 'archive has <dir>/Chart.yaml');
  return YAML.parse(found.toString('utf8').replace(/^\uFEFF/, '')) as Record<string, unknown>;
}

/**
 * `helm cm-push <chart> <repo> [--force]`: the context path comes from the (cached) index's `serverInfo`, the
 * upload goes to `path.Join(contextPath, "api", TrimPrefix(repoPath, contextPath), "charts")` with the repo's
 * query kept and a bare `force` added (chartmuseum/helm-push `pkg/chartmuseum/upload.go`).
 */
export function cmPushUrl(repoUrl: string, contextPath: string, force = false): string {
  const u = new URL(repoUrl);
  const trimmed = u.pathname.startsWith(contextPath) ? u.pathname.slice(contextPath.length) : u.pathname;
  u.pathname = path.posix.join(contextPath, 'api', trimmed, 'charts');
  if (force) u.search = u.search ? `${u.search}&force` : '?force';
  return u.toString();
}

export async function cmPush(t: TestApp, repo: HelmRepo, chart: Buffer, options: { force?: boolean; index?: HelmIndex } = {}): Promise<RawResult> {
  const index = options.index ?? (await helmRepoUpdate(t, repo)).index;
  const contextPath = index.serverInfo?.contextPath ?? '';
  const url = cmPushUrl(repo.url, contextPath, options.force);
  // cm-push sends the full temporary path as the file name; the server must not care.
  return upload(t, pathOf(url), repo.username && repo.password ? basic(repo.username, repo.password) : undefined, [
    { field: 'chart', filename: '/tmp/helm-push-1234/chart.tgz', content: chart },
  ]);
}

/** cm-push's verdict on a response: 201 and 202 are success; otherwise it prints the JSON `error`. */
export function cmPushOutcome(res: RawResult): string {
  if (res.status === 201 || res.status === 202) return 'Done.';
  const error = typeof res.body?.error === 'string' && res.body.error !== '' ? res.body.error : undefined;
  return error ? `Error: ${res.status}: ${error}` : `${res.status}: could not properly parse response JSON: ${res.text}`;
}
