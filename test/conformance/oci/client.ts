/**
 * The OCI conformance suite's plumbing: a target (any registry's base URL, a repository, credentials), raw
 * requests through node's fetch, Helm-shaped artifacts, and checks for the distribution spec's error bodies.
 *
 * The suite is registry-agnostic on purpose: it is proven against the CNCF reference registry (Debian's
 * docker-registry) and then run unchanged against Wharf, which stores only Helm artifacts — hence every manifest
 * here is a Helm chart (or a referrer whose subject is one), and every chart's name is the repository's last
 * segment and its version the tag, as Wharf requires.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildChart, FIXTURES } from '../../helpers/helm.js';

/** Optional parts of the spec a target may lack; a case needing one is skipped with the target's reason. */
export type OciFeature =
  | 'referrers'
  | 'deleteManifestByTag'
  | 'monolithicPost'
  | 'outOfOrderChunk416'
  | 'nameInvalidError'
  | 'sortedTags'
  | 'tagsPagination';

export interface OciTarget {
  /** Registry base URL without the `/v2/`, e.g. `http://127.0.0.1:5000`. */
  base: string;
  /** Repository the suite pushes to; its last segment is the chart name. */
  repo: string;
  /** A second repository (same registry and credentials) for cross-repository mounts. */
  otherRepo: string;
  /** `Authorization` header value, or none for an anonymous target. */
  auth?: string;
  /**
   * Authenticate as docker and oras do with a token registry: send nothing up front; on a 401 whose challenge is
   * `Bearer realm=…,service=…,scope=…`, get a token from the realm (with `auth` as the Basic credentials) and send
   * the request again with it. Tokens are kept per scope for the target's lifetime.
   */
  tokenFlow?: { tokens: Map<string, string> };
  /** Features the target does not implement, with the reason shown on the skipped case. */
  lacks?: Partial<Record<OciFeature, string>>;
}

export interface OciCase {
  name: string;
  needs?: OciFeature;
  run(t: OciTarget): Promise<void>;
}

export const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  helmConfig: 'application/vnd.cncf.helm.config.v1+json',
  helmChart: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
  empty: 'application/vnd.oci.empty.v1+json',
} as const;

export const digestOf = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface Res {
  status: number;
  headers: Headers;
  body: Buffer;
  text: string;
  json: any;
}

export async function req(
  t: OciTarget,
  method: string,
  pathOrUrl: string,
  options: { body?: Buffer | string; headers?: Record<string, string> } = {},
): Promise<Res> {
  // A Location may be absolute or relative to the registry; both resolve against the base.
  const url = new URL(pathOrUrl, t.base).toString();
  const send = async (authorization: string | undefined): Promise<Res> => {
    const headers: Record<string, string> = { ...(authorization ? { authorization } : {}), ...options.headers };
    const r = await fetch(url, { method, headers, redirect: 'follow', ...(options.body !== undefined ? { body: options.body } : {}) });
    const body = Buffer.from(await r.arrayBuffer());
    const text = body.toString('utf8');
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: r.status, headers: r.headers, body, text, json };
  };
  if (!t.tokenFlow) return send(t.auth);
  const first = await send(undefined);
  const challenge = first.status === 401 ? parseBearerChallenge(first.headers.get('www-authenticate') ?? '') : undefined;
  if (!challenge) return first;
  // A cross-repository mount also reads the source repository: docker asks for both scopes at once.
  const from = new URL(url).searchParams.get('from');
  const scopes = [challenge.scope, from ? `repository:${from}:pull` : undefined].filter((s): s is string => s !== undefined);
  const key = `${t.auth ?? ''} ${scopes.join(' ')}`;
  let token = t.tokenFlow.tokens.get(key);
  if (!token) {
    token = await fetchToken(challenge.realm, challenge.service, scopes, t.auth);
    if (!token) return first;
    t.tokenFlow.tokens.set(key, token);
  }
  return send(`Bearer ${token}`);
}

interface BearerChallenge {
  realm: string;
  service?: string;
  scope?: string;
}

/** `Bearer realm="…",service="…",scope="…"` → its parameters; undefined for any other scheme. */
export function parseBearerChallenge(header: string): BearerChallenge | undefined {
  const m = /^Bearer\s+(.*)$/i.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[1]!.matchAll(/(\w+)="([^"]*)"/g)) params[p[1]!] = p[2]!;
  if (!params.realm) return undefined;
  return { realm: params.realm, ...(params.service ? { service: params.service } : {}), ...(params.scope ? { scope: params.scope } : {}) };
}

