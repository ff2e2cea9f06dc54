/**
 * GitLab's package registry rate limits (application settings `throttle_unauthenticated_packages_api_*` and
 * `throttle_authenticated_packages_api_*`, both off by default): requests to a package API path are counted in
 * fixed windows of `…_period_in_seconds`, per client address for anonymous callers and per user (or deploy token)
 * for authenticated ones; one over `…_requests_per_period` is answered `429 Retry later` with `Retry-After` and
 * GitLab's `RateLimit-*` headers.
 *
 * The paths are GitLab's (`API_PATH_REGEX`): `/api/v4/packages/<type>…`, `/api/v4/projects/<id>/packages/<type>…`
 * and `/api/v4/groups/<id>/-/packages/<type>…` — the npm and Helm registries, not the packages API's listings —
 * plus Wharf's third door to the same packages, the OCI API (`/v2/…`) and its token endpoint (`/jwt/auth`), counted
 * under the same limits (a client pulling a chart over OCI is a package client like any other; GitLab counts its
 * container registry elsewhere, under its general API throttles). Under `/v2/` the 429 is rendered in the OCI body
 * shape (`TOO_MANY_REQUESTS`) by the error handler, with the same headers.
 *
 * Counting is per process, as a request-rate limit can afford (GitLab counts in Redis): with N instances behind a
 * load balancer a client gets up to N times the limit. Memory is bounded: at most `MAX_KEYS` counters, the oldest
 * dropped first. The settings are re-read at most every `SETTINGS_TTL_MS`, so a change made through another
 * instance applies within that time; while both limits are off, a request pays one comparison.
 *
 * The hot lane (`hot-lane.ts`) answers anonymous reads before routing, where nothing could count them: while the
 * anonymous limit is on, it stands aside (`laneOpen()`), and every request takes the counted way.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Deps } from '../../app-deps.js';
import type { CredentialMode } from '../../domain/access/credentials.js';
import type { Identity } from '../../domain/access/identity.js';
import { errors } from '../../domain/errors.js';

/** GitLab's `Gitlab::Regex::Packages::API_PATH_REGEX`. */
const PACKAGE_API_PATH = /^\/api\/v\d+\/(?:projects\/[^/]+\/|groups?\/[^/]+\/-\/)?packages\/[A-Za-z]+/;
const HELM_PATH = /^\/api\/v\d+\/projects\/[^/]+\/packages\/helm(?:\/|$)/;
/** The OCI API and its token endpoint (docs/design/helm-oci.md#rate-limits). */
const OCI_PATH = /^\/v2(?:\/|$)/;
const TOKEN_PATH = /^\/jwt\/auth$/;

/** The credentials the route at `path` accepts, so the identity counted is the one the route will see. */
const credentialModeFor = (path: string): CredentialMode =>
  OCI_PATH.test(path) ? 'registry' : TOKEN_PATH.test(path) || HELM_PATH.test(path) ? 'basic-only' : 'standard';

/** The path as the router matches it: `/packages/%68elm/…` reaches the Helm routes, so it must be counted as Helm. */
const decodedPath = (url: string): string => {
  const q = url.indexOf('?');
  const raw = q < 0 ? url : url.slice(0, q);
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
};

const SETTINGS_TTL_MS = 5_000;
const MAX_KEYS = 100_000;

interface Limit {
  readonly name: string;
  readonly enabled: boolean;
  readonly requests: number;
  readonly periodMs: number;
}

interface Limits {
  readonly anonymous: Limit;
  readonly authenticated: Limit;
}

interface Counter {
  window: number;
  count: number;
}

export class PackageRateLimits {
  readonly #deps: Deps;
  #limits: Limits | undefined;
  #loadedAt = Number.NEGATIVE_INFINITY;
  #loading: Promise<Limits> | undefined;
  readonly #counters = new Map<string, Counter>();

  constructor(deps: Deps) {
    this.#deps = deps;
  }

