/**
 * GitLab's npm API at group level, `G = /api/v4/groups/:id/-/packages/npm` (docs/design/gitlab-compatibility.md#group-and-instance-endpoints), and at instance
 * level, `I = /api/v4/packages/npm` (docs/design/gitlab-compatibility.md#group-and-instance-endpoints). Both are read-mostly views over a namespace tree:
 *
 *   GET    {G,I}/@scope%2fpkg                         packument merged across the readable projects (G6, I6);
 *                                                    tarball URLs point at each version's project route
 *   GET    {G,I}/-/package/@scope%2fpkg/dist-tags     dist-tags of the project of the last matching package (G1, I1)
 *   PUT    {G,I}/-/package/@scope%2fpkg/dist-tags/t   body "1.0.0" → 204 (G2, I2; `create_package` there)
 *   DELETE {G,I}/-/package/@scope%2fpkg/dist-tags/t   → 204 (G3, I3; `destroy_package` there)
 *   POST   {G,I}/-/npm/v1/security/…                  307 upstream when forwarding, else 404 Project not found (G4/5, I4/5)
 *
 * The group comes from `:id` and must be visible to the caller; the instance endpoint's namespace is the top-level
 * group or user whose path is the package's scope (`@acme/x` → `acme`), so unscoped names and unknown scopes are
 * never found there. There is no tarball or publish route at these levels. `npm unpublish` through them answers
 * 405 with a pointer to the project endpoint (GitLab's 404 would make npm report a successful unpublish).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps, Services } from '../../../app-deps.js';
import type { AccessRouteKind } from '../../../domain/access/abilities.js';
import type { Identity } from '../../../domain/access/identity.js';
import { errors } from '../../../domain/errors.js';
import { replayable } from '../../hot-lane.js';
import { decodePackageName, decodeTag } from '../../../domain/npm/path-segments.js';
import type { NamespaceRow, NpmSearchScope } from '../../../domain/records.js';
import {
  AUDIT_PATHS,
  audit,
  auditBeforeBody,
  forwardPackument,
  isLoginPath,
  npmCaller,
  npmPostOptions,
  npmPutBodyLimit,
  rawRemainder,
  registryGet,
  registryDelete,
  registryPost,
  registryPut,
  sendPackument,
} from './common.js';

interface NamespaceScope {
  /** Fastify route path of the glob. */
  readonly route: string;
  /** The raw path's part after the scope's `…/packages/npm/`. */
  readonly prefix: RegExp;
  /** The namespace a request for `name` is about (undefined when there is none); throws GitLab's refusals. */
  resolve(identity: Identity, request: FastifyRequest, name: string | undefined, route: AccessRouteKind): Promise<NamespaceRow | undefined>;
  searchScope(identity: Identity, request: FastifyRequest): Promise<NpmSearchScope>;
}

const TAGS = /^-\/package\/(.+)\/dist-tags$/s;
const TAG = /^-\/package\/(.+)\/dist-tags\/([^/]*)$/s;
const REV_PATH = /^(.+)\/-rev\/([^/]+)$/s;

const UNPUBLISH_HERE = 'npm unpublish works through the project endpoint (/api/v4/projects/<id>/packages/npm/), where the package lives.';

