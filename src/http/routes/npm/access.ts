/**
 * The ability of each npm command, at the project endpoint and at the group and instance endpoints, and the one
 * check that enforces it (the `decide` of the npm routes' `config.access`, see `plugins/route-access.ts`).
 *
 * The check follows GitLab's order for each command: on a read the package name is validated before the caller
 * (a bad name is a 400 whatever the token), on a write after it; then the rights on the project or namespace the
 * command acts on. What it found is handed to the handler (`request.npm`, `request.projectAccess`), so handlers
 * and services never authorise again. Two commands decide only after the forwarding question was answered
 * (`after: 'forwarding'`): a project's packument is forwarded upstream before rights are looked at, so that a
 * name the project does not have can still be installed, and an audit is forwarded upstream for anyone with a
 * valid caller. Their handlers call `authorizeDeferred` at that step.
 */
import type { FastifyRequest } from 'fastify';
import { requireTrustedPublish, type AccessRouteKind, type PackageAbility } from '../../../domain/access/abilities.js';
import type { Identity } from '../../../domain/access/identity.js';
import { errors, type AppError } from '../../../domain/errors.js';
import { parseNpmPath, type NpmCommand, type NpmCommandKind, type NpmMethod, type NpmScope } from '../../../domain/npm/npm-path.js';
import { decodeFileName, decodePackageName, decodeTag } from '../../../domain/npm/path-segments.js';
import type { NpmSearchScope } from '../../../domain/records.js';
import type { NamespaceRow, ProjectRow } from '../../../domain/records.js';
import { replayable } from '../../hot-lane.js';
import type { CheckStage, ProjectAccess } from '../../plugins/route-access.js';

/** What one npm command needs at one endpoint. */
export type NpmAccess =
  /** Nothing is checked: anonymous by design (`npm login` sends the stale token of the `.npmrc` it replaces). */
  | { readonly ability: 'anyone' }
  /** The credential is checked (a bad token is a 401), an anonymous caller is let through. */
  | { readonly ability: 'caller' }
  | { readonly ability: 'signed_in' }
  /** Refused for everyone, with `refusal`; after the caller is checked when `callerFirst`. */
  | { readonly ability: 'nobody'; readonly refusal: () => AppError; readonly callerFirst: boolean }
  | {
      readonly ability: PackageAbility;
      /** `package`: the project the package lives in; `namespace`: the group or top-level namespace searched; `endpoint`: the endpoint's own project or group. */
      readonly on: 'package' | 'namespace' | 'endpoint';
      readonly route: AccessRouteKind;
      readonly after?: 'forwarding';
    };

/** The ability of every command, at the project endpoint and at the group and instance endpoints. */
export interface NpmCommandAccess {
  readonly project: NpmAccess;
  readonly namespace: NpmAccess;
  /** An anonymous answer may be replayed by the hot lane (it depends on the URL, a few headers and the database only). */
  readonly replayable?: boolean;
}

const NOT_FOUND: NpmAccess = { ability: 'nobody', refusal: () => errors.routeNotFound(), callerFirst: false };
const UNPUBLISH_HERE = 'npm unpublish works through the project endpoint (/api/v4/projects/<id>/packages/npm/), where the package lives.';
/** GitLab's 404 would make npm report a successful unpublish; a 405 names the endpoint that does it. */
const UNPUBLISH_ELSEWHERE: NpmAccess = { ability: 'nobody', refusal: () => errors.npmMethodNotAllowed(UNPUBLISH_HERE), callerFirst: true };
const onPackage = (ability: PackageAbility, route: AccessRouteKind): NpmAccess => ({ ability, on: 'package', route });

