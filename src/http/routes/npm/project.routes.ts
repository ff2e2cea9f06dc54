/**
 * GitLab's npm API at project level: `P = /api/v4/projects/:id/packages/npm` (gitlab-api.md §2.1).
 *
 * What npm sends (clients.md A.4–A.8, captured from npm 11):
 *
 *   npm install   GET  P/@scope%2fpkg                      (Accept: corgi or application/json)   → packument (P9)
 *                 GET  P/@scope/pkg/-/@scope/pkg-1.0.0.tgz  (the packument's dist.tarball)        → tarball   (P6)
 *   npm publish   GET  P/@scope%2fpkg (404 is fine), then
 *                 PUT  P/@scope%2fpkg  {name, versions:{v:{…}}, dist-tags, _attachments:{tgz}}  → 200       (P8)
 *   npm deprecate GET  P/@scope%2fpkg?write=true, then
 *                 PUT  P/@scope%2fpkg  npm-command: deprecate, body = packument with `deprecated` set   (P8)
 *   npm dist-tag  GET    P/-/package/@scope%2fpkg/dist-tags                                          (P1)
 *                 PUT    P/-/package/@scope%2fpkg/dist-tags/next   body "1.0.0" (a bare JSON string)  (P2)
 *                 DELETE P/-/package/@scope%2fpkg/dist-tags/next                                    (P3)
 *
 * One wildcard route per method dispatches on the raw path, because names arrive as `@scope%2fpkg`,
 * `@scope%2Fpkg` or `@scope/pkg` and must be decoded exactly once; the order follows GitLab's route precedence
 * (dist-tags, then tarball, then the packument catch-all). Every decision goes through the access service with
 * GitLab's procedure (§3.4); handlers stay thin and the npm services do the work.
 */
import { constants as bufferConstants } from 'node:buffer';
import { Readable, Transform } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../../../compose.js';
import { checkTokenScope } from '../../../domain/access/abilities.js';
import type { Identity } from '../../../domain/access/identity.js';
import { errors } from '../../../domain/errors.js';
import { decodeFileName, decodePackageName, decodeTag } from '../../../domain/npm/path-segments.js';
import { identityOf } from '../../plugins/identity.js';

const CORGI = 'application/vnd.npm.install-v1+json';
const DEPRECATE_COMMANDS = new Set(['deprecate', 'undeprecate']);

/** The part of the raw request path after `/packages/npm/`, still percent-encoded, without the query. */
function rawRemainder(request: FastifyRequest): string {
  const path = (request.raw.url ?? request.url).split('?')[0] ?? '';
  const m = /\/projects\/[^/]+\/packages\/npm\/(.*)$/s.exec(path);
  return m?.[1] ?? '';
}

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
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const strip = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => t.trim() === '*' || strip(t) === strip(etag));
}

/**
 * The publish body is JSON with the tarball inside as Base64, so the route's limit follows the configured
 * maximum package size: Base64 is 4/3 of the bytes, plus room for the manifest and readme (architecture.md).
 */
export const publishBodyLimit = (maxFileSize: number): number => Math.ceil(maxFileSize * 1.37) + 1024 * 1024;

