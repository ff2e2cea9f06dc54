/**
 * Instance-wide application settings (GitLab's `/application/settings`), with defaults and per-key validation.
 * Stored as key → JSON rows, so a new setting needs no migration.
 */
import type { Kysely } from 'kysely';
import { errors } from '../domain/errors.js';
import type { ChangeSignal } from '../storage/db/change-signal.js';
import { FreshMemo } from './fresh-memo.js';
import type { Database } from '../storage/db/schema.js';
import type { SettingsRepository } from '../storage/db/repositories/settings.repository.js';
import { contextOf, INSTANCE, type AuditContext } from '../domain/audit.js';
import type { AuditService } from './audit.service.js';

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
  /** The npm proxy serves only what it has cached, and asks the upstream nothing (audits answer `{}`). */
  npm_proxy_offline: boolean;
  /** Sent to the upstream as `Authorization: Bearer <token>`; write-only in the API (see `WRITE_ONLY_SETTINGS`). */
  npm_proxy_upstream_token: string | null;
}

export const DEFAULT_SETTINGS: Readonly<ApplicationSettings> = Object.freeze({
  npm_package_requests_forwarding: false,
  npm_package_requests_forwarding_url: 'https://registry.npmjs.org',
  helm_max_packages_count: null,
  npm_max_file_size: 500 * 1024 * 1024,
  helm_max_file_size: 5 * 1024 * 1024,
  helm_chart_overwrite_policy: 'allow',
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
  npm_proxy_offline: false,
  npm_proxy_upstream_token: null,
});

/** Secrets: accepted by PUT, never shown by GET nor written into an audit event (`<key>_set` says whether one is). */
export const WRITE_ONLY_SETTINGS = ['npm_proxy_upstream_token'] as const satisfies readonly (keyof ApplicationSettings)[];

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

/** A token for an HTTP header: printable ASCII without spaces (a CR or LF would split the header), or null. */
const headerTokenOrNull: Validator = (v) => {
  if (v === null || v === '') return null;
  if (typeof v !== 'string' || v.length > 4096 || !/^[\x21-\x7e]+$/.test(v)) throw new Error('must be a token of printable characters without spaces (at most 4096), or null');
  return v;
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

const VALIDATORS: Record<keyof ApplicationSettings, Validator> = {
  npm_package_requests_forwarding: boolean,
  npm_package_requests_forwarding_url: url,
  helm_max_packages_count: positiveIntOrNull,
  npm_max_file_size: byteSize,
  helm_max_file_size: byteSize,
  helm_chart_overwrite_policy: oneOf('allow', 'require_force', 'deny'),
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
  npm_proxy_offline: boolean,
  npm_proxy_upstream_token: headerTokenOrNull,
};

export const SETTING_KEYS = Object.keys(VALIDATORS) as (keyof ApplicationSettings)[];

export class SettingsService {
  readonly #db: Kysely<Database>;
  readonly #repo: SettingsRepository;
  // Read by every packument 404 (forwarding) and every index.yaml: remembered until the next write.
  readonly #current: FreshMemo<Readonly<ApplicationSettings>>;
  readonly #audit: AuditService;
  constructor(db: Kysely<Database>, repo: SettingsRepository, changes: ChangeSignal, audit: AuditService) {
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
        // A secret's value never reaches the audit log: only whether one is set.
        const shown = (v: unknown) => ((WRITE_ONLY_SETTINGS as readonly string[]).includes(key) ? JSON.stringify(v === null || v === undefined ? 'unset' : 'set') : JSON.stringify(v ?? null));
        await this.#audit.record(trx, audit, {
          name: 'application_setting_updated',
          entity: INSTANCE,
          target: { type: 'ApplicationSetting', id: 1, details: key },
          message: `Changed application setting ${key}`,
          change: { field: key, from: shown(before[key]), to: shown(value) },
        });
      }
    });
    return this.get();
  }
}
