/**
 * The npm proxy's pure rules (docs/design/npm-proxy.md): which names it may fetch, how an upstream packument is
 * checked before anything of it is kept, how it is rewritten to point at Wharf, and what a tarball must hash to.
 *
 * The upstream is trusted for the bytes of its packages (that is what a proxy is for) but not for the shape of
 * what it sends: a document is read defensively, versions that are malformed or cannot be verified are left out,
 * and nothing in it decides where Wharf's clients download from.
 */
import { ABBREVIATED_FIELDS } from './packument.js';
import { isValidNpmName, NPM_PACKAGE_NAME_REGEX } from './names.js';

type Json = Record<string, unknown>;

export const MAX_DENY_LIST_ENTRIES = 1000;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A deny-list entry: a package name (`left-pad`, `@acme/x`) or a whole scope (`@acme/*`). */
export function isDenyListEntry(entry: string): boolean {
  if (entry.endsWith('/*') && entry.startsWith('@')) return NPM_PACKAGE_NAME_REGEX.test(`${entry.slice(0, -2)}/x`);
  return isValidNpmName(entry);
}

/** Whether `name` is on the deny list; names and scopes compare case-insensitively (npm treats them so). */
export function isDenied(name: string, denyList: readonly string[]): boolean {
  const lower = name.toLowerCase();
  const slash = lower.indexOf('/');
  const scopePattern = lower.startsWith('@') && slash > 0 ? `${lower.slice(0, slash)}/*` : undefined;
  return denyList.some((entry) => {
    const e = entry.toLowerCase();
    return e === lower || e === scopePattern;
  });
}

/** npm's escaping of a name in a registry URL: `@scope%2fname`. */
export const escapedName = (name: string): string => encodeURIComponent(name).replace(/^%40/, '@');

/** Where the proxy's tarballs are served at the endpoint a client used: the base the file URLs hang off. */
export type ProxyEndpoint = { readonly kind: 'instance' } | { readonly kind: 'group'; readonly id: string } | { readonly kind: 'project'; readonly id: string };

/** `<externalUrl>/api/v4/…/packages/npm`, the same shapes as the local routes (ids as the client spelled them). */
export function endpointBase(externalUrl: string, endpoint: ProxyEndpoint): string {
  switch (endpoint.kind) {
    case 'instance':
      return `${externalUrl}/api/v4/packages/npm`;
    case 'group':
      return `${externalUrl}/api/v4/groups/${encodeURIComponent(endpoint.id)}/-/packages/npm`;
    case 'project':
      return `${externalUrl}/api/v4/projects/${encodeURIComponent(endpoint.id)}/packages/npm`;
  }
}

/** A version's tarball as the upstream lists it. */
export interface UpstreamTarball {
  readonly version: string;
  /** The upstream's absolute URL (http or https). */
  readonly url: string;
  readonly integrity: string | undefined;
  readonly shasum: string | undefined;
}

/** An upstream packument that passed the checks: the document to serve (still with upstream URLs) and its files. */
export interface UpstreamPackument {
  readonly doc: Json;
  /** By file name (the last segment of the upstream URL, decoded). */
  readonly files: ReadonlyMap<string, UpstreamTarball>;
  readonly versionCount: number;
  readonly modified: string | undefined;
}

export class UpstreamDocumentError extends Error {
  constructor(reason: string) {
    super(`the upstream packument is unusable: ${reason}`);
    this.name = 'UpstreamDocumentError';
  }
}

/** A tarball file name Wharf will route: one path segment, no control characters, ending in `.tgz`. */
const SAFE_FILE = /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,250}\.tgz$/;

function fileNameOf(url: URL): string | undefined {
  const last = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
  let decoded: string;
  try {
    decoded = decodeURIComponent(last);
  } catch {
    return undefined;
  }
  return SAFE_FILE.test(decoded) ? decoded : undefined;
}

const SRI = /^(sha1|sha256|sha384|sha512)-[A-Za-z0-9+/]+={0,2}$/;

/**
 * Reads an upstream packument for `name` (already parsed JSON). Refused as a whole when it is not an object or
 * names another package; each version is kept only if it is an object whose `version` is its key and whose
 * `dist` has an http(s) tarball URL with a routable file name and something to verify the bytes against
 * (`integrity`, else a SHA-1 `shasum`). `dist-tags` naming a dropped version are dropped with it.
 */
