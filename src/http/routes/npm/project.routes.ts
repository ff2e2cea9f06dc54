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
 *   npm audit     POST P/-/npm/v1/security/advisories/bulk (gzip body)  → the upstream's answer without local names, or 200 []  (P4, P5)
 *
 * Beyond GitLab (which answers these 404, docs/design/gitlab-compatibility.md#what-gitlab-leaves-out), besides the registry-level commands of `common.ts`:
 *
 *   npm unpublish <pkg>@<v>   GET P/@scope%2fpkg?write=true, PUT P/@scope%2fpkg/-rev/<rev> (packument without v),
 *                             DELETE P/@scope/pkg/-/@scope/pkg-<v>.tgz/-rev/<rev>            → 200 {ok, rev}
 *   npm unpublish <pkg> -f    DELETE P/@scope%2fpkg/-rev/<rev>                                  → 200 {ok, rev}
 *   (Maintainers, or a deploy token with write_package_registry: GitLab's `destroy_package`.)
 *
 * One wildcard route per method dispatches on the command parsed from the raw path (`domain/npm/npm-path.ts`),
 * because names arrive as `@scope%2fpkg`, `@scope%2Fpkg` or `@scope/pkg` and must be decoded exactly once. Each
 * command's ability is in `access.ts` and checked before the handler with GitLab's procedure; handlers
 * stay thin and the npm services do the work.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../../../app-deps.js';
import { ifNoneMatchMatches } from '../../../domain/conditional.js';
import { errors, isAppError } from '../../../domain/errors.js';
import { decodeFileName } from '../../../domain/npm/path-segments.js';
import { auditContext } from '../../audit-context.js';
import { attachmentDisposition } from '../../content-disposition.js';
import type { ProjectAccess } from '../../plugins/route-access.js';
import { authorizeDeferred, type NpmEndpoint } from './access.js';
import { registerNpmEndpoint, sharedHandlers, type NpmHandler } from './commands.js';
import { forwardPackument, proxyTarball, sendPackument } from './common.js';
import { attestationsHandler } from './attestations.js';

export { acceptsGzip, publishBodyLimit, wantsAbbreviated } from './common.js';

const projectId = (request: FastifyRequest): string => (request.params as { id: string }).id;

export const npmProjectRoutes =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    const { services } = deps;
    const npm = services.npm;

    const endpoint: NpmEndpoint = {
      scope: 'project',
      route: '/projects/:id/packages/npm/*',
      prefix: /^\/api\/v4\/projects\/[^/]+\/packages\/npm\/(.*)$/s,
      project: (identity, request, _name, ability, route, preloaded) =>
        services.access.authorizePackageAccess(identity, projectId(request), ability, route, undefined, preloaded).then(({ project, ctx }) => ({ identity, project, ctx })),
      namespace: async () => undefined,
      endpoint: async (identity, request, route) => {
        const { project } = await services.access.authorizePackageAccess(identity, projectId(request), 'read_package', route);
        return { kind: 'project', projectId: project.id };
      },
    };
    const target = (request: FastifyRequest): ProjectAccess => request.projectAccess!;

    // --- P9: packument ------------------------------------------------------------------------------------
    const packument: NpmHandler<'packument'> = async (request, reply, { name }) => {
      const project = await services.access.findProject(projectId(request));
      const set = project ? await npm.metadata.packuments(project.id, name!) : undefined;
      // Forwarding is decided before authorisation and only for names this project does not have (docs/design/gitlab-compatibility.md#forwarding), so an
      // existing private package can never be shadowed by a public one of the same name.
      if (!set && (await forwardPackument(services, request, reply, name!, { kind: 'project', id: projectId(request) }))) return reply;
      await authorizeDeferred(request, project ?? null);
      if (!set) throw errors.npmNotFound('Packages');
      return sendPackument(request, reply, set);
    };

    // --- P6: tarball (no `authenticate_non_public`: an anonymous caller of a private project gets 404) ---------
    const tarball: NpmHandler<'tarball'> = async (request, reply, { name, file: fileName }) => {
      const projectOf = target(request).project;
      const file = await npm.metadata.tarballFile(projectOf.id, name!, fileName!).catch(async (err: unknown) => {
        // A file the project does not hold, of a name it does not hold: the proxy's, when it serves this name.
        if (!isAppError(err) || err.code !== 'not_found') throw err;
        const mode = await npm.proxy.mode();
        if (mode.kind === 'proxy' && !(await npm.metadata.packuments(projectOf.id, name!)) && (await proxyTarball(services, request, reply, name!, fileName!, mode.settings))) {
          return undefined;
        }
        throw err;
      });
      if (file === undefined) return reply;
      const etag = `"${file.sha256}"`;
      reply
        .header('etag', etag)
        // The bytes behind a file name never change; a shared cache still never stores an authenticated answer.
        .header('cache-control', 'max-age=31536000, immutable')
        .header('content-disposition', attachmentDisposition(file.file_name));
      if (ifNoneMatchMatches(request.headers['if-none-match'], etag)) return reply.code(304).send();
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

    // --- P8: publish and deprecate ------------------------------------------------------------------------
    const publish: NpmHandler<'publish'> = async (request, reply) => {
      const { identity, project, ctx } = target(request);
      const result = await npm.publish.publish({ identity, project, ctx, urlName: request.npm!.name!, body: request.body });
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

    const deprecate: NpmHandler<'deprecate'> = async (request, reply, { name }) => {
      const { changed } = await npm.publish.deprecate(target(request), name!, request.body);
      return reply.send({ ok: true, id: name, deprecated: changed, rev: await npm.publish.currentRev(target(request).project.id, name!) });
    };

    // --- unpublish (beyond GitLab) ------------------------------------------------------------------------------
    /** A rev that does not even decode cannot be the current one: the service answers 409 for it. */
    const revOf = (raw: string): string => {
      try {
        return decodeURIComponent(raw);
      } catch {
        return raw;
      }
    };
    const unpublisherOf = (request: FastifyRequest) => {
      const { identity, project, ctx } = target(request);
      return { identity, project, ctx, audit: auditContext(request, identity) };
    };
    const unpublished = (request: FastifyRequest, reply: FastifyReply, name: string, result: { rev: string; removed: string[] }) => {
      if (result.removed.length) request.log.info({ project: target(request).project.id, package: name, versions: result.removed }, 'npm unpublish');
      return reply.send({ ok: true, id: name, rev: result.rev, removed: result.removed });
    };

    registerNpmEndpoint(
      app,
      services,
      endpoint,
      {
        ...sharedHandlers(services, async () => []), // GitLab has no advisories of its own: a reader gets `[]`.
        packument,
        tarball,
        attestations: attestationsHandler(services, async (request) => [target(request).project.id]),
        publish,
        deprecate,
        unpublishVersion: async (request, reply, { name, command }) =>
          unpublished(request, reply, name!, await npm.unpublish.keepVersions(unpublisherOf(request), name!, revOf(command.rawRev), request.body)),
        unpublishTarball: async (request, reply, { name, command }) => {
          // `PUT <pkg>/-/<file>/-rev/<rev>` is no route; it is answered after the rights check, as before.
          if (request.method === 'PUT') throw errors.routeNotFound();
          const rev = revOf(command.rawRev);
          return unpublished(request, reply, name!, await npm.unpublish.removeTarball(unpublisherOf(request), name!, decodeFileName(command.rawFile), rev));
        },
        unpublishPackage: async (request, reply, { name, command }) =>
          unpublished(request, reply, name!, await npm.unpublish.removePackage(unpublisherOf(request), name!, revOf(command.rawRev))),
      },
      true,
    );
  };
