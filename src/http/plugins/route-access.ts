/**
 * Each endpoint's ability, declared next to its route (`config.access`) and checked here, in one hook, before the
 * body is read. docs/design/access-model.md ("Each endpoint's ability: where it is declared") has the model.
 *
 * A write's checks run in `onRequest`, so a caller who may not send a body never has it read: an anonymous 450 MB
 * publish is a 401 before its first byte. A read's checks run in `preHandler`, after the route's parameters were
 * validated, which is where GitLab makes them (and where the handlers made them before). The management API also
 * resolves its caller in `onRequest` for reads, as GitLab's `before { authenticate! }` does, so a bad token is a
 * 401 whatever the parameters.
 */
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import type { AccessRouteKind, GroupAccessContext, PackageAbility } from '../../domain/access/abilities.js';
import type { Identity } from '../../domain/access/identity.js';
import { errors } from '../../domain/errors.js';
import type { NamespaceRow } from '../../domain/records.js';
import type { Services } from '../../app-deps.js';
import type { ProjectAccess } from '../../services/access.service.js';
import { requireAdmin } from '../../services/users.service.js';

/**
 * What a route lets its caller do.
 *
 * - `anyone`: no caller is needed; what an anonymous caller sees is the service's decision (public lists, login).
 * - `signed_in`: a caller is needed; on the management API, rights on the object named (Maintainer of this
 *   project, one's own token) are then the service's decision, through `domain/access`.
 * - `admin`: an instance administrator.
 * - `read_package`, `create_package`, `destroy_package`: GitLab's package abilities on the project the path names,
 *   decided here; the handler finds the project and the caller's context in `request.projectAccess` and hands
 *   them to the service, which decides nothing again. On a group (the packages API's group listing), `read_package`
 *   is `read_group` on it (`request.groupAccess`); which of its projects' packages show is the listing's affair.
 * - `npm_command`: the npm wildcard routes, whose ability depends on the command the path holds; see
 *   `NPM_COMMAND_ACCESS` (`routes/npm/access.ts`), a table with one row per command.
 */
export type RouteAbility = 'anyone' | 'signed_in' | 'admin' | PackageAbility | 'npm_command';

export interface RouteAccess {
  readonly ability: RouteAbility;
  /** What the ability is on: the whole instance, a group or project named by `:id`, or the caller's own user. */
  readonly scope: 'instance' | 'group' | 'project' | 'user';
  /**
   * The credentials the route accepts. `personal`: the management API, where a deploy token is refused (401), as
   * in GitLab; `standard`: package routes (tokens in headers, Basic, deploy tokens); `basic-only`: Helm, where
   * every 401 carries the Basic challenge; `registry`: the OCI API, Basic or a registry Bearer token from
   * `/jwt/auth`; `none`: the route never looks at a credential (`/api/v4/version`).
   */
  readonly credentials: 'personal' | 'standard' | 'basic-only' | 'registry' | 'none';
  /**
   * GitLab's `authenticate_non_public` (the default for package routes): an anonymous caller of a private project
   * gets 401; `plain` (the packages API): 404 like any other caller who cannot see the project.
   */
  readonly routeKind?: AccessRouteKind;
  /**
   * When a write is checked: `before-body` (the default); `before-handler`, after its body was read within the
   * route's limit — for a route that takes no body and always answered a large one with 413 (Helm's DELETE);
   * `caller-before-body`, the caller before the body and the ability after the parameters were validated (the
   * packages API's deletes: a malformed `:package_id` is a 400 for any signed-in caller).
   */
  readonly checked?: CheckStage | 'caller-before-body';
  /** Path checks GitLab makes before it looks at the caller (Helm's channel), run first; they throw the route's errors. */
  readonly precheck?: (request: FastifyRequest) => void;
  /**
   * The whole check of a route whose ability depends on what its path asks (npm); replaces the steps above. It is
   * called at both stages (before the body of a write, and before the handler) and acts at the one its command needs.
   */
  readonly decide?: (request: FastifyRequest, stage: CheckStage) => Promise<void>;
}

/** `before-body`: `onRequest` of a write; `before-handler`: `preHandler`, after the body and parameter validation. */
export type CheckStage = 'before-body' | 'before-handler';

/** A project the caller was found to have a package ability on (the services take it as it is). */
export type { ProjectAccess };

/** A group the caller may see, for a package ability declared on a group. */
export interface GroupAccess {
  readonly identity: Identity;
  readonly group: NamespaceRow;
  readonly ctx: GroupAccessContext;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's ability: who may call it, on what, with which credentials. */
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** The project the route's declared package ability was checked on (`scope: 'project'`). */
    projectAccess: ProjectAccess | null;
    /** The group the route's declared package ability was checked on (`scope: 'group'`). */
    groupAccess: GroupAccess | null;
  }
}

