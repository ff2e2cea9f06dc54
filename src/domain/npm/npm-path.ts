/**
 * The npm registry's paths, parsed once into a typed command for all three endpoints (project, group, instance).
 *
 * Each endpoint is one wildcard route per method, because names arrive as `@scope%2fpkg`, `@scope%2Fpkg` or
 * `@scope/pkg` and the router must not decode them. This parser only finds the command and its raw pieces; each
 * piece is decoded later by `path-segments.ts`, at the step where GitLab validates it, so that the order of the
 * errors (a bad name before a bad token on a read, after it on a write) stays GitLab's. The order of the rules
 * follows GitLab's route precedence: dist-tags, then the registry-level paths, then tarball and packument.
 */

export type NpmScope = 'project' | 'group' | 'instance';
export type NpmMethod = 'GET' | 'HEAD' | 'PUT' | 'DELETE' | 'POST';
export type NpmAuditPath = 'advisories/bulk' | 'audits/quick';

/** What an npm request asks for. Raw fields are still percent-encoded. */
export type NpmCommand =
  /** `GET <pkg>` */
  | { readonly kind: 'packument'; readonly rawName: string }
  /** `GET <pkg>/-/<file>` (project only; elsewhere the whole path is a packument name, as in GitLab) */
  | { readonly kind: 'tarball'; readonly rawName: string; readonly rawFile: string }
  /** `GET -/package/<pkg>/dist-tags` */
  | { readonly kind: 'distTags'; readonly rawName: string }
  /** `PUT -/package/<pkg>/dist-tags/<tag>`: add or move a tag (the body is the version) */
  | { readonly kind: 'addDistTag'; readonly rawName: string; readonly rawTag: string }
  /** `DELETE -/package/<pkg>/dist-tags/<tag>` */
  | { readonly kind: 'removeDistTag'; readonly rawName: string; readonly rawTag: string }
  /** `PUT <pkg>` (project only) */
  | { readonly kind: 'publish'; readonly rawName: string }
  /** `PUT <pkg>` with `npm-command: deprecate` or `undeprecate`: the packument with `deprecated` set or cleared */
  | { readonly kind: 'deprecate'; readonly rawName: string }
  /** `PUT <pkg>/-rev/<rev>`: the packument without the versions being unpublished */
  | { readonly kind: 'unpublishVersion'; readonly rawName: string; readonly rawRev: string }
  /** `DELETE <pkg>/-/<file>/-rev/<rev>` (and a `PUT` of that path, which the project answers 404 after the rights check) */
  | { readonly kind: 'unpublishTarball'; readonly rawName: string; readonly rawFile: string; readonly rawRev: string }
  /** `DELETE <pkg>/-rev/<rev>` */
  | { readonly kind: 'unpublishPackage'; readonly rawName: string; readonly rawRev: string }
  /** `GET -/npm/v1/attestations/<pkg>@<version>`: the provenance published with a version (docs/design/npm-provenance.md) */
  | { readonly kind: 'attestations'; readonly rawName: string; readonly rawVersion: string }
  /** `POST -/npm/v1/security/{advisories/bulk,audits/quick}` */
  | { readonly kind: 'audit'; readonly path: NpmAuditPath }
  /** `PUT -/user/org.couchdb.user:<name>` */
  | { readonly kind: 'login'; readonly rawUser: string }
  /** `DELETE -/user/token/<token>` */
  | { readonly kind: 'logout'; readonly rawToken: string }
  /** `POST -/v1/login`: npm's web login, which Wharf does not offer */
  | { readonly kind: 'webLogin' }
  | { readonly kind: 'whoami' }
  | { readonly kind: 'ping' }
  /** `GET -/npm/v1/keys`: the registry's signing keys (`npm audit signatures`) */
  | { readonly kind: 'signingKeys' }
  | { readonly kind: 'search' }
  /** No such route (GitLab's `404 Not Found`). */
  | { readonly kind: 'notFound' };

export type NpmCommandKind = NpmCommand['kind'];

const DIST_TAGS = /^-\/package\/(.+)\/dist-tags$/s;
const DIST_TAG = /^-\/package\/(.+)\/dist-tags\/([^/]*)$/s;
const LOGIN = /^-\/user\/org\.couchdb\.user:([^/]+)$/;
const LOGOUT = /^-\/user\/token\/([^/]+)$/;
const REV = /^(.+)\/-rev\/([^/]+)$/s;
const AUDIT = /^-\/npm\/v1\/security\/(advisories\/bulk|audits\/quick)$/;
const ATTESTATIONS = /^-\/npm\/v1\/attestations\/(.+)$/s;

