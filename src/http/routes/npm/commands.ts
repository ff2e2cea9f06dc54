/**
 * The npm commands every endpoint (project, group, instance) answers the same way, and the registration of an
 * endpoint's four wildcard routes, which dispatch on the command parsed from the raw path (`domain/npm/npm-path.ts`).
 * Access was checked before a handler runs (`access.ts`); handlers take what it found from the request.
 *
 * Registry-level commands GitLab does not implement, answered at every level:
 *
 *   npm whoami       GET  …/-/whoami                          → {"username": "<token's user>"}; anonymous 401
 *   npm ping         GET  …/-/ping                            → 200 {}
 *   (signing keys)   GET  …/-/npm/v1/keys                     → {"keys": [{keyid, keytype, scheme, key, expires}]}, anyone
 *   npm search       GET  …/-/v1/search?text=&size=&from=     → {objects, total, time} of readable packages
 *   npm login        PUT  …/-/user/org.couchdb.user:<name>    {name, password} → 201 {ok, id, token} (new `api` PAT)
 *   npm logout       DELETE …/-/user/token/<token>           → 200 {ok: true}; revokes it if it is a personal access token
 *   (web login)      POST …/-/v1/login                        → 404, so npm and pnpm fall back to the legacy login
 *   npm audit        POST …/-/npm/v1/security/{advisories/bulk,audits/quick}  (gzip body) → the upstream's answer
 *                    without local names (forwarding on), or the endpoint's answer
 */
import { constants as bufferConstants } from 'node:buffer';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../../app-deps.js';
import { actorName, type Identity } from '../../../domain/access/identity.js';
import { errors } from '../../../domain/errors.js';
import type { NpmCommand, NpmCommandKind } from '../../../domain/npm/npm-path.js';
import { decodeTag } from '../../../domain/npm/path-segments.js';
import { auditContext } from '../../audit-context.js';
import type { ProjectAccess, RouteAccess } from '../../plugins/route-access.js';
import { authorizeDeferred, decideNpm, type NpmEndpoint, type NpmRequest } from './access.js';
import { npmPostOptions, npmPutBodyLimit } from './common.js';

/** A command's handler; `npm` is what the access check found. */
export type NpmHandler<K extends NpmCommandKind = NpmCommandKind> = (
  request: FastifyRequest,
  reply: FastifyReply,
  npm: NpmRequest & { command: Extract<NpmCommand, { kind: K }> },
) => Promise<FastifyReply>;

export type NpmHandlers = { readonly [K in NpmCommandKind]?: NpmHandler<K> };

/** Parses `size`/`from` of a search as non-negative integers, with npm's defaults. */
function intParam(value: unknown, fallback: number): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  return Number.isSafeInteger(n) ? n : fallback;
}

const projectAccessOf = (request: FastifyRequest): ProjectAccess => request.projectAccess!;

