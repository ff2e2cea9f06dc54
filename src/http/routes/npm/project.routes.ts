/**
 * GitLab's npm API at project level: `P = /api/v4/projects/:id/packages/npm` (docs/design/gitlab-compatibility.md#npm-routes).
 *
 * What npm sends (docs/design/client-protocols.md#npm-requests, captured from npm 11):
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
 *   npm audit     POST P/-/npm/v1/security/advisories/bulk (gzip body)  → 307 upstream, or 200 []     (P4, P5)
 *
 * Beyond GitLab (which answers these 404, docs/design/gitlab-compatibility.md#what-gitlab-leaves-out), besides the registry-level commands of `common.ts`:
 *
 *   npm unpublish <pkg>@<v>   GET P/@scope%2fpkg?write=true, PUT P/@scope%2fpkg/-rev/<rev> (packument without v),
 *                             DELETE P/@scope/pkg/-/@scope/pkg-<v>.tgz/-rev/<rev>            → 200 {ok, rev}
 *   npm unpublish <pkg> -f    DELETE P/@scope%2fpkg/-rev/<rev>                                  → 200 {ok, rev}
 *   (Maintainers, or a deploy token with write_package_registry: GitLab's `destroy_package`.)
 *
 * One wildcard route per method dispatches on the raw path, because names arrive as `@scope%2fpkg`,
 * `@scope%2Fpkg` or `@scope/pkg` and must be decoded exactly once; the order follows GitLab's route precedence
 * (dist-tags, then tarball, then the packument catch-all). Every decision goes through the access service with
 * GitLab's procedure (docs/design/gitlab-compatibility.md#npm-decision-procedure); handlers stay thin and the npm services do the work.
 */