const isRead = (method: string): boolean => method === 'GET' || method === 'HEAD';
const PACKAGE_ABILITIES: ReadonlySet<RouteAbility> = new Set(['read_package', 'create_package', 'destroy_package']);

/** A registered route and its declaration, as the `onRoute` hook saw it. */
export interface DeclaredRoute {
  readonly method: string;
  readonly url: string;
  readonly access: RouteAccess | undefined;
}

/**
 * Registers the hook. It must be called before any route is registered: each route that declares `access` gets
 * its checks as route-level hooks (routes without a declaration pay nothing). `declared`, when given, collects
 * every route with its declaration (the test that no route under `/api/v4` goes without one reads it).
 */
export function registerRouteAccess(app: FastifyInstance, services: Services, declared?: DeclaredRoute[]): void {
  app.decorateRequest('projectAccess', null);
  app.decorateRequest('groupAccess', null);

  /** The declared check up to the caller, in GitLab's order: path checks, then who is calling. */
  const establishCaller = async (request: FastifyRequest, access: RouteAccess): Promise<Identity> => {
    access.precheck?.(request);
    const needsCaller = access.ability === 'signed_in' || access.ability === 'admin';
    const identity = await request.caller(needsCaller ? { required: true } : {});
    if (access.credentials === 'personal' && (identity.kind === 'deploy_token' || identity.kind === 'trusted_publisher')) throw errors.unauthorized();
    if (access.ability === 'admin') requireAdmin(identity);
    return identity;
  };

  /** The whole declared check: path checks, caller, then the ability on the project or group `:id` names. */
  const decide = async (request: FastifyRequest, access: RouteAccess): Promise<void> => {
    if (access.credentials === 'none') return;
    const identity = await establishCaller(request, access);
    if (!PACKAGE_ABILITIES.has(access.ability)) return;
    const id = (request.params as { id: string }).id;
    if (access.scope === 'group') {
      const { group, ctx } = await services.access.readableGroup(identity, id);
      request.groupAccess = { identity, group, ctx };
    } else if (access.scope === 'project') {
      // Helm and the packages API (npm routes decide through their own `access.decide`) answer GitLab's plain
      // `404 Project Not Found`.
      const { project, ctx } = await services.access.authorizePackageAccess(
        identity,
        id,
        access.ability as PackageAbility,
        access.routeKind ?? 'authenticate-non-public',
        () => errors.notFound('Project'),
      );
      request.projectAccess = { identity, project, ctx };
    }
  };

  const beforeBody = async (request: FastifyRequest): Promise<void> => {
    const access = request.routeOptions.config.access!;
    if (access.decide) return access.decide(request, 'before-body');
    if (!isRead(request.method)) {
      if (access.checked === 'caller-before-body') await establishCaller(request, access);
      else if (access.checked !== 'before-handler') return decide(request, access);
    }
    if (access.credentials === 'personal') {
      // The management API's `before { authenticate! }`: a bad token or a deploy token is refused first.
      const identity = await request.caller(access.ability === 'admin' ? { required: true } : {});
      if (identity.kind === 'deploy_token' || identity.kind === 'trusted_publisher') throw errors.unauthorized();
      if (access.ability === 'admin') requireAdmin(identity);
    }
  };

  const afterValidation = async (request: FastifyRequest): Promise<void> => {
    const access = request.routeOptions.config.access!;
    if (access.decide) return access.decide(request, 'before-handler');
    if (isRead(request.method) || access.checked === 'before-handler' || access.checked === 'caller-before-body') await decide(request, access);
  };

  app.addHook('onRoute', (route: RouteOptions) => {
    const access = route.config?.access;
    if (declared) for (const method of [route.method].flat()) declared.push({ method, url: route.url, access });
    if (!access || access.credentials === 'none') return;
    // A package ability is decided on the project or group `:id` names; on anything else it would check nothing.
    if (PACKAGE_ABILITIES.has(access.ability) && !access.decide && access.scope !== 'project' && access.scope !== 'group') {
      throw new Error(`${route.url}: a package ability needs scope 'project' or 'group'`);
    }
    const methods = [route.method].flat();
    // Route-level hooks run after the application's (request id, rate limits), as the handlers' checks did.
    if (access.credentials === 'personal' || methods.some((m) => !isRead(m))) route.onRequest = [...[route.onRequest ?? []].flat(), beforeBody];
    if (access.decide || access.checked === 'before-handler' || access.checked === 'caller-before-body' || methods.some(isRead)) route.preHandler = [...[route.preHandler ?? []].flat(), afterValidation];
  });
}