/** What every endpoint answers alike: dist-tags, the registry-level commands, and the audit (with `auditLocal`). */
export function sharedHandlers(services: Services, auditLocal: (request: FastifyRequest, identity: Identity) => Promise<unknown>): NpmHandlers {
  const npm = services.npm;
  return {
    // P1, G1, I1: the dist-tags of the package in the project the check resolved.
    distTags: async (request, reply, { name }) => {
      const tags = await npm.metadata.distTags(projectAccessOf(request).project.id, name!);
      if (!tags) throw errors.npmNotFound('Package');
      return reply.header('cache-control', 'no-cache').send(tags);
    },

    // P2, G2, I2. GitLab's order: package name (checked with the rights), version, tag.
    addDistTag: async (request, reply, { name, command }) => {
      // The body is the version as a bare JSON string (`"1.0.0"`); anything else counts as not given.
      const version = typeof request.body === 'string' ? request.body.trim() : '';
      if (version === '') throw errors.npmMissingAttribute('Version');
      const tag = decodeTag(command.rawTag);
      await npm.tags.add(projectAccessOf(request), name!, tag, version);
      return reply.code(204).send();
    },

    // P3, G3, I3.
    removeDistTag: async (request, reply, { name, tag }) => {
      await npm.tags.remove(projectAccessOf(request), name!, tag!);
      return reply.code(204).send();
    },

    whoami: async (request, reply) => {
      const identity = await request.caller({ required: true });
      if (identity.kind === 'anonymous') throw errors.unauthorized();
      return reply.header('cache-control', 'no-store').send({ username: actorName(identity) });
    },

    ping: async (_request, reply) => reply.header('cache-control', 'no-store').send({}),

    // The instance's keys at every level; revalidated each time, so a rotation's new key is seen at once.
    signingKeys: async (_request, reply) => reply.header('cache-control', 'no-cache').send(await services.npm.signingKeys.publicKeys()),

    search: async (request, reply, { searchScope }) => {
      const q = (request.query ?? {}) as Record<string, unknown>;
      const text = typeof q.text === 'string' ? q.text : '';
      const page = await npm.search.search(await request.caller(), searchScope!, text, { size: intParam(q.size, 20), from: intParam(q.from, 0) });
      return reply.header('cache-control', 'no-cache').send(page);
    },

    /**
     * `npm login --auth-type=legacy`. The request's Authorization header is deliberately not looked at: npm sends
     * the stale token of the `.npmrc` it is replacing, and that must not make the login fail.
     */
    login: async (request, reply, { command }) => {
      let name: string;
      try {
        name = decodeURIComponent(command.rawUser);
      } catch {
        throw errors.params(['name is invalid']);
      }
      const result = await npm.login.login(name, request.body, auditContext(request));
      request.log.info({ user: result.username }, 'npm login created a personal access token');
      return reply.code(201).header('cache-control', 'no-store').send({ ok: true, id: `org.couchdb.user:${result.username}`, token: result.token });
    },

    logout: async (request, reply, { command }) => {
      let secret: string;
      try {
        secret = decodeURIComponent(command.rawToken);
      } catch {
        throw errors.params(['token is invalid']);
      }
      const { revoked } = await npm.login.logout(secret, auditContext(request));
      if (revoked) request.log.info('npm logout revoked a personal access token');
      return reply.header('cache-control', 'no-store').send({ ok: true });
    },

    // The web login is not offered; pnpm falls back to the legacy login only on 404/405.
    webLogin: async () => {
      throw errors.npmNotFound('Web login');
    },

    /**
     * With forwarding on, GitLab answers `307` to the upstream's same path for any valid caller, which hands the
     * upstream every name in the body, private ones included. Wharf asks the upstream itself, without the names
     * that exist here or lie in a local scope, and answers what it answered (`{}` offline), in both forwarding
     * modes. Otherwise `auditLocal` gives the endpoint's answer after the rights check.
     */
    audit: async (request, reply, { command }) => {
      const settings = await services.settings.get();
      if (settings.npm_package_requests_forwarding) {
        const encoding = String(request.headers['content-encoding'] ?? '').trim().toLowerCase();
        const result = await services.npm.auditForwarding.forward(
          command.path,
          request.body,
          { url: settings.npm_package_requests_forwarding_url, token: settings.npm_proxy_upstream_token, offline: settings.npm_proxy_offline },
          { gzip: encoding === 'gzip' || encoding === 'x-gzip' },
        );
        request.log.info({ removed: result.removed, asked: result.asked }, 'npm audit forwarded without local names');
        return reply.header('content-type', 'application/json').header('cache-control', 'no-store').send(result.body);
      }
      await authorizeDeferred(request);
      const body = await auditLocal(request, await request.caller());
      return reply.header('content-type', 'application/json').send(body);
    },
  };
}

/**
 * The endpoint's four wildcard routes. Each declares the `npm_command` ability: the command's row of
 * `NPM_COMMAND_ACCESS` is checked before the handler (before the body for writes).
 */
export function registerNpmEndpoint(app: FastifyInstance, services: Services, endpoint: NpmEndpoint, handlers: NpmHandlers, publishes: boolean): void {
  const access: RouteAccess = { ability: 'npm_command', scope: endpoint.scope, credentials: 'standard', decide: decideNpm(endpoint) };
  const dispatch = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const npm = request.npm!;
    const handler = handlers[npm.command.kind] as NpmHandler | undefined;
    // Commands without a handler were refused by the access check (`nobody`); this is the same answer.
    if (!handler) throw errors.routeNotFound();
    return handler(request, reply, npm);
  };
  app.get(endpoint.route, { config: { access } }, dispatch);
  app.put(
    endpoint.route,
    {
      // The real limit depends on the command and a runtime setting (`npmPutBodyLimit`); this is only V8's string ceiling.
      ...(publishes ? { bodyLimit: bufferConstants.MAX_STRING_LENGTH } : {}),
      config: { access },
      preParsing: npmPutBodyLimit(services, publishes),
    },
    dispatch,
  );
  app.delete(endpoint.route, { config: { access } }, dispatch);
  app.post(endpoint.route, { ...npmPostOptions, config: { access } }, dispatch);
}