export const NPM_COMMAND_ACCESS: Readonly<Record<NpmCommandKind, NpmCommandAccess>> = {
  packument: {
    project: { ability: 'read_package', on: 'package', route: 'authenticate-non-public', after: 'forwarding' },
    namespace: { ability: 'read_package', on: 'namespace', route: 'authenticate-non-public' },
    replayable: true,
  },
  // The parser yields a tarball at the project endpoint only (a group's `<a>/-/<b>` is a packument name).
  tarball: { project: onPackage('read_package', 'plain'), namespace: NOT_FOUND, replayable: true },
  distTags: { project: onPackage('read_package', 'authenticate-non-public'), namespace: onPackage('read_package', 'authenticate-non-public'), replayable: true },
  // A dist-tag decides what `npm install` takes: moving or removing one is a push (docs/design/access-model.md).
  addDistTag: { project: onPackage('create_package', 'plain'), namespace: onPackage('create_package', 'plain') },
  removeDistTag: { project: onPackage('destroy_package', 'plain'), namespace: onPackage('destroy_package', 'plain') },
  publish: { project: onPackage('create_package', 'plain'), namespace: NOT_FOUND },
  deprecate: { project: onPackage('destroy_package', 'plain'), namespace: NOT_FOUND },
  unpublishVersion: { project: onPackage('destroy_package', 'plain'), namespace: UNPUBLISH_ELSEWHERE },
  unpublishTarball: { project: onPackage('destroy_package', 'plain'), namespace: UNPUBLISH_ELSEWHERE },
  unpublishPackage: { project: onPackage('destroy_package', 'plain'), namespace: UNPUBLISH_ELSEWHERE },
  // Read like the packument that points at it (docs/design/npm-provenance.md#access).
  attestations: {
    project: onPackage('read_package', 'authenticate-non-public'),
    namespace: { ability: 'read_package', on: 'namespace', route: 'authenticate-non-public' },
    replayable: true,
  },
  audit: {
    project: { ability: 'read_package', on: 'endpoint', route: 'plain', after: 'forwarding' },
    namespace: { ability: 'read_package', on: 'endpoint', route: 'plain', after: 'forwarding' },
  },
  search: {
    project: { ability: 'read_package', on: 'endpoint', route: 'authenticate-non-public' },
    namespace: { ability: 'read_package', on: 'endpoint', route: 'authenticate-non-public' },
  },
  whoami: { project: { ability: 'signed_in' }, namespace: { ability: 'signed_in' } },
  // Credentials are still checked: a ping with a bad token says so, as every other request would.
  ping: { project: { ability: 'caller' }, namespace: { ability: 'caller' } },
  // Public key material, the same at every endpoint: nothing to protect, and `npm audit signatures` must read it
  // whatever the caller's rights (docs/design/threat-model.md).
  signingKeys: { project: { ability: 'anyone' }, namespace: { ability: 'anyone' } },
  login: { project: { ability: 'anyone' }, namespace: { ability: 'anyone' } },
  logout: { project: { ability: 'anyone' }, namespace: { ability: 'anyone' } },
  // Answered 404 by the handler, so that npm and pnpm fall back to the user-name-and-password prompt.
  webLogin: { project: { ability: 'anyone' }, namespace: { ability: 'anyone' } },
  notFound: { project: NOT_FOUND, namespace: NOT_FOUND },
};

export const accessOf = (kind: NpmCommandKind, scope: NpmScope): NpmAccess => NPM_COMMAND_ACCESS[kind][scope === 'project' ? 'project' : 'namespace'];

/** How an npm endpoint finds what a command acts on; each method checks the caller's rights, throwing GitLab's refusals. */
export interface NpmEndpoint {
  readonly scope: NpmScope;
  /** Fastify route path of the endpoint's glob. */
  readonly route: string;
  /** Captures the raw path's part after the endpoint's `…/packages/npm/`. */
  readonly prefix: RegExp;
  /** The project the package `name` is acted on in, with `ability` on it checked. */
  project(identity: Identity, request: FastifyRequest, name: string, ability: PackageAbility, route: AccessRouteKind, preloaded?: ProjectRow | null): Promise<ProjectAccess>;
  /** The namespace a group or instance packument of `name` is merged from (undefined: none), if the caller may see it. */
  namespace(identity: Identity, request: FastifyRequest, name: string, route: AccessRouteKind): Promise<NamespaceRow | undefined>;
  /** The endpoint itself (its project, its group, or the instance), if the caller may use it: what a search covers. */
  endpoint(identity: Identity, request: FastifyRequest, route: AccessRouteKind): Promise<NpmSearchScope>;
}

/** What the npm check found, for the handler. */
export interface NpmRequest {
  readonly endpoint: NpmEndpoint;
  readonly command: NpmCommand;
  /** The decoded package name, for commands that have one. */
  name?: string;
  /** The decoded file name (tarball). */
  file?: string;
  /** The decoded tag (dist-tag removal; an added tag is decoded after its version, from the body). */
  tag?: string;
  /** The namespace a group or instance packument is merged from. */
  namespace?: NamespaceRow | undefined;
  /** What a search covers. */
  searchScope?: NpmSearchScope;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The npm command of the request and what its access check found (npm routes only). */
    npm: NpmRequest | null;
  }
}