/** The token endpoint's answer (`token`, or OAuth's `access_token`), or undefined when it refuses. */
async function fetchToken(realm: string, service: string | undefined, scopes: readonly string[], auth: string | undefined): Promise<string | undefined> {
  const url = new URL(realm);
  if (service) url.searchParams.set('service', service);
  for (const scope of scopes) url.searchParams.append('scope', scope);
  const r = await fetch(url, { headers: auth ? { authorization: auth } : {} });
  if (!r.ok) return undefined;
  const body = (await r.json()) as { token?: string; access_token?: string };
  return body.token ?? body.access_token;
}

export const v2 = (t: OciTarget, rest: string, repo = t.repo): string => `/v2/${repo}/${rest}`;

/** A status check that shows the body when it fails: a registry's error message is the useful part. */
export function expectStatus(r: Res, expected: number | readonly number[], what: string): void {
  const ok = typeof expected === 'number' ? [expected] : expected;
  assert.ok(ok.includes(r.status), `${what}: expected ${ok.join(' or ')}, got ${r.status} ${r.text.slice(0, 500)}`);
}

/** The spec's error body: `{"errors":[{"code":…,"message":…}]}` with one of the listed codes. */
export function expectOciError(r: Res, status: number | readonly number[], code: string | readonly string[], what: string): void {
  expectStatus(r, status, what);
  const codes = typeof code === 'string' ? [code] : code;
  assert.ok(Array.isArray(r.json?.errors), `${what}: error body is not {"errors":[…]}: ${r.text.slice(0, 300)}`);
  const got = (r.json.errors as { code?: unknown }[]).map((e) => e.code);
  assert.ok(got.some((c) => codes.includes(String(c))), `${what}: expected error code ${codes.join('|')}, got ${got.join(',')}`);
}

export const chartName = (repo: string): string => repo.split('/').at(-1)!;

/** The chart archive: the committed fixture when one has this name and version, else one built like `helm package`. */
export function chartLayer(name: string, version: string): Buffer {
  const fixture = path.join(FIXTURES, 'charts', `${name}-${version}.tgz`);
  return existsSync(fixture) ? readFileSync(fixture) : buildChart(name, version);
}

export interface Artifact {
  manifest: Buffer;
  digest: string;
  config: Buffer;
  layer: Buffer;
  tag: string;
}

/** A Helm chart as `helm push` writes it: config = Chart.yaml as JSON, one chart layer; tag = version with `+`→`_`. */
export function helmArtifact(name: string, version: string, layer = chartLayer(name, version)): Artifact {
  const config = Buffer.from(JSON.stringify({ name, version, apiVersion: 'v2', description: 'A chart for the OCI conformance suite', type: 'application' }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: MEDIA.helmConfig, digest: digestOf(config), size: config.length },
      layers: [{ mediaType: MEDIA.helmChart, digest: digestOf(layer), size: layer.length }],
      annotations: { 'org.opencontainers.image.title': name, 'org.opencontainers.image.version': version },
    }),
  );
  return { manifest, digest: digestOf(manifest), config, layer, tag: version.replace(/\+/g, '_') };
}

/** POST then PUT with the whole blob: the two-request monolithic upload every registry must support. */
export async function pushBlob(t: OciTarget, blob: Buffer, repo = t.repo): Promise<Res> {
  const start = await req(t, 'POST', v2(t, 'blobs/uploads/', repo));
  expectStatus(start, 202, `POST ${repo} blobs/uploads/`);
  const location = start.headers.get('location');
  assert.ok(location, 'upload POST answers a Location');
  const url = new URL(location, t.base);
  url.searchParams.set('digest', digestOf(blob));
  const put = await req(t, 'PUT', url.toString(), {
    body: blob,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) },
  });
  expectStatus(put, 201, `PUT upload of ${digestOf(blob)}`);
  return put;
}

export async function putManifest(t: OciTarget, reference: string, manifest: Buffer, repo = t.repo, mediaType: string = MEDIA.manifest): Promise<Res> {
  return req(t, 'PUT', v2(t, `manifests/${reference}`, repo), { body: manifest, headers: { 'content-type': mediaType } });
}

/** Pushes config, layer and manifest (by tag); returns the artifact. */
export async function pushArtifact(t: OciTarget, version: string, repo = t.repo): Promise<Artifact> {
  const a = helmArtifact(chartName(repo), version);
  await pushBlob(t, a.config, repo);
  await pushBlob(t, a.layer, repo);
  const r = await putManifest(t, a.tag, a.manifest, repo);
  expectStatus(r, 201, `PUT manifest ${repo}:${a.tag}`);
  return a;
}

/** A version no other case uses, so cases stay independent on a registry that keeps earlier runs' data. */
let seq = 0;
export const uniqueVersion = (): string => `0.${Date.now() % 1_000_000}.${++seq}`;