const NOT_FOUND: NpmCommand = { kind: 'notFound' };

/** GitLab looks for `npm-command: deprecate`; npm 11's `npm undeprecate` sends `undeprecate` with the same body. */
const DEPRECATE_COMMANDS = new Set(['deprecate', 'undeprecate']);

/** `<pkg>/-/<file>/-rev/<rev>` or `<pkg>/-rev/<rev>`, from REV's target and rev. */
function unpublish(target: string, rawRev: string, whole: 'unpublishVersion' | 'unpublishPackage'): NpmCommand {
  const sep = target.indexOf('/-/');
  if (sep > 0) return { kind: 'unpublishTarball', rawName: target.slice(0, sep), rawFile: target.slice(sep + 3), rawRev };
  return { kind: whole, rawName: target, rawRev };
}

/**
 * The command of `raw`, the request path after the endpoint's `…/packages/npm/`, still percent-encoded and
 * without the query string; `npmCommand` is the request's `npm-command` header.
 */
export function parseNpmPath(raw: string, method: NpmMethod, scope: NpmScope, npmCommand?: string): NpmCommand {
  switch (method) {
    case 'GET':
    case 'HEAD': {
      const tags = DIST_TAGS.exec(raw);
      if (tags) return { kind: 'distTags', rawName: tags[1]! };
      if (raw === '-/whoami') return { kind: 'whoami' };
      if (raw === '-/ping') return { kind: 'ping' };
      if (raw === '-/npm/v1/keys') return { kind: 'signingKeys' };
      if (raw === '-/v1/search') return { kind: 'search' };
      const attestations = ATTESTATIONS.exec(raw);
      if (attestations) {
        // `<name>@<version>`: the version follows the last `@` (a scope's `@` is the first character).
        const spec = attestations[1]!;
        const at = spec.lastIndexOf('@');
        return at > 0 && at < spec.length - 1 ? { kind: 'attestations', rawName: spec.slice(0, at), rawVersion: spec.slice(at + 1) } : NOT_FOUND;
      }
      if (raw === '') return NOT_FOUND;
      const sep = scope === 'project' ? raw.indexOf('/-/') : -1;
      if (sep > 0) {
        const rawFile = raw.slice(sep + 3);
        return rawFile === '' ? NOT_FOUND : { kind: 'tarball', rawName: raw.slice(0, sep), rawFile };
      }
      return { kind: 'packument', rawName: raw };
    }
    case 'PUT': {
      const tag = DIST_TAG.exec(raw);
      if (tag) return tag[2] === '' ? NOT_FOUND : { kind: 'addDistTag', rawName: tag[1]!, rawTag: tag[2]! };
      const login = LOGIN.exec(raw);
      if (login) return { kind: 'login', rawUser: login[1]! };
      const rev = REV.exec(raw);
      if (rev) return unpublish(rev[1]!, rev[2]!, 'unpublishVersion');
      // `PUT P/:package_name` is a single segment: a literal `/` matches no route; nothing is published elsewhere.
      if (scope !== 'project' || raw === '' || raw.includes('/')) return NOT_FOUND;
      return { kind: DEPRECATE_COMMANDS.has((npmCommand ?? '').toLowerCase()) ? 'deprecate' : 'publish', rawName: raw };
    }
    case 'DELETE': {
      const tag = DIST_TAG.exec(raw);
      if (tag) return tag[2] === '' ? NOT_FOUND : { kind: 'removeDistTag', rawName: tag[1]!, rawTag: tag[2]! };
      const logout = LOGOUT.exec(raw);
      if (logout) return { kind: 'logout', rawToken: logout[1]! };
      const rev = REV.exec(raw);
      if (rev && !raw.startsWith('-/')) return unpublish(rev[1]!, rev[2]!, 'unpublishPackage');
      return NOT_FOUND;
    }
    case 'POST': {
      const audit = AUDIT.exec(raw);
      if (audit) return { kind: 'audit', path: audit[1] as NpmAuditPath };
      if (raw === '-/v1/login') return { kind: 'webLogin' };
      return NOT_FOUND;
    }
  }
}