export const npmProjectRoutes =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    const { services } = deps;
    const npm = services.npm;

    const caller = async (request: FastifyRequest): Promise<Identity> => {
      const identity = await identityOf(request, services.identity, 'standard');
      checkTokenScope(identity, request.method);
      // GitLab's `authenticate_non_get!`: every write needs a caller before anything else is looked at.
      if (request.method !== 'GET' && request.method !== 'HEAD' && identity.kind === 'anonymous') throw errors.unauthorized();
      return identity;
    };
    const projectId = (request: FastifyRequest): string => (request.params as { id: string }).id;

    // --- P9: packument ------------------------------------------------------------------------------------
    const packument = async (request: FastifyRequest, reply: FastifyReply, rawName: string) => {
      const name = decodePackageName(rawName);
      const identity = await caller(request);
      const id = projectId(request);
      const project = await services.access.findProject(id);
      const set = project ? await npm.metadata.packuments(project.id, name) : undefined;
      if (!set) {
        // Forwarding is decided before authorisation and only for names this project does not have (§6.1), so an
        // existing private package can never be shadowed by a public one of the same name.
        const settings = await services.settings.get();
        if (settings.npm_package_requests_forwarding) {
          // GitLab sends the decoded name (`…/@scope/name`); encodeURI keeps `@` and `/` and makes odd characters
          // safe for a header.
          return reply.redirect(`${settings.npm_package_requests_forwarding_url}/${encodeURI(name)}`, 302);
        }
      }
      await services.access.authorizePackageAccess(identity, id, 'read_package', 'authenticate-non-public');
      if (!set) throw errors.npmNotFound('Packages');

      const kind = wantsAbbreviated(request.headers.accept) ? 'abbreviated' : 'full';
      const rep = await set.representation(kind, acceptsGzip(request.headers['accept-encoding']));
      reply
        .header('etag', rep.etag)
        // Revalidate every time (a 304 is one indexed query): a publish must be visible to the next install.
        .header('cache-control', 'no-cache')
        .header('vary', 'Accept, Accept-Encoding')
        .header('last-modified', new Date(set.modified).toUTCString());
      // Only `If-None-Match` is honoured: a one-second `Last-Modified` cannot tell apart two writes in the same
      // second, and a wrong 304 would hide a publish (RFC 9110 lets a server ignore `If-Modified-Since`).
      if (matchesEtag(request.headers['if-none-match'], rep.etag)) return reply.code(304).send();
      reply.header('content-type', kind === 'abbreviated' ? CORGI : 'application/json');
      if (rep.encoding) reply.header('content-encoding', rep.encoding);
      return reply.send(rep.body);
    };

    // --- P6: tarball --------------------------------------------------------------------------------------
    const tarball = async (request: FastifyRequest, reply: FastifyReply, rawName: string, rawFile: string) => {
      const name = decodePackageName(rawName);
      const fileName = decodeFileName(rawFile);
      const identity = await caller(request);
      // No `authenticate_non_public` here: an anonymous caller of a private project gets 404, not 401 (§3.5.7).
      const { project } = await services.access.authorizePackageAccess(identity, projectId(request), 'read_package', 'plain');
      const file = await npm.metadata.tarballFile(project.id, name, fileName);
      const etag = `"${file.sha256}"`;
      reply
        .header('etag', etag)
        // The bytes behind a file name never change; a shared cache still never stores an authenticated answer.
        .header('cache-control', 'max-age=31536000, immutable')
        .header('content-disposition', `attachment; filename="${file.file_name.slice(file.file_name.lastIndexOf('/') + 1)}"`);
      if (matchesEtag(request.headers['if-none-match'], etag)) return reply.code(304).send();
      if (request.method === 'HEAD') {
        // An empty stream keeps our exact Content-Length (Fastify would write 0 for an empty HEAD body).
        return reply.header('content-type', 'application/octet-stream').header('content-length', file.size).send(Readable.from([]));
      }
      // Fastify destroys the stream if the client goes away mid-download.
      const download = await npm.metadata.openTarball(file);
      if (download.redirect !== undefined) return reply.redirect(download.redirect, 302);
      // Exact bytes, exact length, no Content-Encoding: pnpm compares Content-Length with what it received.
      return reply.header('content-type', 'application/octet-stream').header('content-length', file.size).send(download.stream);
    };

    // --- P1: dist-tags list -------------------------------------------------------------------------------
    const distTags = async (request: FastifyRequest, reply: FastifyReply, rawName: string) => {
      const name = decodePackageName(rawName);
      const identity = await caller(request);
      const { project } = await services.access.authorizePackageAccess(identity, projectId(request), 'read_package', 'authenticate-non-public');
      const tags = await npm.metadata.distTags(project.id, name);
      if (!tags) throw errors.npmNotFound('Package');
      return reply.header('cache-control', 'no-cache').send(tags);
    };

    // --- P2 / P3: dist-tag add and remove -----------------------------------------------------------------
    const addTag = async (request: FastifyRequest, reply: FastifyReply, rawName: string, rawTag: string) => {
      const identity = await caller(request);
      // GitLab's order: package name, version, tag.
      const name = decodePackageName(rawName);
      // The body is the version as a bare JSON string (`"1.0.0"`); anything else counts as not given.
      const version = typeof request.body === 'string' ? request.body.trim() : '';
      if (version === '') throw errors.npmMissingAttribute('Version');
      const tag = decodeTag(rawTag);
      const { project } = await services.access.authorizePackageAccess(identity, projectId(request), 'create_package', 'plain');
      await npm.tags.add(project, name, tag, version);
      return reply.code(204).send();
    };

    const removeTag = async (request: FastifyRequest, reply: FastifyReply, rawName: string, rawTag: string) => {
      const identity = await caller(request);
      const name = decodePackageName(rawName);
      const tag = decodeTag(rawTag);
      const { project } = await services.access.authorizePackageAccess(identity, projectId(request), 'destroy_package', 'plain');
      await npm.tags.remove(project, name, tag);
      return reply.code(204).send();
    };

    // --- P8: publish and deprecate ------------------------------------------------------------------------
    const put = async (request: FastifyRequest, reply: FastifyReply, rawName: string) => {
      const identity = await caller(request);
      const name = decodePackageName(rawName);
      const id = projectId(request);
      // GitLab looks for `npm-command: deprecate`; npm 11's `npm undeprecate` sends `undeprecate` with the same body.
      if (DEPRECATE_COMMANDS.has(String(request.headers['npm-command'] ?? '').toLowerCase())) {
        const { project } = await services.access.authorizePackageAccess(identity, id, 'destroy_package', 'plain');
        const { changed } = await npm.publish.deprecate(project, name, request.body);
        return reply.send({ ok: true, id: name, deprecated: changed, rev: await npm.publish.currentRev(project.id, name) });
      }
      const { project, ctx } = await services.access.authorizePackageAccess(identity, id, 'create_package', 'plain');
      const result = await npm.publish.publish({ identity, project, ctx, urlName: name, body: request.body });
      const pkg = result.package;
      request.log.info({ project: project.id, package: pkg.name, version: pkg.version, created: result.created }, 'npm publish');
      // GitLab answers with the package record (its specs read `id`); npm ignores the body, yarn needs JSON.
      return reply.send({
        ok: true,
        id: pkg.id,
        project_id: pkg.project_id,
        name: pkg.name,
        version: pkg.version,
        package_type: pkg.package_type,
        status: pkg.status,
        created_at: pkg.created_at,
        updated_at: pkg.updated_at,
        rev: await npm.publish.currentRev(project.id, pkg.name),
      });
    };

    app.get('/projects/:id/packages/npm/*', async (request, reply) => {
      const rest = rawRemainder(request);
      const tags = /^-\/package\/(.+)\/dist-tags$/s.exec(rest);
      if (tags) return distTags(request, reply, tags[1]!);
      const sep = rest.indexOf('/-/');
      if (sep > 0) {
        const file = rest.slice(sep + 3);
        if (file === '') throw errors.routeNotFound();
        return tarball(request, reply, rest.slice(0, sep), file);
      }
      if (rest === '') throw errors.routeNotFound();
      return packument(request, reply, rest);
    });

    app.put(
      '/projects/:id/packages/npm/*',
      {
        // The real limit depends on a runtime setting and is enforced below; this is only V8's string ceiling.
        bodyLimit: bufferConstants.MAX_STRING_LENGTH,
        preParsing: async (request, _reply, payload) => {
          const limit = publishBodyLimit((await services.settings.get()).npm_max_file_size);
          const tooLarge = () =>
            errors.payloadTooLarge(`the request body is larger than ${limit} bytes (npm_max_file_size allows ${limit} bytes of JSON)`);
          if (Number(request.headers['content-length']) > limit) throw tooLarge();
          let seen = 0;
          return payload.pipe(
            new Transform({
              transform(chunk: Buffer, _enc, cb) {
                seen += chunk.length;
                if (seen > limit) return cb(tooLarge());
                cb(null, chunk);
              },
            }),
          );
        },
      },
      async (request, reply) => {
        const rest = rawRemainder(request);
        const tag = /^-\/package\/(.+)\/dist-tags\/([^/]*)$/s.exec(rest);
        if (tag) {
          if (tag[2] === '') throw errors.routeNotFound();
          return addTag(request, reply, tag[1]!, tag[2]!);
        }
        // `PUT P/:package_name` is a single segment: a literal `/` (or `/-rev/…` of unpublish) matches no route.
        if (rest === '' || rest.includes('/')) throw errors.routeNotFound();
        return put(request, reply, rest);
      },
    );

    app.delete('/projects/:id/packages/npm/*', async (request, reply) => {
      const rest = rawRemainder(request);
      const tag = /^-\/package\/(.+)\/dist-tags\/([^/]*)$/s.exec(rest);
      if (!tag || tag[2] === '') throw errors.routeNotFound();
      return removeTag(request, reply, tag[1]!, tag[2]!);
    });
  };