import { constants as bufferConstants } from 'node:buffer';
import { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../../../app-deps.js';
import { errors } from '../../../domain/errors.js';
import { replayable } from '../../hot-lane.js';
import { auditContext } from '../../audit-context.js';
import { attachmentDisposition } from '../../content-disposition.js';
import { decodeFileName, decodePackageName, decodeTag } from '../../../domain/npm/path-segments.js';
import {
  AUDIT_PATHS,
  audit,
  auditBeforeBody,
  forwardPackument,
  isLoginPath,
  matchesEtag,
  npmCaller,
  npmPostOptions,
  npmPutBodyLimit,
  rawRemainder as remainderAfter,
  registryGet,
  registryDelete,
  registryPost,
  registryPut,
  sendPackument,
} from './common.js';

export { acceptsGzip, wantsAbbreviated } from './common.js';

const DEPRECATE_COMMANDS = new Set(['deprecate', 'undeprecate']);
const PREFIX = /\/projects\/[^/]+\/packages\/npm\/(.*)$/s;
const rawRemainder = (request: FastifyRequest): string => remainderAfter(request, PREFIX);
/** `<pkg>/-rev/<rev>` and `<pkg>/-/<file>/-rev/<rev>` (unpublish), on the raw path. */
const REV_PATH = /^(.+)\/-rev\/([^/]+)$/s;

const TAG_PATH = /^-\/package\/(.+)\/dist-tags\/([^/]*)$/s;

export { publishBodyLimit } from './common.js';

export const npmProjectRoutes =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    const { services } = deps;
    const npm = services.npm;

    const caller = (request: FastifyRequest) => npmCaller(services, request);
    const projectId = (request: FastifyRequest): string => (request.params as { id: string }).id;

    // --- P9: packument ------------------------------------------------------------------------------------
    const packument = async (request: FastifyRequest, reply: FastifyReply, rawName: string) => {
      // Answers depend on the URL, Accept, Accept-Encoding, If-None-Match, the caller and the database only.
      replayable(request);
      const name = decodePackageName(rawName);
      const identity = await caller(request);
      const id = projectId(request);
      const project = await services.access.findProject(id);
      const set = project ? await npm.metadata.packuments(project.id, name) : undefined;
      // Forwarding is decided before authorisation and only for names this project does not have (docs/design/gitlab-compatibility.md#forwarding), so an
      // existing private package can never be shadowed by a public one of the same name.
      if (!set && (await forwardPackument(services, reply, name))) return reply;
      await services.access.authorizePackageAccess(identity, id, 'read_package', 'authenticate-non-public', undefined, project ?? null);
      if (!set) throw errors.npmNotFound('Packages');
      return sendPackument(request, reply, set);
    };

    // --- P6: tarball --------------------------------------------------------------------------------------
    const tarball = async (request: FastifyRequest, reply: FastifyReply, rawName: string, rawFile: string) => {
      replayable(request);
      const name = decodePackageName(rawName);
      const fileName = decodeFileName(rawFile);
      const identity = await caller(request);
      // No `authenticate_non_public` here: an anonymous caller of a private project gets 404, not 401 (docs/design/gitlab-compatibility.md#matrix-tarball).
      const { project } = await services.access.authorizePackageAccess(identity, projectId(request), 'read_package', 'plain');
      const file = await npm.metadata.tarballFile(project.id, name, fileName);
      const etag = `"${file.sha256}"`;
      reply
        .header('etag', etag)
        // The bytes behind a file name never change; a shared cache still never stores an authenticated answer.
        .header('cache-control', 'max-age=31536000, immutable')
        .header('content-disposition', attachmentDisposition(file.file_name));
      if (matchesEtag(request.headers['if-none-match'], etag)) return reply.code(304).send();
      if (request.method === 'HEAD') {
        // An empty stream keeps our exact Content-Length (Fastify would write 0 for an empty HEAD body).
        return reply.header('content-type', 'application/octet-stream').header('content-length', file.size).send(Readable.from([]));
      }
      // Fastify destroys the stream if the client goes away mid-download.
      const download = await npm.metadata.openTarball(file);
      if (download.redirect !== undefined) return reply.redirect(download.redirect, 302);
      // Exact bytes, exact length, no Content-Encoding: pnpm compares Content-Length with what it received.
      return reply.header('content-type', 'application/octet-stream').header('content-length', file.size).send(download.body);
    };

    // --- P1: dist-tags list -------------------------------------------------------------------------------
    const distTags = async (request: FastifyRequest, reply: FastifyReply, rawName: string) => {
      replayable(request);
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
      const { project, ctx } = await services.access.authorizePackageAccess(identity, projectId(request), 'create_package', 'plain');
      await npm.tags.add({ identity, project, ctx }, name, tag, version);
      return reply.code(204).send();
    };

    const removeTag = async (request: FastifyRequest, reply: FastifyReply, rawName: string, rawTag: string) => {
      const identity = await caller(request);
      const name = decodePackageName(rawName);
      const tag = decodeTag(rawTag);
      const { project, ctx } = await services.access.authorizePackageAccess(identity, projectId(request), 'destroy_package', 'plain');
      await npm.tags.remove({ identity, project, ctx }, name, tag);
      return reply.code(204).send();
    };

    // --- P8: publish and deprecate ------------------------------------------------------------------------
    const put = async (request: FastifyRequest, reply: FastifyReply, rawName: string) => {
      const identity = await caller(request);
      const name = decodePackageName(rawName);
      const id = projectId(request);
      // GitLab looks for `npm-command: deprecate`; npm 11's `npm undeprecate` sends `undeprecate` with the same body.
      if (DEPRECATE_COMMANDS.has(String(request.headers['npm-command'] ?? '').toLowerCase())) {
        const { project, ctx } = await services.access.authorizePackageAccess(identity, id, 'destroy_package', 'plain');
        const { changed } = await npm.publish.deprecate({ identity, project, ctx }, name, request.body);
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

    // --- unpublish (beyond GitLab) ------------------------------------------------------------------------------
    const unpublish = async (request: FastifyRequest, reply: FastifyReply, target: string, rawRev: string) => {
      const identity = await caller(request);
      // A rev that does not even decode cannot be the current one: the service answers 409 for it.
      let rev = rawRev;
      try {
        rev = decodeURIComponent(rawRev);
      } catch {
        /* keep it raw */
      }
      const sep = target.indexOf('/-/');
      const name = decodePackageName(sep > 0 ? target.slice(0, sep) : target);
      const { project, ctx } = await services.access.authorizePackageAccess(identity, projectId(request), 'destroy_package', 'plain');
      const unpublisher = { identity, project, ctx, audit: auditContext(request, identity) };
      let result;
      if (request.method === 'PUT') {
        if (sep > 0) throw errors.routeNotFound();
        result = await npm.unpublish.keepVersions(unpublisher, name, rev, request.body);
      } else if (sep > 0) {
        result = await npm.unpublish.removeTarball(unpublisher, name, decodeFileName(target.slice(sep + 3)), rev);
      } else {
        result = await npm.unpublish.removePackage(unpublisher, name, rev);
      }
      if (result.removed.length) request.log.info({ project: project.id, package: name, versions: result.removed }, 'npm unpublish');
      return reply.send({ ok: true, id: name, rev: result.rev, removed: result.removed });
    };

    // --- P4 / P5: audit --------------------------------------------------------------------------------------
    const projectAudit = (request: FastifyRequest, reply: FastifyReply, path: string) =>
      audit(services, request, reply, path, async (identity) => {
        // GitLab has no advisories of its own: a caller who may read the project's packages gets `[]`.
        await services.access.authorizePackageAccess(identity, projectId(request), 'read_package', 'plain');
        return [];
      });

    app.get('/projects/:id/packages/npm/*', async (request, reply) => {
      const rest = rawRemainder(request);
      const tags = /^-\/package\/(.+)\/dist-tags$/s.exec(rest);
      if (tags) return distTags(request, reply, tags[1]!);
      const command = await registryGet(services, request, reply, rest, async (identity) => {
        const { project } = await services.access.authorizePackageAccess(identity, projectId(request), 'read_package', 'authenticate-non-public');
        return { kind: 'project', projectId: project.id };
      });
      if (command) return reply;
      const sep = rest.indexOf('/-/');
      if (sep > 0) {
        const file = rest.slice(sep + 3);
        if (file === '') throw errors.routeNotFound();
        return tarball(request, reply, rest.slice(0, sep), file);
      }
      if (rest === '') throw errors.routeNotFound();
      return packument(request, reply, rest);
    });

    /**
     * The PUT handlers' checks that need no body, in their order, run before the body is read: the caller (an
     * anonymous publish is a 401 before one byte of its tarball is read), the package name, and the caller's
     * rights on the project. `npm login` is anonymous by design and has only its small body limit.
     */
    const putBeforeBody = async (request: FastifyRequest): Promise<void> => {
      const rest = rawRemainder(request);
      const tag = TAG_PATH.exec(rest);
      let rawName: string;
      let ability: 'create_package' | 'destroy_package';
      if (tag) {
        if (tag[2] === '') throw errors.routeNotFound();
        [rawName, ability] = [tag[1]!, 'create_package'];
      } else if (isLoginPath(rest)) {
        return;
      } else if (REV_PATH.test(rest)) {
        const target = REV_PATH.exec(rest)![1]!;
        const sep = target.indexOf('/-/');
        [rawName, ability] = [sep > 0 ? target.slice(0, sep) : target, 'destroy_package'];
      } else {
        if (rest === '' || rest.includes('/')) throw errors.routeNotFound();
        const deprecate = DEPRECATE_COMMANDS.has(String(request.headers['npm-command'] ?? '').toLowerCase());
        [rawName, ability] = [rest, deprecate ? 'destroy_package' : 'create_package'];
      }
      const identity = await caller(request);
      decodePackageName(rawName);
      await services.access.authorizePackageAccess(identity, projectId(request), ability, 'plain');
    };

    app.put(
      '/projects/:id/packages/npm/*',
      {
        // The real limit depends on the path and a runtime setting (`npmPutBodyLimit`); this is only V8's string ceiling.
        bodyLimit: bufferConstants.MAX_STRING_LENGTH,
        config: { beforeBody: putBeforeBody },
        preParsing: npmPutBodyLimit(services, rawRemainder, true),
      },
      async (request, reply) => {
        const rest = rawRemainder(request);
        const tag = /^-\/package\/(.+)\/dist-tags\/([^/]*)$/s.exec(rest);
        if (tag) {
          if (tag[2] === '') throw errors.routeNotFound();
          return addTag(request, reply, tag[1]!, tag[2]!);
        }
        const login = await registryPut(services, request, reply, rest);
        if (login) return reply;
        const rev = REV_PATH.exec(rest);
        if (rev) return unpublish(request, reply, rev[1]!, rev[2]!);
        // `PUT P/:package_name` is a single segment: a literal `/` matches no route.
        if (rest === '' || rest.includes('/')) throw errors.routeNotFound();
        return put(request, reply, rest);
      },
    );

    app.delete('/projects/:id/packages/npm/*', async (request, reply) => {
      const rest = rawRemainder(request);
      const tag = /^-\/package\/(.+)\/dist-tags\/([^/]*)$/s.exec(rest);
      if (tag) {
        if (tag[2] === '') throw errors.routeNotFound();
        return removeTag(request, reply, tag[1]!, tag[2]!);
      }
      const logout = await registryDelete(services, request, reply, rest);
      if (logout) return reply;
      const rev = REV_PATH.exec(rest);
      if (rev && !rest.startsWith('-/')) return unpublish(request, reply, rev[1]!, rev[2]!);
      throw errors.routeNotFound();
    });

    app.post('/projects/:id/packages/npm/*', { ...npmPostOptions, config: { beforeBody: auditBeforeBody(services, rawRemainder) } }, async (request, reply) => {
      const rest = rawRemainder(request);
      const auditPath = AUDIT_PATHS.exec(rest);
      if (auditPath) return projectAudit(request, reply, auditPath[1]!);
      registryPost(rest);
      throw errors.routeNotFound();
    });
  };
