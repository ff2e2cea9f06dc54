/**
 * Instance-wide application settings (GitLab's `/application/settings`), with defaults and per-key validation.
 * Stored as key → JSON rows, so a new setting needs no migration.
 */
import { errors } from '../domain/errors.js';
import type { ChangeSignal, Connection, Executor } from './ports.js';
import { FreshMemo } from './fresh-memo.js';
import { contextOf, INSTANCE, type AuditContext } from '../domain/audit.js';
import type { AuditService } from './audit.service.js';
import { isDenyListEntry, MAX_DENY_LIST_ENTRIES } from '../domain/npm/proxy.js';
import { isValidChannel } from '../domain/helm/rules.js';
import { issuerProblem, MAX_ISSUERS, normalizeIssuer } from '../domain/npm/trusted-publishing.js';

export interface ApplicationSettings {
  /** GitLab's setting: unknown npm packages are answered with a redirect to the upstream registry. */
  npm_package_requests_forwarding: boolean;
  /** Where forwarded npm requests go. */
  npm_package_requests_forwarding_url: string;
  /** GitLab caps a Helm channel's index at 1000 charts by default; Wharf does not cap unless asked (null). */
  helm_max_packages_count: number | null;
  /** Largest npm tarball accepted, in bytes (GitLab's plan limit `npm_max_file_size`). */
  npm_max_file_size: number;
  /** Largest chart archive accepted, in bytes (GitLab's plan limit `helm_max_file_size`). */
  helm_max_file_size: number;
  /**
   * A chart version pushed again to a channel: `allow` replaces it (GitLab, newest wins), `require_force` only with
   * `?force` (ChartMuseum, `helm cm-push --force`), `deny` never (409).
   */
  helm_chart_overwrite_policy: 'allow' | 'require_force' | 'deny';
  /**
   * The classic Helm channel the OCI view maps to (docs/helm-oci.md): charts pushed over OCI are listed in its
   * `index.yaml`, and `helm pull oci://` of a classic upload serves the chart this channel holds.
   */
  helm_oci_channel: string;
  /** GitLab's setting: new personal access tokens must expire (omitting `expires_at` gives the longest lifetime). */
  require_personal_access_token_expiry: boolean;
  /** Longest lifetime of a new personal access token, in days (GitLab's setting); null is 365 while expiry is required. */
  max_personal_access_token_lifetime: number | null;
  /** Wrong passwords for one login within the unlock period before sign-in is refused with 429 (GitLab's setting). */
  max_login_attempts: number;
  /** How long the wrong-password window and the lock last, in minutes (GitLab's setting). */
  failed_login_attempts_unlock_period_in_minutes: number;
  /** Wrong passwords from one client address, whatever the login, within the same period (Wharf's own). */
  max_login_attempts_per_address: number;
  /** GitLab's package registry rate limits: anonymous requests per client address... */
  throttle_unauthenticated_packages_api_enabled: boolean;
  throttle_unauthenticated_packages_api_requests_per_period: number;
  throttle_unauthenticated_packages_api_period_in_seconds: number;
  /** ...and authenticated requests per user (or deploy token). */
  throttle_authenticated_packages_api_enabled: boolean;
  throttle_authenticated_packages_api_requests_per_period: number;
  throttle_authenticated_packages_api_period_in_seconds: number;
  /**
   * GitLab's looser rule for npm names: any project of a top-level namespace may publish versions of a name another
   * project of it already holds. Off by default: a name belongs to the first project that published it.
   */
  npm_package_names_shared_across_projects: boolean;
  /** Audit events older than this many days are deleted by garbage collection; null keeps them for ever. */
  audit_events_retention_days: number | null;
  /**
   * What forwarding does with a name Wharf does not hold: `redirect` answers GitLab's 302 to the upstream, `proxy`
   * serves the upstream's packument and tarballs through Wharf and caches them (docs/npm-proxy.md).
   */
  npm_package_requests_forwarding_mode: 'redirect' | 'proxy';
  /** Sent upstream as `Authorization: Bearer …` by the proxy; write-only (the API shows `npm_proxy_upstream_token_set`). */
  npm_proxy_upstream_token: string | null;
  /** Seconds a proxied packument is served before it is revalidated with the upstream (0: every time). */
  npm_proxy_metadata_ttl: number;
  /** Serve only what the proxy has cached; a miss is a 404 that says so. */
  npm_proxy_offline: boolean;
  /** Names (`left-pad`, `@acme/x`) and scopes (`@acme/*`) the proxy never fetches. */
  npm_proxy_deny_list: string[];
  /** Bytes of proxied tarballs `wharf gc` keeps (least recently used out first); null: no limit. */
  npm_proxy_max_cache_bytes: number | null;
  /**
   * OIDC issuers whose ID tokens trusted publishers may be set up for (docs/trusted-publishing.md): `https://` URLs,
   * or `http://` ones listed explicitly (tests, closed networks). Empty: trusted publishing is off.
   */
  trusted_publishing_issuers: string[];
  /**
   * Keys pinned per issuer for sites that cannot reach it: issuer URL → its JWKS (`{"keys": [...]}`, public keys
   * only). A pinned issuer's keys are never fetched.
   */
  trusted_publishing_jwks: Record<string, { keys: Record<string, unknown>[] }>;
}

