/**
 * Instance-wide application settings (GitLab's `/application/settings`), with defaults and per-key validation.
 * Stored as key → JSON rows, so a new setting needs no migration.
 */
import type { Kysely } from 'kysely';
import { errors } from '../domain/errors.js';
import type { ChangeSignal } from '../storage/db/change-signal.js';
import { FreshMemo } from '../storage/db/fresh-memo.js';
import type { Database } from '../storage/db/schema.js';
import type { SettingsRepository } from '../storage/db/repositories/settings.repository.js';

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
}

export const DEFAULT_SETTINGS: Readonly<ApplicationSettings> = Object.freeze({
  npm_package_requests_forwarding: false,
  npm_package_requests_forwarding_url: 'https://registry.npmjs.org',
  helm_max_packages_count: null,
  npm_max_file_size: 500 * 1024 * 1024,
  helm_max_file_size: 5 * 1024 * 1024,
  helm_chart_overwrite_policy: 'allow',
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
};

export const SETTING_KEYS = Object.keys(VALIDATORS) as (keyof ApplicationSettings)[];

export class SettingsService {
  readonly #db: Kysely<Database>;
  readonly #repo: SettingsRepository;
  // Read by every packument 404 (forwarding) and every index.yaml: remembered until the next write.
  readonly #current: FreshMemo<Readonly<ApplicationSettings>>;
  constructor(db: Kysely<Database>, repo: SettingsRepository, changes: ChangeSignal) {
    this.#db = db;
    this.#repo = repo;
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
  async update(input: unknown): Promise<ApplicationSettings> {
    // GitLab's `at_least_one_of`: a PUT without any parameter is refused; unknown parameters count (and are ignored).
    if (typeof input !== 'object' || input === null || Array.isArray(input) || Object.keys(input).length === 0) {
      throw errors.params([`${SETTING_KEYS.join(', ')} are missing, at least one parameter must be provided`]);
    }
    return this.#update(input as Record<string, unknown>);
  }

  async #update(input: Record<string, unknown>): Promise<ApplicationSettings> {
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
    await this.#repo.put(this.#db, values);
    return this.get();
  }
}
