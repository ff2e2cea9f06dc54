/**
 * What the three npm endpoints (project `P`, group `G`, instance `I`, docs/design/gitlab-compatibility.md#npm-routes) share: the caller
 * rules, packument delivery (ETag, 304, gzip), forwarding, the audit routes, and the registry-level commands
 * GitLab does not implement (docs/design/gitlab-compatibility.md#what-gitlab-leaves-out) that Wharf answers at every level:
 *
 *   npm whoami       GET  …/-/whoami                          → {"username": "<token's user>"}; anonymous 401
 *   npm ping         GET  …/-/ping                            → 200 {}
 *   npm search       GET  …/-/v1/search?text=&size=&from=     → {objects, total, time} of readable packages
 *   npm login        PUT  …/-/user/org.couchdb.user:<name>    {name, password} → 201 {ok, id, token} (new `api` PAT)
 *   npm logout       DELETE …/-/user/token/<token>           → 200 {ok: true}; revokes it if it is a personal access token
 *   (web login)      POST …/-/v1/login                        → 404, so npm and pnpm fall back to the legacy login
 *   npm audit        POST …/-/npm/v1/security/{advisories/bulk,audits/quick}  (gzip body) → 307 upstream or GitLab's answer
 *
 * The registry-level paths are matched before a scope's packument glob, so `-/whoami` is never looked up as a
 * package called "-/whoami".
 */
import { constants as bufferConstants } from 'node:buffer';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { FastifyReply, FastifyRequest, RawServerDefault, RouteShorthandOptions } from 'fastify';
import type { Services } from '../../../app-deps.js';
import { checkTokenScope } from '../../../domain/access/abilities.js';
import { actorName, type Identity } from '../../../domain/access/identity.js';
import { errors } from '../../../domain/errors.js';
import type { NpmSearchScope } from '../../../domain/records.js';
import type { PackumentSet } from '../../../services/npm/metadata.service.js';
import { setBodyLimit } from '../../plugins/body-guard.js';
import { auditContext } from '../../audit-context.js';
import { identityOf } from '../../plugins/identity.js';

export const CORGI = 'application/vnd.npm.install-v1+json';

/** q-values of the two packument media types; the abbreviated one wins ties (npm sends it first at q=1.0). */
export function wantsAbbreviated(accept: string | undefined): boolean {
  if (!accept) return false;
  let corgi = -1;
  let json = -1;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((s) => s.trim());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (Number.isNaN(q)) continue;
    const t = type.toLowerCase();
    if (t === CORGI) corgi = Math.max(corgi, q);
    else if (t === 'application/json') json = Math.max(json, q);
  }
  return corgi > 0 && corgi >= json;
}

export const acceptsGzip = (header: string | undefined): boolean => !!header && /(^|,)\s*gzip\s*(;\s*q=(?!0(\.0*)?\s*(,|$))[\d.]+)?\s*(,|$)/i.test(header);

/** `If-None-Match` with weak comparison (RFC 9110 §13.1.2), `*` included. */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const strip = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => t.trim() === '*' || strip(t) === strip(etag));
}

/** The part of the raw request path after the scope's `…/packages/npm/`, still percent-encoded, without the query. */
export function rawRemainder(request: FastifyRequest, prefix: RegExp): string {
  const path = (request.raw.url ?? request.url).split('?')[0] ?? '';
  return prefix.exec(path)?.[1] ?? '';
}

/**
 * The caller of an npm route: token scope checked against the method, and GitLab's `authenticate_non_get!` —
 * every write needs a caller before anything else is looked at.
 */
export async function npmCaller(services: Services, request: FastifyRequest): Promise<Identity> {
  const identity = await identityOf(request, services.identity, 'standard');
  checkTokenScope(identity, request.method);
  if (request.method !== 'GET' && request.method !== 'HEAD' && identity.kind === 'anonymous') throw errors.unauthorized();
  return identity;
}

/**
 * GitLab's forwarding of a package it does not have (docs/design/gitlab-compatibility.md#forwarding): `302` to the upstream registry with the decoded name
 * (encodeURI keeps `@` and `/` and makes odd characters safe for a header); the query string is not kept.
 * Returns false when forwarding is off.
 */
export async function forwardPackument(services: Services, reply: FastifyReply, name: string): Promise<boolean> {
  const settings = await services.settings.get();
  if (!settings.npm_package_requests_forwarding) return false;
  await reply.redirect(`${settings.npm_package_requests_forwarding_url}/${encodeURI(name)}`, 302);
  return true;
}

