/**
 * GitLab's npm API at group level, `G = /api/v4/groups/:id/-/packages/npm` (docs/design/gitlab-compatibility.md#group-and-instance-endpoints), and at instance
 * level, `I = /api/v4/packages/npm` (docs/design/gitlab-compatibility.md#group-and-instance-endpoints). Both are read-mostly views over a namespace tree:
 *
 *   GET    {G,I}/@scope%2fpkg                         packument merged across the readable projects (G6, I6);
 *                                                    tarball URLs point at each version's project route
 *   GET    {G,I}/-/package/@scope%2fpkg/dist-tags     dist-tags of the project of the last matching package (G1, I1)
 *   PUT    {G,I}/-/package/@scope%2fpkg/dist-tags/t   body "1.0.0" → 204 (G2, I2; `create_package` there)
 *   DELETE {G,I}/-/package/@scope%2fpkg/dist-tags/t   → 204 (G3, I3; `destroy_package` there)
 *   POST   {G,I}/-/npm/v1/security/…                  the upstream's answer without local names when forwarding, else 404 Project not found (G4/5, I4/5)
 *
 * The group comes from `:id` and must be visible to the caller; the instance endpoint's namespace is the top-level
 * group or user whose path is the package's scope (`@acme/x` → `acme`), so unscoped names and unknown scopes are
 * never found there. There is no tarball or publish route at these levels. `npm unpublish` through them answers
 * 405 with a pointer to the project endpoint (GitLab's 404 would make npm report a successful unpublish).
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Deps, Services } from '../../../app-deps.js';
import type { Identity } from '../../../domain/access/identity.js';
import type { AccessRouteKind } from '../../../domain/access/abilities.js';
import { errors } from '../../../domain/errors.js';
import type { NamespaceRow } from '../../../domain/records.js';
import type { ProxyEndpoint } from '../../../domain/npm/proxy.js';
import type { NpmEndpoint } from './access.js';
import { registerNpmEndpoint, sharedHandlers, type NpmHandler } from './commands.js';
import { forwardPackument, sendPackument } from './common.js';
import { attestationsHandler } from './attestations.js';

/** How a group or the instance finds the namespace a request is about (undefined: none); throws GitLab's refusals. */
interface NamespaceScope {
  readonly scope: 'group' | 'instance';
  readonly route: string;
  readonly prefix: RegExp;
  /** The namespace a request for `name` is about (undefined when there is none). */
  resolve(identity: Identity, request: FastifyRequest, name: string | undefined, route: AccessRouteKind): Promise<NamespaceRow | undefined>;
  /** What a search at this endpoint covers, if the caller may use it. */
  searchScope: NpmEndpoint['endpoint'];
  /** The endpoint proxied tarball URLs point at. */
  proxyEndpoint(request: FastifyRequest): ProxyEndpoint;
}

function registerNamespaceRoutes(app: Parameters<FastifyPluginAsync>[0], services: Services, scope: NamespaceScope): void {
  const npm = services.npm;

  const endpoint: NpmEndpoint = {
    scope: scope.scope,
    route: scope.route,
    prefix: scope.prefix,
    /** The project G1–G3/I1–I3 act on (that of the last matching package), with the caller's rights checked as on the project routes. */
    project: async (identity, request, name, ability, route) => {
      const namespace = await scope.resolve(identity, request, name, route);
      const projectId = await npm.namespaces.targetProjectId(namespace, name);
      const { project, ctx } = await services.access.authorizePackageAccess(identity, String(projectId), ability, route);
      return { identity, project, ctx };
    },
    namespace: (identity, request, name, route) => scope.resolve(identity, request, name, route),
    endpoint: scope.searchScope,
  };

  /** G6/I6: GitLab's group/instance metadata in order — namespace (checked), packages, forwarding or 404, rights, merge. */
  const packument: NpmHandler<'packument'> = async (request, reply, { name, namespace }) => {
    const found = await npm.namespaces.packument(await request.caller(), namespace, name!, scope.scope);
    if (found.kind === 'found') return sendPackument(request, reply, found.set);
    if (await forwardPackument(services, request, reply, name!, scope.proxyEndpoint(request))) return reply;
    throw errors.npmNotFound('Packages');
  };

  registerNpmEndpoint(
    app,
    services,
    endpoint,
    {
      ...sharedHandlers(services, async () => {
        // No package name, so no project to answer for (GitLab's `reject audit request with error`).
        throw errors.npmNotFound('Project');
      }),
      packument,
      // The versions the namespace packument merges for this caller, with its refusals.
      attestations: attestationsHandler(services, async (request, name) =>
        npm.namespaces.readableProjectIds(await request.caller(), request.npm!.namespace, name),
      ),
    },
    false,
  );
}

export const npmGroupRoutes =
  ({ services }: Deps): FastifyPluginAsync =>
  async (app) => {
    const groupId = (request: FastifyRequest) => (request.params as { id: string }).id;
    registerNamespaceRoutes(app, services, {
      scope: 'group',
      route: '/groups/:id/-/packages/npm/*',
      prefix: /^\/api\/v4\/groups\/[^/]+\/-\/packages\/npm\/(.*)$/s,
      resolve: (identity, request, _name, route) => services.npm.namespaces.group(identity, groupId(request), route),
      searchScope: async (identity, request, route) => {
        const group = await services.npm.namespaces.group(identity, groupId(request), route);
        return { kind: 'tree', traversalPrefix: group.traversal_ids };
      },
      proxyEndpoint: (request) => ({ kind: 'group', id: groupId(request) }),
    });
  };

export const npmInstanceRoutes =
  ({ services }: Deps): FastifyPluginAsync =>
  async (app) => {
    registerNamespaceRoutes(app, services, {
      scope: 'instance',
      route: '/packages/npm/*',
      prefix: /^\/api\/v4\/packages\/npm\/(.*)$/s,
      resolve: async (_identity, _request, name) => (name === undefined ? undefined : services.npm.namespaces.instanceNamespace(name)),
      searchScope: async () => ({ kind: 'instance' }),
      proxyEndpoint: () => ({ kind: 'instance' }),
    });
  };
