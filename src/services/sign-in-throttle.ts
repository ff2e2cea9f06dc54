/**
 * Wrong-password throttling for every place a password is checked (web sign-in, `npm login`).
 *
 * Two counters, both in the database so that every instance sees every failure: one per login as typed
 * (lower-cased; a username and the account's e-mail count separately, so that the counters cannot reveal which
 * address belongs to which username), one per client address whatever the login. A counter's window starts at its
 * first failure and lasts `failed_login_attempts_unlock_period_in_minutes`; once it holds `max_login_attempts`
 * (per login) or `max_login_attempts_per_address` failures, every attempt for that login, or from that address, is
 * answered `429` with `Retry-After` until the window ends — the right password included, or the lock would tell
 * a guesser when they found it. Unknown logins are counted and locked exactly like known ones, so the lock says
 * nothing about whether an account exists. A right password clears the login's counter (not the address's).
 *
 * Keys are SHA-256 digests, so no typed login or client address is stored.
 */
import { createHash } from 'node:crypto';
import { iso, type Clock } from '../domain/clock.js';
import { errors } from '../domain/errors.js';
import type { Executor } from './ports.js';

/** A failure counter: how many wrong passwords for a key since its window started. */
export interface FailureCount {
  key: string;
  failures: number;
  window_start: string;
}

/** Where the counters live (`SignInFailuresRepository`): shared by every instance. */
export interface SignInFailuresPort {
  /** The counters of `keys` whose window started after `windowFrom` (older windows count as empty). */
  current(db: Executor, keys: readonly string[], windowFrom: string): Promise<FailureCount[]>;
  /** Counts one failure per key, atomically (a window started at or before `windowFrom` starts again at `now`). */
  record(db: Executor, keys: readonly string[], now: string, windowFrom: string): Promise<FailureCount[]>;
  clear(db: Executor, key: string): Promise<void>;
  forgive(db: Executor, key: string): Promise<void>;
  prune(db: Executor, windowFrom: string): Promise<void>;
}

export interface ThrottleSettings {
  get(): Promise<{
    readonly max_login_attempts: number;
    readonly failed_login_attempts_unlock_period_in_minutes: number;
    readonly max_login_attempts_per_address: number;
  }>;
}

export interface SignInThrottleDeps {
  db: Executor;
  failures: SignInFailuresPort;
  settings: ThrottleSettings;
  clock: Clock;
}

const digest = (prefix: string, value: string): string => `${prefix}:${createHash('sha256').update(value).digest('base64url')}`;

/** Ended windows are deleted at most this often per process (a delete by the indexed window start). */
const PRUNE_EVERY_MS = 60_000;

export class SignInThrottle {
  readonly #d: SignInThrottleDeps;
  #prunedAt = 0;
  constructor(deps: SignInThrottleDeps) {
    this.#d = deps;
  }

  /**
   * Runs `attempt` (the password check) unless this login or address is locked; counts a failure when it yields
   * nothing. Throws `signInThrottled` when locked, before any password is hashed.
   */
  async guard<T>(login: string, address: string | undefined, attempt: () => Promise<T | undefined>): Promise<T | undefined> {
    const { db, failures, settings, clock } = this.#d;
    const s = await settings.get();
    const periodMs = s.failed_login_attempts_unlock_period_in_minutes * 60_000;
    const now = clock.now().getTime();
    const windowFrom = iso(new Date(now - periodMs));
    const loginKey = digest('a', login.trim().toLowerCase());
    const addressKey = address ? digest('i', address) : undefined;
    const keys = addressKey ? [loginKey, addressKey] : [loginKey];

    const lockedFor = (counters: readonly { key: string; failures: number; window_start: string }[], over: number): number => {
      let until = 0;
      for (const c of counters) {
        const max = c.key === loginKey ? s.max_login_attempts : s.max_login_attempts_per_address;
        if (c.failures > max - over) until = Math.max(until, Date.parse(c.window_start) + periodMs);
      }
      return until > now ? Math.max(1, Math.ceil((until - now) / 1000)) : 0;
    };
    // Locked already: refuse without writing, so a locked-out guesser neither extends nor grows anything.
    const locked = lockedFor(await failures.current(db, keys, windowFrom), 1);
    if (locked) throw errors.signInThrottled(locked);
    // Count the attempt before checking the password, atomically: guesses sent in parallel (to one instance or to
    // several) cannot all slip in under the limit before any of them is counted.
    const counted = lockedFor(await failures.record(db, keys, iso(new Date(now)), windowFrom), 0);
    if (counted) throw errors.signInThrottled(counted);
    if (now - this.#prunedAt > PRUNE_EVERY_MS) {
      this.#prunedAt = now;
      await failures.prune(db, windowFrom);
    }

    const result = await attempt();
    if (result !== undefined) {
      // The right password: the login starts afresh, and the address gets this attempt back.
      await failures.clear(db, loginKey);
      if (addressKey) await failures.forgive(db, addressKey);
    }
    return result;
  }
}