export const DEFAULT_SETTINGS: Readonly<ApplicationSettings> = Object.freeze({
  npm_package_requests_forwarding: false,
  npm_package_requests_forwarding_url: 'https://registry.npmjs.org',
  helm_max_packages_count: null,
  npm_max_file_size: 500 * 1024 * 1024,
  helm_max_file_size: 5 * 1024 * 1024,
  helm_chart_overwrite_policy: 'allow',
  helm_oci_channel: 'stable',
  require_personal_access_token_expiry: true,
  max_personal_access_token_lifetime: null,
  max_login_attempts: 10,
  failed_login_attempts_unlock_period_in_minutes: 10,
  max_login_attempts_per_address: 50,
  throttle_unauthenticated_packages_api_enabled: false,
  throttle_unauthenticated_packages_api_requests_per_period: 800,
  throttle_unauthenticated_packages_api_period_in_seconds: 15,
  throttle_authenticated_packages_api_enabled: false,
  throttle_authenticated_packages_api_requests_per_period: 1000,
  throttle_authenticated_packages_api_period_in_seconds: 15,
  npm_package_names_shared_across_projects: false,
  audit_events_retention_days: 365,
  npm_package_requests_forwarding_mode: 'proxy',
  npm_proxy_upstream_token: null,
  npm_proxy_metadata_ttl: 300,
  npm_proxy_offline: false,
  npm_proxy_deny_list: Object.freeze([]) as unknown as string[],
  npm_proxy_max_cache_bytes: null,
  trusted_publishing_issuers: Object.freeze([]) as unknown as string[],
  trusted_publishing_jwks: Object.freeze({}) as Record<string, { keys: Record<string, unknown>[] }>,
});

type Validator = (v: unknown) => unknown;
const boolean: Validator = (v) => {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1' || v === 1) return true;
  if (v === 'false' || v === '0' || v === 0) return false;
  throw new Error('is not a boolean');
};
const positiveIntOrNull: Validator = (v) => {
  if (v === null || v === '') return null;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new Error('must be a positive integer, or null for no limit');
  return n;
};
const byteSize: Validator = (v) => {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new Error('must be a positive number of bytes');
  return n;
};
const url: Validator = (v) => {
  if (typeof v !== 'string') throw new Error('must be a URL');
  try {
    const u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('x');
  } catch {
    throw new Error('must be an absolute http(s) URL');
  }
  return v.replace(/\/+$/, '');
};

const intIn =
  (min: number, max: number): Validator =>
  (v) => {
    const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) throw new Error(`must be an integer from ${min} to ${max}`);
    return n;
  };

const oneOf =
  (...allowed: string[]): Validator =>
  (v) => {
    if (typeof v !== 'string' || !allowed.includes(v)) throw new Error(`must be one of ${allowed.join(', ')}`);
    return v;
  };

/** A Helm channel name, as the classic routes' `:channel` accepts it. */
const channelName: Validator = (v) => {
  if (typeof v !== 'string' || !isValidChannel(v)) throw new Error('must be a channel name: letters and digits, with single . - or _ between them');
  return v;
};

/** An upstream token goes into a header: printable ASCII only, so it can never split or inject one. */
const upstreamToken: Validator = (v) => {
  if (v === null || v === '') return null;
  if (typeof v !== 'string') throw new Error('must be a string, or null for none');
  if (v.length > 4096 || !/^[\x21-\x7e]+$/.test(v)) throw new Error('must be at most 4096 printable ASCII characters without spaces');
  return v;
};

/**
 * A list of names and `@scope/*` patterns; a JSON array, or one string separated by commas or new lines (what a
 * form or query string can send). Entries are trimmed and kept once each.
 */