/** Sends a packument representation with its validators, or 304 when the client already has it. */
export async function sendPackument(request: FastifyRequest, reply: FastifyReply, set: PackumentSet): Promise<FastifyReply> {
  const kind = wantsAbbreviated(request.headers.accept) ? 'abbreviated' : 'full';
  const rep = await set.representation(kind, acceptsGzip(request.headers['accept-encoding']));
  reply
    .header('etag', rep.etag)
    // Revalidate every time (a 304 costs no query while nothing changed): a publish must be visible to the next install.
    .header('cache-control', 'no-cache')
    .header('vary', 'Accept, Accept-Encoding');
  // Only `If-None-Match` is honoured: a one-second `Last-Modified` cannot tell apart two writes in the same
  // second, and a wrong 304 would hide a publish (RFC 9110 lets a server ignore `If-Modified-Since`). A 304
  // repeats only the validators and caching fields (RFC 9110 §15.4.5).
  if (matchesEtag(request.headers['if-none-match'], rep.etag)) return reply.code(304).send();
  reply.header('last-modified', set.lastModified).header('content-type', kind === 'abbreviated' ? CORGI : 'application/json');
  if (rep.encoding) reply.header('content-encoding', rep.encoding);
  return reply.send(rep.body);
}

// --- body limits ---------------------------------------------------------------------------------------------

/**
 * The publish body is JSON with the tarball inside as Base64, so its limit follows the configured maximum package
 * size: exactly the Base64 length of the largest tarball allowed, plus room for the manifest and readme.
 */
export const publishBodyLimit = (maxFileSize: number): number => 4 * Math.ceil(maxFileSize / 3) + 1024 * 1024;

/** `npm login` sends `{_id, name, password, type, roles, date}`; anonymous callers get no more room than that needs. */
export const LOGIN_BODY_LIMIT = 16 * 1024;

/** A dist-tag PUT carries one version string. */
export const DIST_TAG_BODY_LIMIT = 16 * 1024;

const DIST_TAG_PUT = /^-\/package\/(.+)\/dist-tags\/([^/]*)$/s;

/**
 * `preParsing` for the npm PUT globs: the body limit of this request, from its path (login and dist-tag bodies are
 * tiny; publish, deprecate and unpublish documents follow `npm_max_file_size`). A declared Content-Length over it
 * is a 413 before anything is read; the body parser enforces it on the bytes as they arrive.
 */
export function npmPutBodyLimit(services: Services, remainder: (request: FastifyRequest) => string, publishes: boolean) {
  return async (request: FastifyRequest, _reply: FastifyReply, payload: Readable): Promise<Readable> => {
    const rest = remainder(request);
    const limit = LOGIN_PATH.test(rest)
      ? LOGIN_BODY_LIMIT
      : DIST_TAG_PUT.test(rest)
        ? DIST_TAG_BODY_LIMIT
        : publishes
          ? Math.min(publishBodyLimit((await services.settings.get()).npm_max_file_size), bufferConstants.MAX_STRING_LENGTH)
          : (request.routeOptions.bodyLimit ?? LOGIN_BODY_LIMIT);
    setBodyLimit(request, limit);
    if (Number(request.headers['content-length']) > limit) {
      throw errors.bodyTooLarge(`the request body is larger than ${limit} bytes, the most this request may send (npm_max_file_size sets it for publish documents)`);
    }
    return payload;
  };
}

// --- audit (P4/P5, G4/G5, I4/I5) -----------------------------------------------------------------------------

export const AUDIT_PATHS = /^-\/npm\/v1\/security\/(advisories\/bulk|audits\/quick)$/;

/** Audit bodies are small JSON maps of names to versions; this is the decompressed ceiling. */
const AUDIT_BODY_LIMIT = 16 * 1024 * 1024;

/**
 * Route options for the POST glob: npm gzips the audit body (`Content-Encoding: gzip`, docs/design/client-protocols.md#npm-audit), which
 * Fastify does not undo. The body is inflated here before the JSON parser sees it; the route's body limit then
 * applies to the inflated bytes, which is what stops a gzip bomb.
 */
export const npmPostOptions: RouteShorthandOptions<RawServerDefault> = {
  bodyLimit: AUDIT_BODY_LIMIT,
  preParsing: async (request, _reply, payload) => {
    const encoding = String(request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding === 'identity' || encoding === '') return payload;
    if (encoding !== 'gzip' && encoding !== 'x-gzip') throw errors.npmUnsupportedContentEncoding(encoding);
    let encoded = 0;
    const gunzip = createGunzip();
    const out = new PassThrough() as PassThrough & { receivedEncodedLength?: number };
    payload.on('data', (chunk: Buffer) => (encoded += chunk.length));
    payload.on('error', (err) => out.destroy(err));
    // Fastify compares Content-Length with what it read; tell it how many *encoded* bytes arrived.
    gunzip.on('data', (chunk: Buffer) => {
      out.receivedEncodedLength = encoded;
      if (!out.write(chunk)) {
        gunzip.pause();
        out.once('drain', () => gunzip.resume());
      }
    });
    gunzip.on('end', () => {
      out.receivedEncodedLength = encoded;
      out.end();
    });
    // zlib's own message ("incorrect header check") would tell an npm user nothing.
    gunzip.on('error', () => out.destroy(errors.npmGzipInvalid()));
    out.on('close', () => gunzip.destroy());
    payload.pipe(gunzip);
    return out;
  },
};

/** The audit POST's caller check (anonymous → 401, a read-only token → 403), made before its body is read. */
export const auditBeforeBody =
  (services: Services, remainder: (request: FastifyRequest) => string) =>
  async (request: FastifyRequest): Promise<void> => {
    if (AUDIT_PATHS.test(remainder(request))) await npmCaller(services, request);
  };

