/**
 * Fetch leases across instances (docs/design/npm-proxy.md#one-fetch-at-a-time): before fetching a packument or a
 * tarball an instance takes the lease on it in the database; another instance that needs the same thing waits for
 * the result instead of fetching it too. A lease is kept alive while its fetch runs and simply expires if its
 * holder dies, so a crash delays the others by at most one lease period.
 *
 * Only where several instances share the database (PostgreSQL). The embedded SQLite belongs to one instance, whose
 * in-process single flight already makes one fetch per name or file: there a lease would only cost two writes per
 * miss (and each write empties the per-process caches and the hot lane), so none is taken.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../domain/clock.js';
import type { Executor } from '../../ports.js';
import type { NpmProxyCachePort } from './ports.js';

/** How long a lease lasts without being renewed; a live fetch renews it every third of this. */
const LEASE_MS = 60_000;
/** How long a waiter waits for another instance's fetch before giving up. */
const MAX_WAIT_MS = 5 * 60_000;

/** The lease on fetching a packument: held while its upstream request runs. */
export const packumentLeaseKey = (upstream: string, name: string): string => `p ${upstream} ${name}`;
/** The lease on downloading a tarball: held until its row is written (gc's eviction skips a file whose lease is held). */
export const tarballLeaseKey = (upstream: string, name: string, fileName: string): string => `t ${upstream} ${name} ${fileName}`;

export interface Lease {
  /** Renews the lease periodically until `release`. */
  keepAlive(): void;
  release(): Promise<void>;
}

/** The lease of an instance that shares its database with no other: always granted, nothing written. */
const UNSHARED: Lease = { keepAlive: () => undefined, release: async () => undefined };

export class Leases {
  readonly #db: Executor;
  readonly #store: NpmProxyCachePort;
  readonly #clock: Clock;
  readonly #shared: boolean;
  /** This process, as a lease owner. */
  readonly #owner = randomUUID();

  /** `shared`: other instances use the same database (PostgreSQL), so leases are taken there. */
  constructor(db: Executor, store: NpmProxyCachePort, clock: Clock, shared: boolean) {
    this.#db = db;
    this.#store = store;
    this.#clock = clock;
    this.#shared = shared;
  }

  async acquire(key: string): Promise<Lease | undefined> {
    if (!this.#shared) return UNSHARED;
    const now = this.#clock.now();
    const got = await this.#store.acquireLease(this.#db, key, this.#owner, now.toISOString(), new Date(now.getTime() + LEASE_MS).toISOString());
    if (!got) return undefined;
    let timer: NodeJS.Timeout | undefined;
    return {
      keepAlive: () => {
        timer ??= setInterval(() => {
          const until = new Date(this.#clock.now().getTime() + LEASE_MS).toISOString();
          this.#store.extendLease(this.#db, key, this.#owner, until).catch(() => undefined);
        }, LEASE_MS / 3);
        timer.unref();
      },
      release: async () => {
        clearInterval(timer);
        await this.#store.releaseLease(this.#db, key, this.#owner);
      },
    };
  }

  /**
   * Waits while another instance holds the lease on `key`, asking `probe` for the result now and then; returns it
   * as soon as there is one, or undefined once the lease is gone without one (or after the longest wait).
   */
  async waitFor<T>(key: string, probe: () => Promise<T | undefined>): Promise<T | undefined> {
    const started = Date.now();
    for (let delay = 25; Date.now() - started < MAX_WAIT_MS; delay = Math.min(delay * 2, 250)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      const found = await probe();
      if (found !== undefined) return found;
      if (!(await this.#store.leaseHeld(this.#db, key, this.#clock.now().toISOString()))) return probe();
    }
    return undefined;
  }
}