const denyList: Validator = (v) => {
  const items = typeof v === 'string' ? v.split(/[,\n]/) : v;
  if (!Array.isArray(items)) throw new Error('must be an array of package names or @scope/* patterns');
  const out: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string') throw new Error('must be an array of package names or @scope/* patterns');
    const entry = item.trim();
    if (entry === '') continue;
    if (!isDenyListEntry(entry)) throw new Error(`${JSON.stringify(entry.slice(0, 300))} is neither a package name nor an @scope/* pattern`);
    if (!out.includes(entry)) out.push(entry);
  }
  if (out.length > MAX_DENY_LIST_ENTRIES) throw new Error(`may hold at most ${MAX_DENY_LIST_ENTRIES} entries`);
  return out;
};

/** A list of issuer URLs: a JSON array, or one string separated by commas or new lines; kept without trailing `/`. */
const issuerList: Validator = (v) => {
  const items = typeof v === 'string' ? v.split(/[,\n]/) : v;
  if (!Array.isArray(items)) throw new Error('must be an array of issuer URLs');
  const out: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string') throw new Error('must be an array of issuer URLs');
    const entry = item.trim();
    if (entry === '') continue;
    const problem = issuerProblem(entry);
    if (problem) throw new Error(`${JSON.stringify(entry.slice(0, 300))} ${problem}`);
    const issuer = normalizeIssuer(entry);
    if (!out.includes(issuer)) out.push(issuer);
  }
  if (out.length > MAX_ISSUERS) throw new Error(`may hold at most ${MAX_ISSUERS} issuers`);
  return out;
};

/** Private key members of a JWK: a pinned key set holds public keys only. */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];
const MAX_PINNED_KEYS = 20;
const MAX_PINNED_BYTES = 64 * 1024;

/** Issuer URL → JWKS: at most `MAX_ISSUERS` issuers, 20 public keys each, 64 KiB in all; a JSON object or its text. */
const pinnedJwks: Validator = (v) => {
  if (v === null || v === '') return {};
  const value = typeof v === 'string' ? (() => { try { return JSON.parse(v) as unknown; } catch { throw new Error('must be a JSON object'); } })() : v;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('must be an object of issuer URLs to JWKS ({"keys": [...]})');
  if (JSON.stringify(value).length > MAX_PINNED_BYTES) throw new Error(`must be at most ${MAX_PINNED_BYTES} bytes of JSON`);
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_ISSUERS) throw new Error(`may pin keys for at most ${MAX_ISSUERS} issuers`);
  const out: Record<string, { keys: Record<string, unknown>[] }> = {};
  for (const [issuer, jwks] of entries) {
    const problem = issuerProblem(issuer);
    if (problem) throw new Error(`${JSON.stringify(issuer.slice(0, 300))} ${problem}`);
    const keys = (jwks as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_PINNED_KEYS) throw new Error(`${issuer}: must be a JWKS with 1 to ${MAX_PINNED_KEYS} keys`);
    for (const key of keys) {
      if (typeof key !== 'object' || key === null || typeof (key as { kty?: unknown }).kty !== 'string') throw new Error(`${issuer}: every key must be a JWK with kty`);
      if ((key as { kty: string }).kty === 'oct' || PRIVATE_JWK_MEMBERS.some((m) => m in key)) throw new Error(`${issuer}: keys must be public keys (no private or symmetric key material)`);
    }
    out[normalizeIssuer(issuer)] = { keys: keys as Record<string, unknown>[] };
  }
  return out;
};

/** Settings the API accepts but never shows (GET answers `<key>_set: true|false` instead), nor the audit log. */
export const WRITE_ONLY_SETTINGS: ReadonlySet<string> = new Set(['npm_proxy_upstream_token']);

/** The settings as the API shows them: write-only values replaced by whether they are set. */
export function presentSettings(settings: Readonly<ApplicationSettings>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(settings)) {
    if (WRITE_ONLY_SETTINGS.has(key)) out[`${key}_set`] = value !== null && value !== undefined;
    else out[key] = value;
  }
  return out;
}

