/** Readiness: whether the database answers, for load balancers (`/-/readiness`). */

/** The database's side of readiness: resolves when a trivial query succeeds, rejects otherwise. */
export interface DatabasePing {
  ping(): Promise<void>;
}

export class HealthService {
  readonly #db: DatabasePing;

  constructor(db: DatabasePing) {
    this.#db = db;
  }

  /** Rejects with the database's error when it is unreachable. */
  async databaseReachable(): Promise<void> {
    await this.#db.ping();
  }
}
