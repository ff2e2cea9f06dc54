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
import type { AccessRouteKind, PackageAbility, ProjectAccessContext } from '../../domain/access/abilities.js';
import type { Identity } from '../../domain/access/identity.js';
import { errors } from '../../domain/errors.js';
import type { ProjectRow } from '../../domain/records.js';
import type { Services } from '../../app-deps.js';
import { requireAdmin } from '../../services/users.service.js';

/**
 * What a route lets its caller do.
 *
 * - `anyone`: no caller is needed; what an anonymous caller sees is the service's decision (public lists, login).
 * - `signed_in`: a caller is needed; on the management API, rights on the object named (Maintainer of this
 *   project, one's own token) are then the service's decision, through `domain/access`.
 * - `admin`: an instance administrator.
 * - `read_package`, `create_package`, `destroy_package`: GitLab's package abilities on the project the path names.
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
   * every 401 carries the Basic challenge; `none`: the route never looks at a credential (`/api/v4/version`).
   */
  readonly credentials: 'personal' | 'standard' | 'basic-only' | 'none';
  /**
   * Who decides a package ability: `route`, this hook, which hands the project and the caller's context to the
   * handler (`request.projectAccess`); `service`, the service the handler calls, because GitLab decides after a
   * lookup the service makes, or inside a write transaction. The hook then establishes only the caller.
   */
  readonly decidedBy?: 'route' | 'service';
  /** GitLab's `authenticate_non_public` (the default for package routes): an anonymous caller of a private project gets 401. */
  readonly routeKind?: AccessRouteKind;
  /**
   * When a write is checked: `before-body` (the default), or `before-handler`, after its body was read within the
   * route's limit — for a route that takes no body and always answered a large one with 413 (Helm's DELETE).
   */
  readonly checked?: CheckStage;
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

/** A project the caller was found to have a package ability on. */
export interface ProjectAccess {
  readonly identity: Identity;
  readonly project: ProjectRow;
  readonly ctx: ProjectAccessContext;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's ability: who may call it, on what, with which credentials. */
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** The project the route's declared package ability was checked on (routes with `decidedBy: 'route'`). */
    projectAccess: ProjectAccess | null;
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

  /** The declared check, in GitLab's order: path checks, caller, then the ability. */
  const decide = async (request: FastifyRequest, access: RouteAccess): Promise<void> => {
    if (access.credentials === 'none') return;
    access.precheck?.(request);
    const needsCaller = access.ability === 'signed_in' || access.ability === 'admin';
    const identity = await request.caller(needsCaller ? { required: true } : {});
    if (access.credentials === 'personal' && identity.kind === 'deploy_token') throw errors.unauthorized();
    if (access.ability === 'admin') requireAdmin(identity);
    if (PACKAGE_ABILITIES.has(access.ability) && access.decidedBy === 'route' && access.scope === 'project') {
      const id = (request.params as { id: string }).id;
      // Helm's routes (the only ones here) answer GitLab's plain `404 Project Not Found` for a project nobody sees.
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
    if (!isRead(request.method) && access.checked !== 'before-handler') return decide(request, access);
    if (access.credentials === 'personal') {
      // The management API's `before { authenticate! }`: a bad token or a deploy token is refused first.
      const identity = await request.caller(access.ability === 'admin' ? { required: true } : {});
      if (identity.kind === 'deploy_token') throw errors.unauthorized();
      if (access.ability === 'admin') requireAdmin(identity);
    }
  };

  const afterValidation = async (request: FastifyRequest): Promise<void> => {
    const access = request.routeOptions.config.access!;
    if (access.decide) return access.decide(request, 'before-handler');
    if (isRead(request.method) || access.checked === 'before-handler') await decide(request, access);
  };

  app.addHook('onRoute', (route: RouteOptions) => {
    const access = route.config?.access;
    if (declared) for (const method of [route.method].flat()) declared.push({ method, url: route.url, access });
    if (!access || access.credentials === 'none') return;
    const methods = [route.method].flat();
    // Route-level hooks run after the application's (request id, rate limits), as the handlers' checks did.
    if (access.credentials === 'personal' || methods.some((m) => !isRead(m))) route.onRequest = [...[route.onRequest ?? []].flat(), beforeBody];
    if (access.decide || access.checked === 'before-handler' || methods.some(isRead)) route.preHandler = [...[route.preHandler ?? []].flat(), afterValidation];
  });
}