function registerNamespaceRoutes(app: FastifyInstance, services: Services, scope: NamespaceScope): void {
  const npm = services.npm;
  const remainder = (request: FastifyRequest) => rawRemainder(request, scope.prefix);

  /** G6/I6: docs/design/gitlab-compatibility.md#group-and-instance-metadata in order — namespace, packages, forwarding or 404, rights, merge. */
  const packument = async (request: FastifyRequest, reply: FastifyReply, rawName: string) => {
    // Answers depend on the URL, Accept, Accept-Encoding, If-None-Match, the caller and the database only.
    replayable(request);
    const name = decodePackageName(rawName);
    const identity = await npmCaller(services, request);
    const namespace = await scope.resolve(identity, request, name, 'authenticate-non-public');
    const found = await npm.namespaces.packument(identity, namespace, name);
    if (found.kind === 'found') return sendPackument(request, reply, found.set);
    if (await forwardPackument(services, reply, name)) return reply;
    throw errors.npmNotFound('Packages');
  };

  /** The project G1–G3/I1–I3 act on, with the caller's rights on it checked as on the project routes. */
  const targetProject = async (identity: Identity, request: FastifyRequest, name: string, ability: 'read_package' | 'create_package' | 'destroy_package') => {
    const route: AccessRouteKind = ability === 'read_package' ? 'authenticate-non-public' : 'plain';
    const namespace = await scope.resolve(identity, request, name, route);
    const projectId = await npm.namespaces.targetProjectId(namespace, name);
    return services.access.authorizePackageAccess(identity, String(projectId), ability, route);
  };

  const distTags = async (request: FastifyRequest, reply: FastifyReply, rawName: string) => {
    replayable(request);
    const name = decodePackageName(rawName);
    const identity = await npmCaller(services, request);
    const { project } = await targetProject(identity, request, name, 'read_package');
    const tags = await npm.metadata.distTags(project.id, name);
    if (!tags) throw errors.npmNotFound('Package');
    return reply.header('cache-control', 'no-cache').send(tags);
  };

  const addTag = async (request: FastifyRequest, reply: FastifyReply, rawName: string, rawTag: string) => {
    const identity = await npmCaller(services, request);
    // GitLab's order: package name, version, tag.
    const name = decodePackageName(rawName);
    const version = typeof request.body === 'string' ? request.body.trim() : '';
    if (version === '') throw errors.npmMissingAttribute('Version');
    const tag = decodeTag(rawTag);
    const { project, ctx } = await targetProject(identity, request, name, 'create_package');
    await npm.tags.add({ identity, project, ctx }, name, tag, version);
    return reply.code(204).send();
  };

  const removeTag = async (request: FastifyRequest, reply: FastifyReply, rawName: string, rawTag: string) => {
    const identity = await npmCaller(services, request);
    const name = decodePackageName(rawName);
    const tag = decodeTag(rawTag);
    const { project, ctx } = await targetProject(identity, request, name, 'destroy_package');
    await npm.tags.remove({ identity, project, ctx }, name, tag);
    return reply.code(204).send();
  };

  app.get(scope.route, async (request, reply) => {
    const rest = remainder(request);
    const tags = TAGS.exec(rest);
    if (tags) return distTags(request, reply, tags[1]!);
    const command = await registryGet(services, request, reply, rest, (identity) => scope.searchScope(identity, request));
    if (command) return reply;
    if (rest === '') throw errors.routeNotFound();
    return packument(request, reply, rest);
  });

  /** The PUT handler's checks that need no body, in its order, made before the body is read. */
  const putBeforeBody = async (request: FastifyRequest): Promise<void> => {
    const rest = remainder(request);
    const tag = TAG.exec(rest);
    if (tag) {
      if (tag[2] === '') throw errors.routeNotFound();
      const identity = await npmCaller(services, request);
      const name = decodePackageName(tag[1]!);
      await targetProject(identity, request, name, 'create_package');
      return;
    }
    if (isLoginPath(rest)) return;
    if (REV_PATH.test(rest)) {
      await npmCaller(services, request);
      throw errors.npmMethodNotAllowed(UNPUBLISH_HERE);
    }
    throw errors.routeNotFound();
  };

  app.put(scope.route, { config: { beforeBody: putBeforeBody }, preParsing: npmPutBodyLimit(services, remainder, false) }, async (request, reply) => {
    const rest = remainder(request);
    const tag = TAG.exec(rest);
    if (tag) {
      if (tag[2] === '') throw errors.routeNotFound();
      return addTag(request, reply, tag[1]!, tag[2]!);
    }
    const login = await registryPut(services, request, reply, rest);
    if (login) return reply;
    if (REV_PATH.test(rest)) {
      await npmCaller(services, request);
      throw errors.npmMethodNotAllowed(UNPUBLISH_HERE);
    }
    // No publish route at this level (GitLab: publish only to a project).
    throw errors.routeNotFound();
  });

  app.delete(scope.route, async (request, reply) => {
    const rest = remainder(request);
    const tag = TAG.exec(rest);
    if (tag) {
      if (tag[2] === '') throw errors.routeNotFound();
      return removeTag(request, reply, tag[1]!, tag[2]!);
    }
    const logout = await registryDelete(services, request, reply, rest);
    if (logout) return reply;
    if (REV_PATH.test(rest) && !rest.startsWith('-/')) {
      await npmCaller(services, request);
      throw errors.npmMethodNotAllowed(UNPUBLISH_HERE);
    }
    throw errors.routeNotFound();
  });

  app.post(scope.route, { ...npmPostOptions, config: { beforeBody: auditBeforeBody(services, remainder) } }, async (request, reply) => {
    const rest = remainder(request);
    const auditPath = AUDIT_PATHS.exec(rest);
    if (auditPath) {
      return audit(services, request, reply, auditPath[1]!, async (identity) => {
        // No package name, so no project to answer for (GitLab's `reject audit request with error`).
        await scope.resolve(identity, request, undefined, 'plain');
        throw errors.npmNotFound('Project');
      });
    }
    registryPost(rest);
    throw errors.routeNotFound();
  });
}

export const npmGroupRoutes =
  ({ services }: Deps): FastifyPluginAsync =>
  async (app) => {
    const groupId = (request: FastifyRequest) => (request.params as { id: string }).id;
    registerNamespaceRoutes(app, services, {
      route: '/groups/:id/-/packages/npm/*',
      prefix: /\/groups\/[^/]+\/-\/packages\/npm\/(.*)$/s,
      resolve: (identity, request, _name, route) => services.npm.namespaces.group(identity, groupId(request), route),
      searchScope: async (identity, request) => {
        const group = await services.npm.namespaces.group(identity, groupId(request), 'authenticate-non-public');
        return { kind: 'tree', traversalPrefix: group.traversal_ids };
      },
    });
  };

export const npmInstanceRoutes =
  ({ services }: Deps): FastifyPluginAsync =>
  async (app) => {
    registerNamespaceRoutes(app, services, {
      route: '/packages/npm/*',
      prefix: /^\/api\/v4\/packages\/npm\/(.*)$/s,
      resolve: async (_identity, _request, name) => (name === undefined ? undefined : services.npm.namespaces.instanceNamespace(name)),
      searchScope: async () => ({ kind: 'instance' }),
    });
  };