/**
 * An audit POST. `authenticate_non_get!` first (anonymous → 401); with forwarding on, GitLab always answers `307`
 * to the upstream's same path (the method and body are kept); otherwise `local` gives the scope's answer
 * (project: `200 []` for a caller who may read its packages; group and instance: `404 Project not found`).
 */
export async function audit(
  services: Services,
  request: FastifyRequest,
  reply: FastifyReply,
  path: string,
  local: (identity: Identity) => Promise<unknown>,
): Promise<FastifyReply> {
  const identity = await npmCaller(services, request);
  const settings = await services.settings.get();
  if (settings.npm_package_requests_forwarding) {
    return reply.redirect(`${settings.npm_package_requests_forwarding_url}/-/npm/v1/security/${path}`, 307);
  }
  const body = await local(identity);
  return reply.header('content-type', 'application/json').send(body);
}

// --- registry-level commands -----------------------------------------------------------------------------------

const LOGIN_PATH = /^-\/user\/org\.couchdb\.user:([^/]+)$/;

/** Parses `size`/`from` of a search as non-negative integers, with npm's defaults. */
function intParam(value: unknown, fallback: number): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  return Number.isSafeInteger(n) ? n : fallback;
}

/**
 * Answers the registry-level GETs (`-/whoami`, `-/ping`, `-/v1/search`) for a scope and returns true, or returns
 * false when the path is none of them. `searchScope` resolves (and authorises) what this endpoint searches.
 *
 * These helpers (and `registryPut`/`registryDelete`) return a boolean, never the reply: a reply is a thenable, so
 * awaiting one waits for the response and yields undefined, and the caller would go on after the reply was sent.
 */
export async function registryGet(
  services: Services,
  request: FastifyRequest,
  reply: FastifyReply,
  rest: string,
  searchScope: (identity: Identity) => Promise<NpmSearchScope>,
): Promise<boolean> {
  if (rest === '-/whoami') {
    const identity = await npmCaller(services, request);
    if (identity.kind === 'anonymous') throw errors.unauthorized();
    reply.header('cache-control', 'no-store').send({ username: actorName(identity) });
    return true;
  }
  if (rest === '-/ping') {
    // Credentials are still checked: a ping with a bad token says so, as every other request would.
    await npmCaller(services, request);
    reply.header('cache-control', 'no-store').send({});
    return true;
  }
  if (rest === '-/v1/search') {
    const identity = await npmCaller(services, request);
    const scope = await searchScope(identity);
    const q = (request.query ?? {}) as Record<string, unknown>;
    const text = typeof q.text === 'string' ? q.text : '';
    const page = await services.npm.search.search(identity, scope, text, { size: intParam(q.size, 20), from: intParam(q.from, 0) });
    reply.header('cache-control', 'no-cache').send(page);
    return true;
  }
  return false;
}

/** Whether a PUT is `npm login` (anonymous by design, so its body gets a small limit of its own). */
export const isLoginPath = (rest: string): boolean => LOGIN_PATH.test(rest);

/**
 * `npm login --auth-type=legacy` (`PUT …/-/user/org.couchdb.user:<name>`) answered (true), or false for another path. The
 * request's Authorization header is deliberately not looked at: npm sends the stale token of the `.npmrc` it is
 * replacing (docs/design/client-protocols.md#npm-credentials), and that must not make the login fail.
 */
export async function registryPut(services: Services, request: FastifyRequest, reply: FastifyReply, rest: string): Promise<boolean> {
  const m = LOGIN_PATH.exec(rest);
  if (!m) return false;
  let name: string;
  try {
    name = decodeURIComponent(m[1]!);
  } catch {
    throw errors.params(['name is invalid']);
  }
  const result = await services.npm.login.login(name, request.body, auditContext(request));
  request.log.info({ user: result.username }, 'npm login created a personal access token');
  reply.code(201).header('cache-control', 'no-store').send({ ok: true, id: `org.couchdb.user:${result.username}`, token: result.token });
  return true;
}

const LOGOUT_PATH = /^-\/user\/token\/([^/]+)$/;

/** `npm logout` (`DELETE …/-/user/token/<token>`) answered (true), or false for another path. */
export async function registryDelete(services: Services, request: FastifyRequest, reply: FastifyReply, rest: string): Promise<boolean> {
  const m = LOGOUT_PATH.exec(rest);
  if (!m) return false;
  let secret: string;
  try {
    secret = decodeURIComponent(m[1]!);
  } catch {
    throw errors.params(['token is invalid']);
  }
  const { revoked } = await services.npm.login.logout(secret, auditContext(request));
  if (revoked) request.log.info('npm logout revoked a personal access token');
  reply.header('cache-control', 'no-store').send({ ok: true });
  return true;
}

/**
 * POST paths every scope shares: the web login (`-/v1/login`) is not offered, and says so with the 404 that makes
 * npm and pnpm fall back to the user-name-and-password prompt (pnpm falls back only on 404/405, docs/design/client-protocols.md#web-login).
 */
export function registryPost(rest: string): void {
  if (rest === '-/v1/login') throw errors.npmNotFound('Web login');
}
