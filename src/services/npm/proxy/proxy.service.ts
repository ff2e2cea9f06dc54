/**
 * The caching npm proxy (docs/npm-proxy.md, docs/design/npm-proxy.md): what forwarding does in `proxy` mode.
 * Where GitLab's rules would redirect a name Wharf does not hold to the upstream, Wharf serves the upstream's
 * packument and tarballs itself, from its cache when it can.
 *
 * Local always wins (the defence against dependency confusion): the routes only ask for names the endpoint does
 * not hold, and this service refuses on top of that every name any project of this instance holds (so a private
 * name asked for at an endpoint that does not hold it, such as an unscoped name at the instance endpoint, never
 * resolves to a public package of the same name), every name in a scope that is a top-level namespace of this
 * instance (whether or not the name exists), every name on `npm_proxy_deny_list`, and names that are not valid npm
 * names. Refused names are answered exactly as unknown names are with forwarding off.
 */
import type { Clock } from '../../../domain/clock.js';
import { errors } from '../../../domain/errors.js';
import { scopeOf, isValidNpmName } from '../../../domain/npm/names.js';
import { endpointBase, isDenied, type ProxyEndpoint } from '../../../domain/npm/proxy.js';
import type { BlobStore } from '../../blob-store.js';
import { FreshMemo } from '../../fresh-memo.js';
import type { ChangeSignal, Executor } from '../../ports.js';
import type { ApplicationSettings } from '../../settings.service.js';
import { Leases } from './lease.js';
import { ProxyPackuments, type ProxiedPackumentSet, type ProxySettings } from './packuments.js';
import type { LocalNames, LocalScopes, NpmProxyCachePort } from './ports.js';
import { ProxyTarballs, type ProxiedTarball } from './tarballs.js';
import { UpstreamClient } from './upstream-client.js';

export type { ProxiedPackumentSet } from './packuments.js';
export type { ProxiedTarball } from './tarballs.js';

export interface NpmProxyServiceDeps {
  db: Executor;
  store: NpmProxyCachePort;
  blobs: BlobStore;
  clock: Clock;
  changes: ChangeSignal;
  /** Other instances use the same database (PostgreSQL): fetches are then also coordinated through it (`lease.ts`). */
  sharedDatabase: boolean;
  settings: { get(): Promise<Readonly<ApplicationSettings>> };
  localScopes: LocalScopes;
  localNames: LocalNames;
  /** `WHARF_EXTERNAL_URL`: rewritten tarball URLs start with it. */
  externalUrl: string;
  userAgent: string;
  /** Replaces the global fetch (tests). */
  fetch?: typeof fetch;
}

/** What forwarding does now: nothing, GitLab's redirect, or the proxy. */
export type ForwardingMode =
  | { readonly kind: 'off' }
  | { readonly kind: 'redirect'; readonly upstream: string }
  /** With the settings read, so one request reads them once (on PostgreSQL every read is a query). */
  | { readonly kind: 'proxy'; readonly settings: Readonly<ApplicationSettings> };

export class NpmProxyService {
  readonly #d: NpmProxyServiceDeps;
  readonly #packuments: ProxyPackuments;
  readonly #tarballs: ProxyTarballs;
  /** Top-level namespace paths by lower-cased scope, while the database is unchanged. */
  readonly #scopes: FreshMemo<boolean>;
  /** Names some project holds, while the database is unchanged. */
  readonly #names: FreshMemo<boolean>;

  constructor(deps: NpmProxyServiceDeps) {
    this.#d = deps;
    const client = new UpstreamClient({ userAgent: deps.userAgent, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
    const leases = new Leases(deps.db, deps.store, deps.clock, deps.sharedDatabase);
    const common = { db: deps.db, store: deps.store, blobs: deps.blobs, client, clock: deps.clock, leases, changes: deps.changes };
    this.#packuments = new ProxyPackuments(common);
    this.#tarballs = new ProxyTarballs({ ...common, packuments: this.#packuments });
    this.#scopes = new FreshMemo(deps.changes);
    this.#names = new FreshMemo(deps.changes);
  }

  async mode(): Promise<ForwardingMode> {
    const s = await this.#d.settings.get();
    if (!s.npm_package_requests_forwarding) return { kind: 'off' };
    return s.npm_package_requests_forwarding_mode === 'redirect' ? { kind: 'redirect', upstream: s.npm_package_requests_forwarding_url } : { kind: 'proxy', settings: s };
  }

  /** Whether `name` may be fetched from the upstream (the endpoint has already found it does not hold it). */
  async mayProxy(name: string, current?: Readonly<ApplicationSettings>): Promise<boolean> {
    if (!isValidNpmName(name)) return false;
    const settings = current ?? (await this.#d.settings.get());
    if (isDenied(name, settings.npm_proxy_deny_list)) return false;
    const scope = scopeOf(name);
    if (scope !== null && (await this.#scopes.get(scope.toLowerCase(), () => this.#d.localScopes(scope)))) return false;
    return !(await this.#names.get(name, () => this.#d.localNames(name)));
  }

  /** The upstream's packument of `name`, its tarball URLs under `endpoint`; 404 when the upstream has none. */
  async packument(name: string, endpoint: ProxyEndpoint, current?: Readonly<ApplicationSettings>): Promise<ProxiedPackumentSet> {
    const settings = await this.#settings(current);
    const row = await this.#packuments.current(settings, name);
    if (row.status !== 200) throw errors.npmNotFound('Packages');
    return this.#packuments.set(row, endpointBase(this.#d.externalUrl, endpoint), settings);
  }

  /** A tarball of `name` the upstream's packument lists under `fileName`. */
  async tarball(name: string, fileName: string, current?: Readonly<ApplicationSettings>, signal?: AbortSignal): Promise<ProxiedTarball> {
    return this.#tarballs.get(await this.#settings(current), name, fileName, signal);
  }

  /** Drops this process's caches (tests, and an operator's `gc`). */
  clearCache(): void {
    this.#packuments.clearCache();
    this.#tarballs.clearCache();
    this.#scopes.clear();
    this.#names.clear();
  }

  async #settings(current?: Readonly<ApplicationSettings>): Promise<ProxySettings> {
    const s = current ?? (await this.#d.settings.get());
    return {
      upstream: s.npm_package_requests_forwarding_url,
      token: s.npm_proxy_upstream_token,
      ttlSeconds: s.npm_proxy_metadata_ttl,
      offline: s.npm_proxy_offline,
      maxTarballBytes: s.npm_max_file_size,
    };
  }
}