  /** Whether the hot lane may answer (no anonymous limit on). Never waits: a stale answer starts a re-read. */
  laneOpen(): boolean {
    if (this.#stale()) void this.#load().catch(() => undefined);
    return this.#limits !== undefined && !this.#limits.anonymous.enabled;
  }

  /** True when a request may need counting: a limit is on, or the settings are due to be read again. */
  mayApply(): boolean {
    const l = this.#limits;
    return l === undefined || this.#stale() || l.anonymous.enabled || l.authenticated.enabled;
  }

  /** Counts the request when it falls under a limit that is on; throws `rateLimited` when it is one too many. */
  async check(request: FastifyRequest): Promise<void> {
    const limits = this.#stale() ? await this.#load() : this.#limits!;
    if (!limits.anonymous.enabled && !limits.authenticated.enabled) return;
    const path = decodedPath(request.url);
    if (!PACKAGE_API_PATH.test(path) && !OCI_PATH.test(path) && !TOKEN_PATH.test(path)) return;
    let identity: Identity;
    try {
      identity = await request.identity(credentialModeFor(path));
    } catch {
      // A bad credential is counted as an anonymous request (GitLab's unauthenticated throttle); the route answers 401.
      identity = { kind: 'anonymous' };
    }
    const limit = identity.kind === 'anonymous' ? limits.anonymous : limits.authenticated;
    if (!limit.enabled) return;
    const key = identity.kind === 'user' ? `u:${identity.userId}` : identity.kind === 'deploy_token' ? `d:${identity.tokenId}` : identity.kind === 'trusted_publisher' ? `t:${identity.publisherId}` : `a:${request.ip}`;
    this.#count(key, limit);
  }

  #count(key: string, limit: Limit): void {
    const now = this.#deps.clock.now().getTime();
    const window = Math.floor(now / limit.periodMs);
    let c = this.#counters.get(key);
    if (c === undefined || c.window !== window) {
      // Re-inserted so that the map's order is the order of last window start: the oldest go first.
      this.#counters.delete(key);
      c = { window, count: 0 };
      this.#counters.set(key, c);
      if (this.#counters.size > MAX_KEYS) this.#counters.delete(this.#counters.keys().next().value!);
    }
    c.count++;
    if (c.count <= limit.requests) return;
    const resetAt = (window + 1) * limit.periodMs;
    throw errors.rateLimited({
      'retry-after': String(Math.max(1, Math.ceil((resetAt - now) / 1000))),
      'ratelimit-name': limit.name,
      'ratelimit-limit': String(limit.requests),
      'ratelimit-observed': String(c.count),
      'ratelimit-remaining': '0',
      'ratelimit-reset': String(Math.ceil(resetAt / 1000)),
      'ratelimit-resettime': new Date(resetAt).toUTCString(),
    });
  }

  #stale(): boolean {
    return this.#deps.clock.now().getTime() - this.#loadedAt > SETTINGS_TTL_MS;
  }

  #load(): Promise<Limits> {
    this.#loading ??= this.#deps.services.settings
      .get()
      .then((s) => {
        const limits: Limits = {
          anonymous: {
            name: 'throttle_unauthenticated_packages_api',
            enabled: s.throttle_unauthenticated_packages_api_enabled,
            requests: s.throttle_unauthenticated_packages_api_requests_per_period,
            periodMs: s.throttle_unauthenticated_packages_api_period_in_seconds * 1000,
          },
          authenticated: {
            name: 'throttle_authenticated_packages_api',
            enabled: s.throttle_authenticated_packages_api_enabled,
            requests: s.throttle_authenticated_packages_api_requests_per_period,
            periodMs: s.throttle_authenticated_packages_api_period_in_seconds * 1000,
          },
        };
        this.#limits = limits;
        this.#loadedAt = this.#deps.clock.now().getTime();
        return limits;
      })
      .finally(() => {
        this.#loading = undefined;
      });
    return this.#loading;
  }
}

/** Counts package API requests before anything else is done with them (identity, body). */
export function registerPackageRateLimits(app: FastifyInstance, limits: PackageRateLimits): void {
  app.addHook('onRequest', (request, _reply, done) => {
    if (!limits.mayApply()) return done();
    limits.check(request).then(() => done(), done);
  });
}
