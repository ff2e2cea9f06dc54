/**
 * What the three npm endpoints (project `P`, group `G`, instance `I`) share at the HTTP
 * level: packument delivery (ETag, 304, gzip), forwarding, and the body limits and gzip decoding of their PUT
 * and POST routes. The commands themselves are in `commands.ts`, their abilities in `access.ts`.
 */
import { constants as bufferConstants } from 'node:buffer';
import { PassThrough, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { FastifyReply, FastifyRequest, RawServerDefault, RouteShorthandOptions } from 'fastify';
import type { Services } from '../../../app-deps.js';
import { ifNoneMatchMatches } from '../../../domain/conditional.js';
import { errors } from '../../../domain/errors.js';
import type { PackumentSet } from '../../../services/npm/metadata.service.js';
import type { ProxyEndpoint } from '../../../domain/npm/proxy.js';
import type { ApplicationSettings } from '../../../services/settings.service.js';
import { attachmentDisposition } from '../../content-disposition.js';
import { replayable } from '../../hot-lane.js';
import { setBodyLimit } from '../../plugins/body-guard.js';
import type { NpmRequest } from './access.js';

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

/**
 * GitLab's forwarding of a package it does not have (docs/design/gitlab-compatibility.md#forwarding), in the mode
 * the settings choose. `redirect`: `302` to the upstream registry with the decoded name (encodeURI keeps `@` and `/`
 * and makes odd characters safe for a header); the query string is not kept. `proxy`: Wharf serves the upstream's
 * packument itself, its tarball URLs under `endpoint` (docs/npm-proxy.md). Returns false when forwarding is off, or
 * the proxy refuses the name (a local scope, the deny list): the caller then answers as without forwarding.
 */
export async function forwardPackument(services: Services, request: FastifyRequest, reply: FastifyReply, name: string, endpoint: ProxyEndpoint): Promise<boolean> {
  const mode = await services.npm.proxy.mode();
  if (mode.kind === 'off') return false;
  if (mode.kind === 'redirect') {
    await reply.redirect(`${mode.upstream}/${encodeURI(name)}`, 302);
    return true;
  }
  // The group and instance endpoints have no tarball route: `<name>/-/<file>` arrives as a packument name there,
  // and is the proxied tarball URL of those endpoints.
  const sep = endpoint.kind === 'project' ? -1 : name.indexOf('/-/');
  if (sep > 0) return proxyTarball(services, request, reply, name.slice(0, sep), name.slice(sep + 3), mode.settings);
  if (!(await services.npm.proxy.mayProxy(name, mode.settings))) return false;
  // Its answer depends on time (the TTL), not only on the database: replayed only while fresh, and not if it fails.
  replayable(request, 0);
  const set = await services.npm.proxy.packument(name, endpoint, mode.settings);
  replayable(request, set.freshForMs);
  await sendPackument(request, reply, set);
  return true;
}

/**
 * A proxied tarball (docs/npm-proxy.md#what-is-cached), or false when the proxy refuses the name. From the cache:
 * exact bytes with their digest as the ETag, as for local tarballs. Live from the upstream: streamed as it is
 * verified, without an ETag, and cut short (never completed) if the bytes do not match the packument's integrity.
 */
export async function proxyTarball(
  services: Services,
  request: FastifyRequest,
  reply: FastifyReply,
  name: string,
  fileName: string,
  settings: Readonly<ApplicationSettings>,
): Promise<boolean> {
  if (!(await services.npm.proxy.mayProxy(name, settings))) return false;
  replayable(request, 0);
  const tarball = await services.npm.proxy.tarball(name, fileName, settings);
  reply.header('content-disposition', attachmentDisposition(fileName)).header('content-type', 'application/octet-stream');
  if (tarball.kind === 'live') {
    if (tarball.size !== undefined) reply.header('content-length', tarball.size);
    await reply.header('cache-control', 'no-cache').send(tarball.body);
    return true;
  }
  const { row, body } = tarball;
  const etag = `"${row.blob_sha256}"`;
  // The verified bytes behind a file name never change: replayed like a local tarball.
  replayable(request);
  reply.header('etag', etag).header('cache-control', 'max-age=31536000, immutable');
  if (ifNoneMatchMatches(request.headers['if-none-match'], etag)) {
    if (!Buffer.isBuffer(body)) body.destroy();
    await reply.code(304).send();
    return true;
  }
  if (request.method === 'HEAD') {
    if (!Buffer.isBuffer(body)) body.destroy();
    await reply.header('content-length', row.size).send(Readable.from([]));
    return true;
  }
  await reply.header('content-length', row.size).send(body);
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
  if (ifNoneMatchMatches(request.headers['if-none-match'], rep.etag)) return reply.code(304).send();
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

/**
 * `preParsing` for the npm PUT globs: the body limit of this request, from its command (login and dist-tag bodies
 * are tiny; publish, deprecate and unpublish documents follow `npm_max_file_size`). A declared Content-Length over
 * it is a 413 before anything is read; the body parser enforces it on the bytes as they arrive. The command was
 * parsed by the access check, in `onRequest`.
 */
export function npmPutBodyLimit(services: Services, publishes: boolean) {
  return async (request: FastifyRequest, _reply: FastifyReply, payload: Readable): Promise<Readable> => {
    const { kind } = (request.npm as NpmRequest).command;
    const limit = kind === 'login'
      ? LOGIN_BODY_LIMIT
      : kind === 'addDistTag'
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