export function readUpstreamPackument(parsed: unknown, name: string): UpstreamPackument {
  if (!isObject(parsed)) throw new UpstreamDocumentError('it is not a JSON object');
  if (parsed.name !== name) throw new UpstreamDocumentError(`it describes ${JSON.stringify(String(parsed.name).slice(0, 300))}, not ${name}`);
  const versionsIn = parsed.versions === undefined ? {} : parsed.versions;
  if (!isObject(versionsIn)) throw new UpstreamDocumentError('its versions are not an object');
  const versions: Record<string, Json> = {};
  const files = new Map<string, UpstreamTarball>();
  for (const [version, v] of Object.entries(versionsIn)) {
    if (!isObject(v) || v.version !== version || !isObject(v.dist)) continue;
    const { tarball, integrity, shasum } = v.dist;
    if (typeof tarball !== 'string') continue;
    let url: URL;
    try {
      url = new URL(tarball);
    } catch {
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
    const file = fileNameOf(url);
    if (file === undefined || files.has(file)) continue;
    const sri = typeof integrity === 'string' && integrity.split(/\s+/).some((part) => SRI.test(part)) ? integrity : undefined;
    const sha1 = typeof shasum === 'string' && /^[0-9a-f]{40}$/i.test(shasum) ? shasum.toLowerCase() : undefined;
    if (sri === undefined && sha1 === undefined) continue;
    versions[version] = v;
    files.set(file, { version, url: url.href, integrity: sri, shasum: sha1 });
  }
  const tagsIn = isObject(parsed['dist-tags']) ? parsed['dist-tags'] : {};
  const distTags: Record<string, string> = {};
  for (const [tag, version] of Object.entries(tagsIn)) if (typeof version === 'string' && versions[version]) distTags[tag] = version;
  const time: Record<string, string> = {};
  if (isObject(parsed.time)) for (const [k, t] of Object.entries(parsed.time)) if (typeof t === 'string') time[k] = t;
  const { _attachments: _a, ...rest } = parsed;
  const doc: Json = { ...rest, name, 'dist-tags': distTags, versions, time };
  return { doc, files, versionCount: Object.keys(versions).length, modified: time.modified };
}

/** The proxied packument's two shapes, every `dist.tarball` pointing at `base` (`endpointBase`). */
export function proxiedPackuments(upstream: UpstreamPackument, base: string, fallbackModified: string): { full: Json; abbreviated: Json; modified: string } {
  const { doc } = upstream;
  const name = doc.name as string;
  const versions: Record<string, Json> = {};
  const abbreviatedVersions: Record<string, Json> = {};
  for (const [file, { version }] of upstream.files) {
    const v = (doc.versions as Record<string, Json>)[version]!;
    const full: Json = { ...v, dist: { ...(v.dist as Json), tarball: `${base}/${name}/-/${encodeURIComponent(file)}` } };
    versions[version] = full;
    const abbreviated: Json = {};
    for (const field of ABBREVIATED_FIELDS) if (full[field] !== undefined) abbreviated[field] = full[field];
    abbreviatedVersions[version] = abbreviated;
  }
  const modified = upstream.modified ?? fallbackModified;
  const full: Json = { ...doc, versions };
  const abbreviated: Json = { name, modified, 'dist-tags': doc['dist-tags'], versions: abbreviatedVersions, time: doc.time };
  return { full, abbreviated, modified };
}

/** The digest a tarball must have: the strongest algorithm its `integrity` names, else its SHA-1 `shasum`. */
export interface ExpectedDigest {
  readonly algorithm: 'sha512' | 'sha384' | 'sha256' | 'sha1';
  /** Base64 of the digest. */
  readonly base64: string;
  /** As SRI (`sha512-…`), what the cache row records. */
  readonly sri: string;
}

const STRENGTH = { sha1: 1, sha256: 2, sha384: 3, sha512: 4 } as const;

export function expectedDigest(tarball: Pick<UpstreamTarball, 'integrity' | 'shasum'>): ExpectedDigest | undefined {
  let best: ExpectedDigest | undefined;
  for (const part of (tarball.integrity ?? '').split(/\s+/)) {
    if (!SRI.test(part)) continue;
    const dash = part.indexOf('-');
    const algorithm = part.slice(0, dash) as ExpectedDigest['algorithm'];
    if (best === undefined || STRENGTH[algorithm] > STRENGTH[best.algorithm]) best = { algorithm, base64: part.slice(dash + 1), sri: part };
  }
  if (best) return best;
  if (tarball.shasum) {
    const base64 = Buffer.from(tarball.shasum, 'hex').toString('base64');
    return { algorithm: 'sha1', base64, sri: `sha1-${base64}` };
  }
  return undefined;
}