/** The raw request path after the endpoint's prefix, still percent-encoded, without the query. */
export function rawRemainder(request: FastifyRequest, prefix: RegExp): string {
  const path = (request.raw.url ?? request.url).split('?')[0] ?? '';
  return prefix.exec(path)?.[1] ?? '';
}

/** The command of a request, parsed once (by the check) and kept on the request. */
export function npmCommandOf(request: FastifyRequest, endpoint: NpmEndpoint): NpmRequest {
  if (request.npm) return request.npm;
  const command = parseNpmPath(rawRemainder(request, endpoint.prefix), request.method as NpmMethod, endpoint.scope, String(request.headers['npm-command'] ?? ''));
  request.npm = { endpoint, command };
  return request.npm;
}

/** The pieces of the path GitLab validates before it looks at rights (a read's before the caller, too). */
function decodePieces(npm: NpmRequest): void {
  const c = npm.command;
  if ('rawName' in c) npm.name = decodePackageName(c.rawName);
  if (c.kind === 'tarball') npm.file = decodeFileName(c.rawFile);
  if (c.kind === 'removeDistTag') npm.tag = decodeTag(c.rawTag);
}

async function checkPackageAbility(request: FastifyRequest, npm: NpmRequest, access: Extract<NpmAccess, { on: string }>, identity: Identity, preloaded?: ProjectRow | null): Promise<void> {
  const { endpoint } = npm;
  // A trusted publisher's token writes nothing but its one package's publish (docs/design/trusted-publishing.md).
  if (access.ability !== 'read_package') requireTrustedPublish(identity, npm.command.kind === 'publish' ? 'publish' : 'other', npm.name);
  switch (access.on) {
    case 'package':
      request.projectAccess = await endpoint.project(identity, request, npm.name!, access.ability, access.route, preloaded);
      return;
    case 'namespace':
      npm.namespace = await endpoint.namespace(identity, request, npm.name!, access.route);
      return;
    case 'endpoint':
      npm.searchScope = await endpoint.endpoint(identity, request, access.route);
      return;
  }
}

/**
 * Whether a command is checked before its body is read: every PUT (publish documents are large), and the audit
 * POST. The other commands are checked before the handler, after the body: a DELETE's body is read within the
 * route's limit first (a 300 MB one is a 413, whoever sends it), as before this check was declared.
 */
const checkedBeforeBody = (request: FastifyRequest, command: NpmCommand): boolean =>
  request.method === 'PUT' || (request.method === 'POST' && command.kind === 'audit');

/** The npm routes' whole access check (`config.access.decide`), at the stage its command needs. */
export const decideNpm =
  (endpoint: NpmEndpoint) =>
  async (request: FastifyRequest, stage: CheckStage): Promise<void> => {
    // Parsed at the first stage, whatever it checks there: the PUT body limit depends on the command.
    const npm = npmCommandOf(request, endpoint);
    if (checkedBeforeBody(request, npm.command) !== (stage === 'before-body')) return;
    const entry = NPM_COMMAND_ACCESS[npm.command.kind];
    // Set first, as the handlers did: refusals (a 404 for an anonymous caller) are replayed too.
    if (entry.replayable) replayable(request);
    const access = accessOf(npm.command.kind, endpoint.scope);
    switch (access.ability) {
      case 'anyone':
        return;
      case 'caller':
        await request.caller();
        return;
      case 'signed_in':
        await request.caller({ required: true });
        return;
      case 'nobody':
        if (access.callerFirst) await request.caller();
        throw access.refusal();
      default: {
        const reading = request.method === 'GET' || request.method === 'HEAD';
        if (reading) decodePieces(npm);
        const identity = await request.caller();
        if (!reading) decodePieces(npm);
        if (access.after !== 'forwarding') await checkPackageAbility(request, npm, access, identity);
      }
    }
  };

/**
 * The check of a command whose ability is decided after forwarding was considered (`after: 'forwarding'`);
 * `preloaded` is the endpoint's project as the handler already loaded it (null: it does not exist).
 */
export async function authorizeDeferred(request: FastifyRequest, preloaded?: ProjectRow | null): Promise<void> {
  const npm = request.npm!;
  const access = accessOf(npm.command.kind, npm.endpoint.scope);
  if (!('on' in access) || access.after !== 'forwarding') throw new Error(`npm ${npm.command.kind} has no deferred check`);
  await checkPackageAbility(request, npm, access, await request.caller(), preloaded);
}