const VALIDATORS: Record<keyof ApplicationSettings, Validator> = {
  npm_package_requests_forwarding: boolean,
  npm_package_requests_forwarding_url: url,
  helm_max_packages_count: positiveIntOrNull,
  npm_max_file_size: byteSize,
  helm_max_file_size: byteSize,
  helm_chart_overwrite_policy: oneOf('allow', 'require_force', 'deny'),
  helm_oci_channel: channelName,
  require_personal_access_token_expiry: boolean,
  max_personal_access_token_lifetime: (v) => (v === null || v === '' ? null : intIn(1, 365)(v)),
  max_login_attempts: intIn(1, 1000),
  failed_login_attempts_unlock_period_in_minutes: intIn(1, 7 * 24 * 60),
  max_login_attempts_per_address: intIn(1, 100_000),
  throttle_unauthenticated_packages_api_enabled: boolean,
  throttle_unauthenticated_packages_api_requests_per_period: intIn(1, 1_000_000),
  throttle_unauthenticated_packages_api_period_in_seconds: intIn(1, 86_400),
  throttle_authenticated_packages_api_enabled: boolean,
  throttle_authenticated_packages_api_requests_per_period: intIn(1, 1_000_000),
  throttle_authenticated_packages_api_period_in_seconds: intIn(1, 86_400),
  npm_package_names_shared_across_projects: boolean,
  audit_events_retention_days: positiveIntOrNull,
  npm_package_requests_forwarding_mode: oneOf('redirect', 'proxy'),
  npm_proxy_upstream_token: upstreamToken,
  // Up to a day: a longer TTL would hide new upstream releases (and security fixes) for too long.
  npm_proxy_metadata_ttl: intIn(0, 86_400),
  npm_proxy_offline: boolean,
  npm_proxy_deny_list: denyList,
  npm_proxy_max_cache_bytes: positiveIntOrNull,
  trusted_publishing_issuers: issuerList,
  trusted_publishing_jwks: pinnedJwks,
};

/** What the audit log records of a value: write-only ones only as set or not. */
const auditValue = (key: string, value: unknown): string =>
  WRITE_ONLY_SETTINGS.has(key) ? (value === null || value === undefined ? 'null' : '"[set]"') : JSON.stringify(value ?? null);

export const SETTING_KEYS = Object.keys(VALIDATORS) as (keyof ApplicationSettings)[];

/** Stored settings as key → value (`SettingsRepository`); only the keys an administrator set are there. */
export interface SettingsPort {
  all(db: Executor): Promise<Record<string, unknown>>;
  /** Inserts or replaces each key given. */
  put(db: Executor, values: Record<string, unknown>): Promise<void>;
}

export class SettingsService {
  readonly #db: Connection & Executor;
  readonly #repo: SettingsPort;
  // Read by every packument 404 (forwarding) and every index.yaml: remembered until the next write.
  readonly #current: FreshMemo<Readonly<ApplicationSettings>>;
  readonly #audit: AuditService;
  constructor(db: Connection & Executor, repo: SettingsPort, changes: ChangeSignal, audit: AuditService) {
    this.#db = db;
    this.#repo = repo;
    this.#audit = audit;
    this.#current = new FreshMemo(changes, 1);
  }

  async get(): Promise<Readonly<ApplicationSettings>> {
    return this.#current.get('', async () => {
      const stored = await this.#repo.all(this.#db);
      const out: Record<string, unknown> = { ...DEFAULT_SETTINGS };
      for (const key of SETTING_KEYS) if (key in stored) out[key] = stored[key];
      return Object.freeze(out as unknown as ApplicationSettings);
    });
  }

  /** Validates every known key given (unknown GitLab settings are ignored, so GitLab scripts keep working). */
  async update(input: unknown, audit: AuditContext = contextOf(undefined)): Promise<ApplicationSettings> {
    // GitLab's `at_least_one_of`: a PUT without any parameter is refused; unknown parameters count (and are ignored).
    if (typeof input !== 'object' || input === null || Array.isArray(input) || Object.keys(input).length === 0) {
      throw errors.params([`${SETTING_KEYS.join(', ')} are missing, at least one parameter must be provided`]);
    }
    return this.#update(input as Record<string, unknown>, audit);
  }

  async #update(input: Record<string, unknown>, audit: AuditContext): Promise<ApplicationSettings> {
    const problems: Record<string, string[]> = {};
    const values: Record<string, unknown> = {};
    for (const key of SETTING_KEYS) {
      if (!(key in input)) continue;
      try {
        values[key] = VALIDATORS[key](input[key]);
      } catch (err) {
        problems[key] = [(err as Error).message];
      }
    }
    if (Object.keys(problems).length) throw errors.validation(problems);
    const before: Record<string, unknown> = { ...(await this.get()) };
    await this.#db.transaction().execute(async (trx) => {
      await this.#repo.put(trx, values);
      // One event per value that really changed, as GitLab records each changed attribute.
      for (const [key, value] of Object.entries(values)) {
        if (JSON.stringify(before[key]) === JSON.stringify(value)) continue;
        await this.#audit.record(trx, audit, {
          name: 'application_setting_updated',
          entity: INSTANCE,
          target: { type: 'ApplicationSetting', id: 1, details: key },
          message: `Changed application setting ${key}`,
          change: { field: key, from: auditValue(key, before[key]), to: auditValue(key, value) },
        });
      }
    });
    return this.get();
  }
}
